//! `team verify`: over manifests (rendered, or exported from a cluster, with the teams'
//! workloads), proves that every team's guardrails hold, or lists every way they do not:
//!
//! - each team namespace is there, labelled as the team's, and enforces at least the team's Pod
//!   Security level;
//! - each team namespace has a default-deny (NetworkPolicies selecting every pod that allow nothing,
//!   in both directions: what keeps the namespace closed when an allow policy is edited or
//!   deleted), and the connections the manifests allow (palisade-netpol's analysis, the one `netpol verify` runs)
//!   include none between teams that both did not declare and none to or from addresses the teams
//!   did not name (no internet);
//! - no RoleBinding in a team namespace and no ClusterRoleBinding lets an owner write a guardrail:
//!   the built-in `edit`, `admin` and `cluster-admin` by name, and any Role or ClusterRole with a
//!   rule that writes NetworkPolicies, ResourceQuotas, LimitRanges, Namespaces, RBAC objects,
//!   admission webhooks, CRDs or palisade.dev resources (wildcards count).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use palisade_core::path::FieldPath;
use palisade_core::{InputError, Object};
use palisade_diagnostics::{Rule, RuleTable, Severity};
use palisade_netpol::verify::{verify_objects, Kind};
use palisade_pss::Level;

use crate::network;
use crate::rbac::{guardrail_writes, PolicyRule, BUILT_IN_READERS, BUILT_IN_WRITERS};
use crate::render::{PSA, TEAM_LABEL};
use crate::set::{Error, TeamSet};
use crate::spec::{Owner, OwnerKind, Peer, Team};

/// The rules `team verify` checks.
pub const TEAM_RULES: RuleTable = RuleTable {
    domain: "team",
    rules: &[
        Rule {
            code: "team/namespace",
            severity: Severity::High,
            title: "A team namespace is missing or not labelled as its team's",
            help: "Apply the Namespace that `palisade team render` writes (palisade.dev/team: TEAM).",
        },
        Rule {
            code: "team/pod-security",
            severity: Severity::High,
            title: "A team namespace does not enforce the team's Pod Security level",
            help: "Set pod-security.kubernetes.io/enforce to the team's level (or stricter), as `palisade team render` writes it.",
        },
        Rule {
            code: "team/default-deny",
            severity: Severity::High,
            title: "A team namespace does not isolate every pod in both directions",
            help: "Apply the default-deny NetworkPolicy that `palisade team render` writes (podSelector {}, policyTypes Ingress and Egress).",
        },
        Rule {
            code: "team/connection",
            severity: Severity::High,
            title: "The manifests allow a connection the teams did not both declare",
            help: "Remove the NetworkPolicy rule that allows it, or declare it on both sides (one team's egress, the other's ingress) and render again.",
        },
        Rule {
            code: "team/rbac",
            severity: Severity::High,
            title: "A team owner may change a guardrail object",
            help: "Bind owners to the palisade-team-owner Role that `palisade team render` writes, never to edit, admin or cluster-admin.",
        },
    ],
};

fn rule(code: &str) -> &'static Rule {
    // Every code used below is in the table (tested).
    TEAM_RULES
        .get(code)
        .unwrap_or(&TEAM_RULES.rules[TEAM_RULES.rules.len() - 1])
}

/// One broken guardrail.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub rule: &'static Rule,
    /// The team whose guardrail it is.
    pub team: String,
    pub message: String,
    /// Where it is: the manifest (or Team file) and line, when one can be named.
    pub file: Option<Arc<str>>,
    pub line: Option<u32>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            _ => {}
        }
        write!(
            f,
            "{} [{}] team {}: {}",
            self.rule.severity.as_str().to_ascii_uppercase(),
            self.rule.code,
            self.team,
            self.message
        )
    }
}

impl Violation {
    /// The violation in the shape every report shares.
    pub fn diagnostic(&self) -> palisade_diagnostics::Diagnostic {
        let mut location =
            palisade_diagnostics::Location::file(self.file.as_deref().unwrap_or_default());
        if let Some(line) = self.line {
            location = location.line(line);
        }
        palisade_diagnostics::Diagnostic::new(
            self.rule.code,
            self.rule.severity,
            format!("team {}: {}", self.team, self.message),
        )
        .with_fix(self.rule.help)
        .at(location)
        .with_fingerprint(
            "palisadeTeam/v1",
            palisade_diagnostics::sarif::fingerprint(&[self.rule.code, &self.team, &self.message]),
        )
        .with_property("team", self.team.clone())
    }
}

/// What verification found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every violation, sorted by team, rule and message.
    pub violations: Vec<Violation>,
    /// What could not be checked or was assumed (declared connections the manifests do not allow,
    /// namespaces without workloads, stand-ins for the platform's pods).
    pub warnings: Vec<String>,
    pub teams: usize,
    pub namespaces: usize,
    /// Workloads compared by the connectivity analysis.
    pub workloads: usize,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// Every violation as a diagnostic, for the JSON and SARIF reports.
    pub fn diagnostics(&self) -> Vec<palisade_diagnostics::Diagnostic> {
        self.violations.iter().map(Violation::diagnostic).collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for v in &self.violations {
            writeln!(f, "{v}")?;
        }
        let summary = format!(
            "{}, {}, {} compared",
            palisade_diagnostics::count(self.teams, "team", "teams"),
            palisade_diagnostics::count(self.namespaces, "namespace", "namespaces"),
            palisade_diagnostics::count(self.workloads, "workload", "workloads"),
        );
        if self.is_clean() {
            writeln!(f, "every guardrail holds ({summary})")
        } else {
            writeln!(
                f,
                "{} ({summary})",
                palisade_diagnostics::count(self.violations.len(), "violation", "violations")
            )
        }
    }
}

/// Checks `objects` (with the warnings of reading them) against `set`.
pub fn verify(set: &TeamSet, objects: Vec<Object>, warnings: Vec<String>) -> Result<Report, Error> {
    let mut violations = Vec::new();
    namespaces(set, &objects, &mut violations);
    default_deny(set, &objects, &mut violations);
    rbac(set, &objects, &mut violations).map_err(|e| Error::Invalid(vec![e]))?;

    let intent = network::intent(set);
    let netpol = verify_objects(&intent, objects, warnings)?;
    let mut warnings = netpol.warnings.clone();
    warnings.extend(
        netpol
            .unmatched
            .iter()
            .map(|u| format!("{u}: nothing there to check (the namespace's policies still are)")),
    );
    if !netpol.stand_ins.is_empty() {
        warnings.push(format!(
            "stand-in pods for platform workloads the manifests lack: {}",
            netpol.stand_ins.join(", ")
        ));
    }
    for d in &netpol.differences {
        let conns = d.connections.to_string();
        match d.kind {
            Kind::Missing => warnings.push(format!(
                "declared but not allowed: {} => {} : {conns}",
                d.src, d.dst
            )),
            Kind::Excess => violations.push(excess(set, &d.src, &d.dst, &conns)),
        }
    }
    violations.sort_by(|a, b| {
        (&a.team, a.rule.code, &a.message).cmp(&(&b.team, b.rule.code, &b.message))
    });
    violations.dedup();
    Ok(Report {
        violations,
        warnings,
        teams: set.teams.len(),
        namespaces: set.teams.iter().map(|t| t.namespaces.len()).sum(),
        workloads: netpol.workloads,
    })
}

/// The namespace of an analysis key (`ns/name[Kind]`), or `None` for an address block.
fn key_namespace(key: &str) -> Option<&str> {
    if key.ends_with("[External]") {
        return None;
    }
    key.split_once('/').map(|(ns, _)| ns)
}

/// Explains an excess connection: whose guardrail it breaks, and why.
fn excess(set: &TeamSet, src: &str, dst: &str, conns: &str) -> Violation {
    let src_team = key_namespace(src).and_then(|ns| set.owner_of(ns));
    let dst_team = key_namespace(dst).and_then(|ns| set.owner_of(ns));
    let mut file = None;
    let mut line = None;
    let why = match (src_team, dst_team) {
        (Some(a), Some(b)) if a.name != b.name => {
            let egress = declared(a, &a.egress, &b.name);
            let ingress = declared(b, &b.ingress, &a.name);
            match (egress, ingress) {
                (Some((f, l)), None) => {
                    (file, line) = (Some(f), Some(l));
                    format!("team {} declares egress to {}, but team {} declares no ingress from {}: a connection needs both", a.name, b.name, b.name, a.name)
                }
                (None, Some((f, l))) => {
                    (file, line) = (Some(f), Some(l));
                    format!("team {} declares ingress from {}, but team {} declares no egress to {}: a connection needs both", b.name, a.name, a.name, b.name)
                }
                (None, None) => format!("neither team {} nor team {} declares it", a.name, b.name),
                (Some(_), Some(_)) => "more than the ports both teams declared".to_owned(),
            }
        }
        _ if key_namespace(dst).is_none() => {
            "no team declared these addresses (no internet)".to_owned()
        }
        _ if key_namespace(src).is_none() => {
            "no team declared ingress from these addresses".to_owned()
        }
        _ => "no team declared it".to_owned(),
    };
    let team = dst_team
        .filter(|_| key_namespace(src).is_none() || src_team.is_none())
        .or(src_team)
        .or(dst_team)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    Violation {
        rule: rule("team/connection"),
        team,
        message: format!("{src} => {dst} : {conns} is allowed: {why}"),
        file,
        line,
    }
}

/// The file and line of `team`'s rule naming team `other`, if it has one.
fn declared(team: &Team, rules: &[crate::spec::Rule], other: &str) -> Option<(Arc<str>, u32)> {
    rules
        .iter()
        .find(|r| r.peer == Peer::Team(other.to_owned()))
        .map(|r| (team.source.file.clone(), team.source.line(&r.at)))
}

fn violation(
    code: &str,
    team: &Team,
    message: String,
    object: Option<(&Object, &FieldPath)>,
) -> Violation {
    Violation {
        rule: rule(code),
        team: team.name.clone(),
        message,
        file: object.map(|(o, _)| o.source.file.clone()),
        line: object.map(|(o, path)| o.node.line_of(path)),
    }
}

fn namespaces(set: &TeamSet, objects: &[Object], out: &mut Vec<Violation>) {
    let found: BTreeMap<&str, &Object> = objects
        .iter()
        .filter(|o| o.kind == "Namespace" && o.api_version == "v1")
        .map(|o| (o.metadata.name.as_str(), o))
        .collect();
    for team in &set.teams {
        let want = set.level(team);
        for ns in &team.namespaces {
            let Some(object) = found.get(ns.as_str()) else {
                out.push(violation(
                    "team/namespace",
                    team,
                    format!("no Namespace {ns} in the manifests: its labels cannot be checked"),
                    None,
                ));
                continue;
            };
            let labels = &object.metadata.labels;
            let label_path =
                |key: &str| FieldPath::root().field("metadata").field("labels").key(key);
            let owner_path = label_path(TEAM_LABEL);
            if labels.get(TEAM_LABEL) != Some(&team.name) {
                out.push(violation(
                    "team/namespace",
                    team,
                    format!(
                        "Namespace {ns} is labelled {TEAM_LABEL}={}, not {}",
                        labels.get(TEAM_LABEL).map_or("(none)", String::as_str),
                        team.name
                    ),
                    Some((object, &owner_path)),
                ));
            }
            let key = format!("{PSA}/enforce");
            let path = label_path(&key);
            let message = match labels.get(&key).map(|l| l.parse::<Level>()) {
                None => Some(format!(
                    "Namespace {ns} has no {key} label: nothing is enforced"
                )),
                Some(Err(_)) => Some(format!(
                    "Namespace {ns}'s {key} is {:?}, not a level",
                    labels[&key]
                )),
                Some(Ok(level)) if level < want => Some(format!(
                    "Namespace {ns} enforces {level}, looser than the team's {want}"
                )),
                Some(Ok(_)) => None,
            };
            if let Some(message) = message {
                out.push(violation(
                    "team/pod-security",
                    team,
                    message,
                    Some((object, &path)),
                ));
            }
        }
    }
}

/// Whether a NetworkPolicy's podSelector selects every pod.
fn selects_all(policy: &Object) -> bool {
    match policy.node.get("spec").and_then(|s| s.get("podSelector")) {
        None => true,
        Some(sel) if sel.is_null() => true,
        Some(sel) => {
            let empty = |key: &str| {
                sel.get(key).is_none_or(|n| match &n.value {
                    palisade_core::node::Value::Mapping(m) => m.is_empty(),
                    palisade_core::node::Value::Sequence(s) => s.is_empty(),
                    palisade_core::node::Value::Null => true,
                    _ => false,
                })
            };
            sel.is_mapping() && empty("matchLabels") && empty("matchExpressions")
        }
    }
}

/// The directions in which a NetworkPolicy denies everything: its policyTypes (or, as upstream
/// defaults them, Ingress) for which it has no rule.
fn denies(policy: &Object) -> BTreeSet<String> {
    let spec = policy.node.get("spec");
    let types: Option<Vec<String>> = policy
        .typed(&FieldPath::root().field("spec").field("policyTypes"))
        .ok()
        .flatten();
    let has_rules = |key: &str| {
        spec.and_then(|s| s.get(key)).is_some_and(|n| {
            !matches!(&n.value, palisade_core::node::Value::Sequence(s) if s.is_empty())
                && !n.is_null()
        })
    };
    let types = types.unwrap_or_else(|| {
        let mut out = vec!["Ingress".to_owned()];
        if has_rules("egress") {
            out.push("Egress".to_owned());
        }
        out
    });
    types
        .into_iter()
        .filter(|t| match t.as_str() {
            "Ingress" => !has_rules("ingress"),
            "Egress" => !has_rules("egress"),
            _ => false,
        })
        .collect()
}

fn default_deny(set: &TeamSet, objects: &[Object], out: &mut Vec<Violation>) {
    let mut isolated: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for policy in objects
        .iter()
        .filter(|o| o.kind == "NetworkPolicy" && o.group() == "networking.k8s.io")
        .filter(|o| selects_all(o))
    {
        isolated
            .entry(policy.metadata.namespace.as_str())
            .or_default()
            .extend(denies(policy));
    }
    for team in &set.teams {
        for ns in &team.namespaces {
            let have = isolated.get(ns.as_str());
            let missing: Vec<&str> = ["Ingress", "Egress"]
                .into_iter()
                .filter(|d| !have.is_some_and(|h| h.contains(*d)))
                .collect();
            if !missing.is_empty() {
                out.push(violation(
                    "team/default-deny",
                    team,
                    format!(
                        "namespace {ns} has no default-deny: no NetworkPolicy selects every pod and allows nothing for {}",
                        missing.join(" and ")
                    ),
                    None,
                ));
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subject {
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleRef {
    kind: String,
    name: String,
}

/// Whether `subject` is (or includes) `owner`.
fn covers(subject: &Subject, owner: &Owner) -> bool {
    if subject.kind == "Group" {
        let sa = owner.kind == OwnerKind::ServiceAccount;
        let broad = subject.name == "system:authenticated"
            || (sa && subject.name == "system:serviceaccounts")
            || (sa
                && owner
                    .namespace
                    .as_ref()
                    .is_some_and(|ns| subject.name == format!("system:serviceaccounts:{ns}")));
        if broad {
            return true;
        }
    }
    subject.kind == owner.kind.as_str()
        && subject.name == owner.name
        && (owner.kind != OwnerKind::ServiceAccount || subject.namespace == owner.namespace)
}

fn rbac(set: &TeamSet, objects: &[Object], out: &mut Vec<Violation>) -> Result<(), InputError> {
    let rbac_objects = || {
        objects
            .iter()
            .filter(|o| o.group() == "rbac.authorization.k8s.io")
    };
    let rules_path = FieldPath::root().field("rules");
    let mut roles: BTreeMap<(&str, &str), Vec<PolicyRule>> = BTreeMap::new();
    for o in rbac_objects().filter(|o| o.kind == "Role" || o.kind == "ClusterRole") {
        let ns = if o.kind == "Role" {
            o.metadata.namespace.as_str()
        } else {
            ""
        };
        let rules: Vec<PolicyRule> = o.typed(&rules_path)?.unwrap_or_default();
        roles.insert((ns, o.metadata.name.as_str()), rules);
    }
    for binding in
        rbac_objects().filter(|o| o.kind == "RoleBinding" || o.kind == "ClusterRoleBinding")
    {
        let cluster_wide = binding.kind == "ClusterRoleBinding";
        let ns = binding.metadata.namespace.as_str();
        if !cluster_wide && set.owner_of(ns).is_none() {
            continue;
        }
        let subjects: Vec<Subject> = binding
            .typed(&FieldPath::root().field("subjects"))?
            .unwrap_or_default();
        let ref_path = FieldPath::root().field("roleRef");
        let Some(role_ref) = binding.typed::<RoleRef>(&ref_path)? else {
            continue;
        };
        let scope = if cluster_wide {
            "in every namespace".to_owned()
        } else {
            format!("in {ns}")
        };
        let what = format!(
            "{} {}{} binds it to {} {}",
            binding.kind,
            if cluster_wide { "" } else { ns },
            if cluster_wide {
                binding.metadata.name.clone()
            } else {
                format!("/{}", binding.metadata.name)
            },
            role_ref.kind,
            role_ref.name
        );
        let problem = if role_ref.kind == "ClusterRole"
            && BUILT_IN_WRITERS.contains(&role_ref.name.as_str())
        {
            Some(format!(
                "may write guardrails {scope} ({what}, a built-in role that may delete NetworkPolicies)"
            ))
        } else if role_ref.kind == "ClusterRole"
            && BUILT_IN_READERS.contains(&role_ref.name.as_str())
        {
            None
        } else {
            let key = if role_ref.kind == "Role" { ns } else { "" };
            match roles.get(&(key, role_ref.name.as_str())) {
                None => Some(format!(
                    "is bound {scope} to a role the manifests do not contain, so its rules cannot be checked ({what})"
                )),
                Some(rules) => {
                    let writes: Vec<String> = rules.iter().flat_map(guardrail_writes).collect();
                    (!writes.is_empty()).then(|| {
                        format!("may {} {scope} ({what})", writes.join(", "))
                    })
                }
            }
        };
        let Some(problem) = problem else { continue };
        for team in &set.teams {
            if !cluster_wide && !team.namespaces.iter().any(|n| n == ns) {
                continue;
            }
            for owner in &team.owners {
                if subjects.iter().any(|s| covers(s, owner)) {
                    out.push(violation(
                        "team/rbac",
                        team,
                        format!("owner {owner} {problem}"),
                        Some((binding, &ref_path)),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{render, to_yaml};
    use crate::set::tests::{platform, team};

    fn set() -> TeamSet {
        let fraud = team(
            "fraud",
            "[fraud]",
            "[{from: {platform: gateway}, ports: [8080]}, {from: {team: recsys}, ports: [8080]}]",
            "[]",
        );
        let recsys = team(
            "recsys",
            "[recsys]",
            "[]",
            "[{to: {team: fraud}, ports: [8080]}]",
        );
        TeamSet::new(&platform(), vec![fraud, recsys]).unwrap()
    }

    const WORKLOADS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: model, namespace: fraud}
spec:
  selector: {matchLabels: {app: model}}
  template:
    metadata: {labels: {app: model}}
    spec: {containers: [{name: m, image: m}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ranker, namespace: recsys}
spec:
  selector: {matchLabels: {app: ranker}}
  template:
    metadata: {labels: {app: ranker}}
    spec: {containers: [{name: r, image: r}]}
";

    fn objects(text: &str) -> Vec<Object> {
        let (objects, warnings, error) =
            palisade_netpol::load::parse_manifests(&Arc::from("manifests.yaml"), text);
        assert!(
            error.is_none() && warnings.is_empty(),
            "{warnings:?} {error:?}"
        );
        objects
    }

    fn check(set: &TeamSet, text: &str) -> Report {
        verify(set, objects(text), Vec::new()).unwrap()
    }

    #[test]
    fn the_rule_table_is_consistent() {
        assert_eq!(TEAM_RULES.problems(), Vec::<String>::new());
        for code in [
            "team/namespace",
            "team/pod-security",
            "team/default-deny",
            "team/connection",
            "team/rbac",
        ] {
            assert_eq!(rule(code).code, code);
        }
    }

    #[test]
    fn rendered_manifests_hold_every_guardrail() {
        let set = set();
        let text = format!("{}---\n{WORKLOADS}", to_yaml(&render(&set)));
        let report = check(&set, &text);
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.teams, 2);
    }

    #[test]
    fn each_broken_guardrail_is_named() {
        let set = set();
        let rendered = to_yaml(&render(&set));
        let text = format!("{rendered}---\n{WORKLOADS}");

        // A one-sided declaration: recsys no longer declares its egress.
        let one_sided = TeamSet::new(
            &platform(),
            vec![set.teams[0].clone(), team("recsys", "[recsys]", "[]", "[]")],
        )
        .unwrap();
        let report = check(&one_sided, &text);
        let v = &report.violations;
        assert!(v.iter().any(|v| v.rule.code == "team/connection"
            && v.message.contains("team fraud declares ingress from recsys, but team recsys declares no egress to fraud")
            && v.line == Some(9)), "{report}");

        // Owners bound to edit.
        let edit = format!("{text}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: oops, namespace: fraud}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}\nsubjects: [{{kind: Group, name: fraud-ds, apiGroup: rbac.authorization.k8s.io}}]\n");
        let report = check(&set, &edit);
        assert_eq!(report.violations.len(), 1, "{report}");
        assert_eq!(report.violations[0].rule.code, "team/rbac");
        assert!(report.violations[0].message.contains("owner Group fraud-ds may write guardrails in fraud (RoleBinding fraud/oops binds it to ClusterRole edit"), "{report}");

        // A custom role writing NetworkPolicies, through system:authenticated.
        let custom = format!("{text}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: netpol-admin}}\nrules: [{{apiGroups: ['networking.k8s.io'], resources: ['*'], verbs: ['delete']}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: everyone}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: netpol-admin}}\nsubjects: [{{kind: Group, name: 'system:authenticated'}}]\n");
        let report = check(&set, &custom);
        assert_eq!(report.violations.len(), 2, "{report}");
        assert!(
            report.violations[0]
                .message
                .contains("may delete networkpolicies.networking.k8s.io in every namespace"),
            "{report}"
        );

        // The default-deny of recsys deleted.
        let start = text
            .find("  name: default-deny\n  namespace: recsys")
            .unwrap();
        let doc_start = text[..start].rfind("---").unwrap();
        let doc_end = doc_start + 3 + text[doc_start + 3..].find("---").unwrap();
        let no_deny = format!("{}{}", &text[..doc_start], &text[doc_end..]);
        let report = check(&set, &no_deny);
        assert!(report.violations.iter().any(|v| v.rule.code == "team/default-deny" && v.message == "namespace recsys has no default-deny: no NetworkPolicy selects every pod and allows nothing for Ingress and Egress"), "{report}");
        assert_eq!(report.violations.len(), 1, "{report}");

        // A namespace relabelled.
        let loose = text.replace(
            "pod-security.kubernetes.io/enforce: restricted",
            "pod-security.kubernetes.io/enforce: baseline",
        );
        let report = check(&set, &loose);
        assert_eq!(report.violations.len(), 2, "{report}");
        assert!(
            report
                .violations
                .iter()
                .all(|v| v.rule.code == "team/pod-security"
                    && v.message
                        .contains("enforces baseline, looser than the team's restricted")
                    && v.line.is_some()),
            "{report}"
        );
    }
}
