//! The controller's decision, without I/O: from the objects `render` wants (desired), the Teams
//! read from the cluster (each valid or with its validation error) and the objects read from the
//! cluster (observed), which objects to apply, which to delete, which namespaces to keep because
//! they still hold workloads, and each Team's status.
//!
//! The rules, each fail-safe:
//!
//! - An object is **managed** when it carries both `app.kubernetes.io/managed-by: palisade` and
//!   `palisade.dev/team`. Nothing else is ever applied over or deleted: an object with a desired
//!   object's name that is not managed is a conflict, reported in its Team's status (and a
//!   Namespace that is not managed blocks every object in it). `netpol generate`'s output, which
//!   carries the managed-by label but no team, is not managed by the controller.
//! - A desired object that is missing, or whose observed copy is not in sync ([`in_sync`]: the
//!   desired labels and owner, and exactly render's `spec`, `rules`, `roleRef`, `subjects`), is
//!   applied by server-side apply, after a merge patch removing what others added inside those
//!   fields ([`removals`]). When it equals what this controller applied before, it was deleted or edited behind
//!   the controller's back: a **drift repair**.
//! - A managed object that is no longer desired is deleted, unless its team's Team is invalid
//!   (a parse or validation error never deletes anything: its objects are left as they are), or
//!   it is a Namespace that still holds workloads: that namespace is **kept**, and so are the
//!   objects in it while their Team exists (when the Team is gone, the garbage collector removes
//!   them through their owner references, so they are deleted here too).
//! - Namespaces carry no owner reference (the garbage collector would delete a namespace that
//!   holds workloads); every namespaced object has its Team as controlling owner.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use std::sync::Arc;

use serde_json::{json, Value};

use palisade_netpol::generate::{yaml_document, MANAGED_BY};
use palisade_policy::config::PlatformConfig;

use crate::render::{Rendered, KIND_ORDER, TEAM_LABEL};
use crate::set::TeamSet;
use crate::spec::{parse_teams, API_VERSION, KIND};

/// An object's identity: kind, namespace (empty for a Namespace) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(kind: &str, namespace: &str, name: &str) -> Key {
        Key {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of an object as the API returns it.
    pub fn of(value: &Value) -> Key {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        Key {
            kind: text(&value["kind"]),
            namespace: text(&value["metadata"]["namespace"]),
            name: text(&value["metadata"]["name"]),
        }
    }

    fn rank(&self) -> usize {
        KIND_ORDER
            .iter()
            .position(|k| *k == self.kind)
            .unwrap_or(KIND_ORDER.len())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// A Team as read from the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamInput {
    pub name: String,
    pub uid: String,
    pub generation: i64,
    /// Why the Team is invalid (alone, or with the other Teams and the platform).
    pub error: Option<String>,
}

/// What the decision is made from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// `render` of the valid Teams.
    pub desired: &'a [Rendered],
    /// Every Team in the cluster, valid or not.
    pub teams: &'a [TeamInput],
    /// The managed objects in the cluster, and any object with a desired object's key.
    pub observed: &'a [Value],
    /// The workloads in each namespace that may be deleted ([`deletion_candidates`]), as
    /// `Kind name`; a namespace missing here holds none.
    pub workloads: &'a BTreeMap<String, Vec<String>>,
    /// What this controller applied last, per object (the value it sent).
    pub applied: &'a BTreeMap<Key, Value>,
}

/// Why an object is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It is not in the cluster.
    Missing,
    /// It is, with a field that differs from the desired one.
    Differs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Apply {
    pub key: Key,
    pub team: String,
    /// The object to apply: render's, with the owner reference to its Team.
    pub value: Value,
    pub change: Change,
    /// It equals what this controller applied before: deleted or edited behind its back.
    pub drift: bool,
    /// A merge patch removing fields others added inside render's ([`removals`]), sent first.
    pub removals: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub key: Key,
    pub team: String,
}

/// A namespace that would be deleted but still holds workloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub namespace: String,
    pub team: String,
    /// Whether the team's Team still exists (the namespace left its `spec.namespaces`) or is gone.
    pub team_exists: bool,
    pub workloads: Vec<String>,
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = if self.team_exists {
            format!("is no longer in team {}'s spec.namespaces", self.team)
        } else {
            format!("belonged to team {}, which was deleted", self.team)
        };
        write!(
            f,
            "namespace {} {why}, but it still holds workloads ({}): it is kept until they are removed",
            self.namespace,
            summary(&self.workloads)
        )
    }
}

fn summary(workloads: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = workloads
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if workloads.len() > SHOWN {
        text.push_str(&format!(" and {} more", workloads.len() - SHOWN));
    }
    text
}

/// An object the controller would write that it does not manage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub key: Key,
    pub team: String,
    pub message: String,
}

/// A Team's status: `Ready` and `Degraded` (its opposite) with this reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamStatus {
    pub generation: i64,
    pub ready: bool,
    pub reason: String,
    pub message: String,
}

impl TeamStatus {
    pub fn degraded(generation: i64, reason: &str, message: impl Into<String>) -> TeamStatus {
        TeamStatus {
            generation,
            ready: false,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Status reasons.
pub const REASON_RECONCILED: &str = "Reconciled";
pub const REASON_INVALID: &str = "InvalidSpec";
pub const REASON_CONFLICT: &str = "Conflict";
pub const REASON_KEPT: &str = "NamespaceKept";
/// Set by the controller when a write failed.
pub const REASON_APPLY_FAILED: &str = "ApplyFailed";

/// The decision: applies in render's order (Namespaces first), deletes with Namespaces last.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub applies: Vec<Apply>,
    pub deletes: Vec<Delete>,
    pub kept: Vec<Kept>,
    pub conflicts: Vec<Conflict>,
    /// Per Team in the cluster.
    pub status: BTreeMap<String, TeamStatus>,
}

/// Both palisade labels: the controller's to apply and delete.
pub fn is_managed(value: &Value) -> bool {
    let labels = &value["metadata"]["labels"];
    labels[MANAGED_BY.0] == MANAGED_BY.1 && labels[TEAM_LABEL].is_string()
}

fn team_label(value: &Value) -> &str {
    value["metadata"]["labels"][TEAM_LABEL]
        .as_str()
        .unwrap_or_default()
}

/// The label selector of managed objects, for lists and watches.
pub fn managed_selector() -> String {
    format!("{}={},{TEAM_LABEL}", MANAGED_BY.0, MANAGED_BY.1)
}

/// The owner reference a Team's namespaced objects carry.
pub fn owner_reference(team: &TeamInput) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": team.name,
        "uid": team.uid,
        "controller": true,
    })
}

/// Render's object as the controller applies it: with its Team as owner (not for a Namespace).
pub fn with_owner(object: &Rendered, team: Option<&TeamInput>) -> Value {
    let mut value = object.value.clone();
    if let (Some(team), false) = (team, object.kind == "Namespace") {
        if let Some(metadata) = value["metadata"].as_object_mut() {
            metadata.insert("ownerReferences".into(), json!([owner_reference(team)]));
        }
    }
    value
}

/// Whether the object in the cluster is what the controller applies: `metadata` contains the
/// desired labels and owner reference (others may add their own), and every other field render
/// writes (`spec`, `rules`, `roleRef`, `subjects`) is exactly the desired one, so that a rule
/// someone added to a NetworkPolicy is drift. Fields render does not write at all (a
/// Namespace's `spec`, `status`) are the server's.
pub fn in_sync(observed: &Value, desired: &Value) -> bool {
    contains(&observed["metadata"], &desired["metadata"])
        && body(desired).all(|(k, v)| observed.get(k).is_some_and(|o| same(o, v)))
}

fn body(value: &Value) -> impl Iterator<Item = (&String, &Value)> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"))
}

/// Whether `observed` has every field of `desired` with its value. Objects may have more keys;
/// lists must be as long, element by element, except `ownerReferences`, where each desired
/// reference must be among the observed ones.
pub fn contains(observed: &Value, desired: &Value) -> bool {
    contains_at(observed, desired, "")
}

fn contains_at(observed: &Value, desired: &Value, key: &str) -> bool {
    match (desired, observed) {
        (Value::Object(d), Value::Object(o)) => d
            .iter()
            .all(|(k, v)| o.get(k).is_some_and(|ov| contains_at(ov, v, k))),
        (Value::Array(d), Value::Array(o)) if key == "ownerReferences" => d
            .iter()
            .all(|dv| o.iter().any(|ov| contains_at(ov, dv, ""))),
        (Value::Array(d), Value::Array(o)) => {
            d.len() == o.len() && d.iter().zip(o).all(|(dv, ov)| contains_at(ov, dv, ""))
        }
        (Value::Number(d), Value::Number(o)) => d == o || d.as_f64() == o.as_f64(),
        _ => desired == observed,
    }
}

/// Equal, numbers compared by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A JSON merge patch that removes the fields someone added inside what render writes (a
/// server-side apply cannot: another field manager owns them), or `None` when there are none.
/// The controller sends it before the apply.
pub fn removals(observed: &Value, desired: &Value) -> Option<Value> {
    let mut patch = serde_json::Map::new();
    let mut removes = false;
    for (k, v) in body(desired) {
        if let Some(d) = diff(observed.get(k).unwrap_or(&Value::Null), v, &mut removes) {
            patch.insert(k.clone(), d);
        }
    }
    removes.then_some(Value::Object(patch))
}

/// The merge patch that turns `observed` into `desired`.
fn diff(observed: &Value, desired: &Value, removes: &mut bool) -> Option<Value> {
    if same(observed, desired) {
        return None;
    }
    let (Value::Object(o), Value::Object(d)) = (observed, desired) else {
        return Some(desired.clone());
    };
    let mut patch = serde_json::Map::new();
    for (k, v) in d {
        if let Some(change) = diff(o.get(k).unwrap_or(&Value::Null), v, removes) {
            patch.insert(k.clone(), change);
        }
    }
    for k in o.keys().filter(|k| !d.contains_key(*k)) {
        *removes = true;
        patch.insert(k.clone(), Value::Null);
    }
    Some(Value::Object(patch))
}

/// The file name Teams read from the cluster are reported under: `teams/NAME`.
pub fn cluster_file(name: &str) -> String {
    format!("teams/{name}")
}

/// The Teams as the API returns them, each validated alone (the file is `teams/NAME`, the lines
/// those of its `apiVersion`, `kind`, `metadata.name` and `spec` written as YAML), then with the
/// others and the platform: the valid ones as a [`TeamSet`] (what `render` is called on), and
/// every Team as a [`TeamInput`], with its error when it is left out.
pub fn read_teams(platform: &PlatformConfig, objects: &[Value]) -> (TeamSet, Vec<TeamInput>) {
    let mut inputs = Vec::new();
    let mut valid = Vec::new();
    for object in objects {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let mut input = TeamInput {
            name: name.into(),
            uid: object["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .into(),
            generation: object["metadata"]["generation"]
                .as_i64()
                .unwrap_or_default(),
            error: None,
        };
        let document = json!({
            "apiVersion": object["apiVersion"],
            "kind": object["kind"],
            "metadata": {"name": name},
            "spec": object.get("spec").cloned().unwrap_or(Value::Null),
        });
        let text = yaml_document(&document);
        match parse_teams(Arc::from(cluster_file(name)), &text) {
            Ok(teams) => valid.extend(teams),
            Err(e) => input.error = Some(e.to_string()),
        }
        inputs.push(input);
    }
    loop {
        let errors = match TeamSet::new(platform, valid.clone()) {
            Ok(set) => return (set, inputs),
            Err(crate::Error::Invalid(errors)) => errors,
            Err(other) => vec![palisade_core::InputError {
                file: Arc::from("teams"),
                line: None,
                col: None,
                message: other.to_string(),
            }],
        };
        let mut blamed = false;
        for error in &errors {
            let file = error.file.to_string();
            if let Some(input) = inputs
                .iter_mut()
                .find(|i| i.error.is_none() && cluster_file(&i.name) == file)
            {
                input.error = Some(error.to_string());
                blamed = true;
            }
        }
        if !blamed {
            // Not attributable to one Team: none is rendered, nothing is deleted.
            let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>();
            for input in inputs.iter_mut().filter(|i| i.error.is_none()) {
                input.error = Some(message.join("; "));
            }
        }
        valid.retain(|t| inputs.iter().any(|i| i.name == t.name && i.error.is_none()));
    }
}

/// The managed Namespaces that are no longer desired and whose Team is not invalid: the
/// controller looks up their workloads before deciding.
pub fn deletion_candidates(
    desired: &[Rendered],
    teams: &[TeamInput],
    observed: &[Value],
) -> Vec<String> {
    let wanted: BTreeSet<Key> = desired
        .iter()
        .map(|o| Key::new(&o.kind, &o.namespace, &o.name))
        .collect();
    let invalid = invalid_teams(teams);
    let mut out: Vec<String> = observed
        .iter()
        .filter(|v| is_managed(v) && !invalid.contains(team_label(v)))
        .map(Key::of)
        .filter(|k| k.kind == "Namespace" && !wanted.contains(k))
        .map(|k| k.name)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn invalid_teams(teams: &[TeamInput]) -> BTreeSet<&str> {
    teams
        .iter()
        .filter(|t| t.error.is_some())
        .map(|t| t.name.as_str())
        .collect()
}

/// The decision. Pure: the same input gives the same plan.
pub fn plan(input: &Input<'_>) -> Plan {
    let teams: BTreeMap<&str, &TeamInput> =
        input.teams.iter().map(|t| (t.name.as_str(), t)).collect();
    let invalid = invalid_teams(input.teams);
    let mut observed: BTreeMap<Key, &Value> = BTreeMap::new();
    for value in input.observed {
        observed.insert(Key::of(value), value);
    }
    let mut plan = Plan::default();

    // Namespaces the controller may not write into: they exist and are not managed.
    let mut blocked: BTreeSet<&str> = BTreeSet::new();
    let mut wanted: BTreeSet<Key> = BTreeSet::new();
    for object in input.desired {
        let key = Key::new(&object.kind, &object.namespace, &object.name);
        wanted.insert(key.clone());
        let team = teams.get(object.team.as_str()).copied();
        if team.is_none_or(|t| t.error.is_some()) {
            continue; // render only sees valid Teams; nothing is written for any other
        }
        if !object.namespace.is_empty() && blocked.contains(object.namespace.as_str()) {
            continue; // reported once, for the Namespace
        }
        let value = with_owner(object, team);
        let Some(current) = observed.get(&key) else {
            plan.applies.push(Apply {
                drift: input.applied.get(&key) == Some(&value),
                removals: None,
                key,
                team: object.team.clone(),
                value,
                change: Change::Missing,
            });
            continue;
        };
        if !is_managed(current) {
            let message = if key.kind == "Namespace" {
                blocked.insert(object.name.as_str());
                format!("{key} exists and is not managed by palisade: it and everything in it are left alone (label it {}={} and {TEAM_LABEL}={} to hand it over)", MANAGED_BY.0, MANAGED_BY.1, object.team)
            } else {
                format!("{key} exists and is not managed by palisade: it is left alone")
            };
            plan.conflicts.push(Conflict {
                key,
                team: object.team.clone(),
                message,
            });
            continue;
        }
        let owner = team_label(current);
        if owner != object.team && invalid.contains(owner) {
            plan.conflicts.push(Conflict {
                message: format!("{key} belongs to team {owner}, whose Team is invalid: it is left as it is until that Team is fixed"),
                key,
                team: object.team.clone(),
            });
            continue;
        }
        if in_sync(current, &value) {
            continue;
        }
        plan.applies.push(Apply {
            drift: input.applied.get(&key) == Some(&value),
            removals: removals(current, &value),
            key,
            team: object.team.clone(),
            value,
            change: Change::Differs,
        });
    }

    // Managed objects nothing wants any more.
    let mut kept: BTreeSet<&str> = BTreeSet::new();
    let mut leftovers: Vec<(Key, &str)> = Vec::new();
    for (key, value) in &observed {
        if !is_managed(value) || wanted.contains(key) {
            continue;
        }
        let team = team_label(value);
        if invalid.contains(team) {
            continue; // fail safe: an invalid Team's objects stay as they are
        }
        if key.kind == "Namespace" {
            if let Some(workloads) = input.workloads.get(&key.name).filter(|w| !w.is_empty()) {
                kept.insert(key.name.as_str());
                plan.kept.push(Kept {
                    namespace: key.name.clone(),
                    team: team.into(),
                    team_exists: teams.contains_key(team),
                    workloads: workloads.clone(),
                });
                continue;
            }
        }
        leftovers.push((key.clone(), team));
    }
    for (key, team) in leftovers {
        // In a kept namespace, the guardrails stay while their Team does.
        if kept.contains(key.namespace.as_str()) && teams.contains_key(team) {
            continue;
        }
        plan.deletes.push(Delete {
            key,
            team: team.into(),
        });
    }
    plan.deletes
        .sort_by(|a, b| (b.key.rank(), &a.key).cmp(&(a.key.rank(), &b.key)));

    for team in input.teams {
        plan.status
            .insert(team.name.clone(), status_of(team, &plan));
    }
    plan
}

fn status_of(team: &TeamInput, plan: &Plan) -> TeamStatus {
    let generation = team.generation;
    if let Some(error) = &team.error {
        return TeamStatus::degraded(
            generation,
            REASON_INVALID,
            format!("{error} (its objects are left as they are)"),
        );
    }
    let conflicts: Vec<&str> = plan
        .conflicts
        .iter()
        .filter(|c| c.team == team.name)
        .map(|c| c.message.as_str())
        .collect();
    if !conflicts.is_empty() {
        return TeamStatus::degraded(generation, REASON_CONFLICT, conflicts.join("; "));
    }
    let kept: Vec<String> = plan
        .kept
        .iter()
        .filter(|k| k.team == team.name)
        .map(ToString::to_string)
        .collect();
    if !kept.is_empty() {
        return TeamStatus::degraded(generation, REASON_KEPT, kept.join("; "));
    }
    TeamStatus {
        generation,
        ready: true,
        reason: REASON_RECONCILED.into(),
        message: "every object of the team is applied as rendered".into(),
    }
}

/// The `status` of a Team: its `Ready` and `Degraded` conditions with `observedGeneration`.
/// A condition whose status has not changed keeps its `lastTransitionTime` from `previous` (the
/// Team's current `status.conditions`); `now` is an RFC 3339 time.
pub fn status_value(status: &TeamStatus, previous: &Value, now: &str) -> Value {
    let condition = |kind: &str, value: bool| {
        let word = if value { "True" } else { "False" };
        let before = previous
            .as_array()
            .and_then(|list| list.iter().find(|c| c["type"] == kind));
        let since = before
            .filter(|c| c["status"] == word)
            .and_then(|c| c["lastTransitionTime"].as_str())
            .unwrap_or(now);
        json!({
            "type": kind,
            "status": word,
            "observedGeneration": status.generation,
            "lastTransitionTime": since,
            "reason": status.reason,
            "message": status.message,
        })
    };
    json!({
        "observedGeneration": status.generation,
        "conditions": [condition("Ready", status.ready), condition("Degraded", !status.ready)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "fraud";

    type Edit = Box<dyn Fn(&mut Value)>;

    fn labels(team: &str) -> Value {
        json!({MANAGED_BY.0: MANAGED_BY.1, TEAM_LABEL: team})
    }

    fn rendered(team: &str, kind: &str, namespace: &str, name: &str, spec: Value) -> Rendered {
        let mut metadata = json!({"name": name, "labels": labels(team)});
        if !namespace.is_empty() {
            metadata["namespace"] = json!(namespace);
        }
        let mut value = json!({"apiVersion": "v1", "kind": kind, "metadata": metadata});
        if !spec.is_null() {
            value["spec"] = spec;
        }
        Rendered {
            team: team.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            value,
        }
    }

    fn team(name: &str) -> TeamInput {
        TeamInput {
            name: name.into(),
            uid: format!("uid-{name}"),
            generation: 3,
            error: None,
        }
    }

    fn invalid(name: &str) -> TeamInput {
        TeamInput {
            error: Some(format!(
                "teams/{name}:4: spec.podSecurity.level: invalid level"
            )),
            ..team(name)
        }
    }

    /// The desired objects of team fraud: a Namespace and a NetworkPolicy in it.
    fn desired() -> Vec<Rendered> {
        vec![
            rendered("fraud", "Namespace", "", NS, Value::Null),
            rendered(
                "fraud",
                "NetworkPolicy",
                NS,
                "default-deny",
                json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            ),
        ]
    }

    /// What the API server returns for an applied object: more fields than were applied.
    fn as_served(value: &Value) -> Value {
        let mut served = value.clone();
        served["metadata"]["uid"] = json!("u-1");
        served["metadata"]["resourceVersion"] = json!("7");
        served["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!("x");
        served["status"] = json!({"phase": "Active"});
        served
    }

    fn served_desired(teams: &[TeamInput]) -> Vec<Value> {
        desired()
            .iter()
            .map(|o| as_served(&with_owner(o, teams.iter().find(|t| t.name == o.team))))
            .collect()
    }

    fn run(
        desired: &[Rendered],
        teams: &[TeamInput],
        observed: &[Value],
        workloads: &[(&str, &[&str])],
        applied: &BTreeMap<Key, Value>,
    ) -> Plan {
        let workloads: BTreeMap<String, Vec<String>> = workloads
            .iter()
            .map(|(ns, w)| (ns.to_string(), w.iter().map(|s| s.to_string()).collect()))
            .collect();
        plan(&Input {
            desired,
            teams,
            observed,
            workloads: &workloads,
            applied,
        })
    }

    fn keys<T>(items: &[T], key: impl Fn(&T) -> &Key) -> Vec<String> {
        items.iter().map(|i| key(i).to_string()).collect()
    }

    #[test]
    fn missing_objects_are_created_namespaces_first_with_owner_references_on_namespaced_ones() {
        let teams = [team("fraud")];
        let plan = run(&desired(), &teams, &[], &[], &BTreeMap::new());
        assert_eq!(
            keys(&plan.applies, |a| &a.key),
            ["Namespace fraud", "NetworkPolicy fraud/default-deny"]
        );
        assert!(plan
            .applies
            .iter()
            .all(|a| a.change == Change::Missing && !a.drift));
        assert!(plan.applies[0].value["metadata"]
            .get("ownerReferences")
            .is_none());
        assert_eq!(
            plan.applies[1].value["metadata"]["ownerReferences"],
            json!([{"apiVersion": "palisade.dev/v1alpha1", "kind": "Team", "name": "fraud", "uid": "uid-fraud", "controller": true}])
        );
        assert!(plan.deletes.is_empty() && plan.kept.is_empty() && plan.conflicts.is_empty());
        assert_eq!(plan.status["fraud"].reason, REASON_RECONCILED);
        assert!(plan.status["fraud"].ready);
        assert_eq!(plan.status["fraud"].generation, 3);
    }

    #[test]
    fn objects_equal_to_the_desired_ones_are_left_alone_whatever_the_server_added() {
        let teams = [team("fraud")];
        let plan = run(
            &desired(),
            &teams,
            &served_desired(&teams),
            &[],
            &BTreeMap::new(),
        );
        assert_eq!(plan, {
            let mut p = Plan::default();
            p.status.insert(
                "fraud".into(),
                TeamStatus {
                    generation: 3,
                    ready: true,
                    reason: REASON_RECONCILED.into(),
                    message: "every object of the team is applied as rendered".into(),
                },
            );
            p
        });
    }

    /// Every combination of "was it applied before" and "what the cluster holds": missing,
    /// equal, edited (a field changed, a rule added, a label removed, the owner reference gone).
    #[test]
    fn drift_is_an_object_deleted_or_edited_after_this_controller_applied_it() {
        let teams = [team("fraud")];
        let served = served_desired(&teams);
        let np = Key::new("NetworkPolicy", NS, "default-deny");
        let applied_np = with_owner(&desired()[1], Some(&teams[0]));
        let edits: Vec<(&str, Edit)> = vec![
            ("deleted", Box::new(|_| {})),
            (
                "equal",
                Box::new(|v: &mut Value| v["metadata"]["annotations"] = json!({"x": "y"})),
            ),
            (
                "label and annotation added",
                Box::new(|v: &mut Value| v["metadata"]["labels"]["extra"] = json!("1")),
            ),
            (
                "field changed",
                Box::new(|v: &mut Value| v["spec"]["policyTypes"] = json!(["Ingress"])),
            ),
            (
                "rule added",
                Box::new(|v: &mut Value| v["spec"]["ingress"] = json!([{}])),
            ),
            (
                "podSelector narrowed",
                Box::new(|v: &mut Value| {
                    v["spec"]["podSelector"] = json!({"matchLabels": {"a": "b"}})
                }),
            ),
            (
                "team label removed... then not managed",
                Box::new(|v: &mut Value| {
                    v["metadata"]["labels"][MANAGED_BY.0] = json!("someone-else")
                }),
            ),
            (
                "owner reference removed",
                Box::new(|v: &mut Value| {
                    v["metadata"]
                        .as_object_mut()
                        .unwrap()
                        .remove("ownerReferences");
                }),
            ),
            (
                "another owner reference added",
                Box::new(|v: &mut Value| {
                    v["metadata"]["ownerReferences"]
                        .as_array_mut()
                        .unwrap()
                        .insert(0, json!({"kind": "Other", "uid": "o"}))
                }),
            ),
        ];
        for (what, edit) in &edits {
            for applied_before in [false, true] {
                let mut observed = served.clone();
                if *what == "deleted" {
                    observed.pop();
                } else {
                    edit(&mut observed[1]);
                }
                let applied = if applied_before {
                    BTreeMap::from([(np.clone(), applied_np.clone())])
                } else {
                    BTreeMap::new()
                };
                let plan = run(&desired(), &teams, &observed, &[], &applied);
                let case = format!("{what}, applied before: {applied_before}: {plan:#?}");
                match *what {
                    "equal" | "label and annotation added" | "another owner reference added" => {
                        assert!(plan.applies.is_empty(), "{case}")
                    }
                    "team label removed... then not managed" => {
                        assert!(plan.applies.is_empty(), "{case}");
                        assert_eq!(keys(&plan.conflicts, |c| &c.key), [np.to_string()]);
                        assert_eq!(plan.status["fraud"].reason, REASON_CONFLICT, "{case}");
                    }
                    _ => {
                        assert_eq!(keys(&plan.applies, |a| &a.key), [np.to_string()], "{case}");
                        let apply = &plan.applies[0];
                        assert_eq!(apply.drift, applied_before, "{case}");
                        assert_eq!(
                            apply.change,
                            if *what == "deleted" {
                                Change::Missing
                            } else {
                                Change::Differs
                            },
                            "{case}"
                        );
                        assert_eq!(apply.value, applied_np, "{case}");
                        let removals = match *what {
                            "rule added" => Some(json!({"spec": {"ingress": null}})),
                            // An apply of `podSelector: {}` would not remove their labels.
                            "podSelector narrowed" => {
                                Some(json!({"spec": {"podSelector": {"matchLabels": null}}}))
                            }
                            _ => None,
                        };
                        assert_eq!(apply.removals, removals, "{case}");
                        assert!(plan.status["fraud"].ready, "{case}");
                    }
                }
                assert!(plan.deletes.is_empty(), "{case}");
            }
        }
        // What was applied before differs from what is desired now (the Team changed): an
        // update, not a repair.
        let mut old = applied_np.clone();
        old["spec"]["policyTypes"] = json!(["Ingress"]);
        let mut observed = served.clone();
        observed[1]["spec"]["policyTypes"] = json!(["Ingress"]);
        let plan = run(
            &desired(),
            &teams,
            &observed,
            &[],
            &BTreeMap::from([(np, old)]),
        );
        assert!(!plan.applies[0].drift);
    }

    #[test]
    fn removals_null_what_others_added_inside_renders_fields_only() {
        let desired = json!({"kind": "Role", "metadata": {"name": "r"}, "rules": [{"verbs": ["get"]}], "spec": {"a": {"b": 1}}});
        let observed = json!({"kind": "Role", "metadata": {"name": "r", "uid": "u"}, "status": {}, "rules": [{"verbs": ["get"], "x": 1}], "spec": {"a": {"b": 1.0, "c": 2}, "d": 3}});
        assert!(!in_sync(&observed, &desired));
        assert_eq!(
            removals(&observed, &desired),
            Some(json!({"rules": [{"verbs": ["get"]}], "spec": {"a": {"c": null}, "d": null}}))
        );
        // A changed value needs no removal: the forced apply sets it.
        let changed = json!({"kind": "Role", "metadata": {"name": "r"}, "rules": [{"verbs": ["list"]}], "spec": {"a": {"b": 2}}});
        assert_eq!(removals(&changed, &desired), None);
        // A Namespace's spec and status are the server's.
        let ns = json!({"kind": "Namespace", "metadata": {"name": "n", "labels": {"a": "b"}}});
        let served = json!({"kind": "Namespace", "metadata": {"name": "n", "labels": {"a": "b", "c": "d"}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        assert!(in_sync(&served, &ns));
        assert_eq!(removals(&served, &ns), None);
    }

    #[test]
    fn numbers_compare_by_value_and_lists_element_by_element() {
        assert!(contains(&json!({"a": 1.0, "b": 2}), &json!({"a": 1})));
        assert!(!contains(&json!({"a": [1, 2]}), &json!({"a": [1]})));
        assert!(contains(
            &json!({"a": [{"x": 1, "y": 2}]}),
            &json!({"a": [{"x": 1}]})
        ));
        assert!(!contains(&json!({"a": "1"}), &json!({"a": 1})));
        assert!(!contains(&json!({}), &json!({"a": null})));
        assert!(contains(&json!({"a": {}}), &json!({"a": {}})));
    }

    /// Objects of a deleted Team, and of a namespace a Team no longer lists, with and without
    /// workloads in the namespace.
    #[test]
    fn objects_nothing_wants_are_deleted_but_a_namespace_with_workloads_is_kept() {
        let fraud = team("fraud");
        let observed = served_desired(std::slice::from_ref(&fraud));
        for team_exists in [false, true] {
            for workloads in [&[][..], &["Pod server-0", "Deployment server"][..]] {
                let teams = if team_exists {
                    vec![fraud.clone()]
                } else {
                    vec![]
                };
                // Nothing desired: the Team is gone, or lists other namespaces only.
                let plan = run(&[], &teams, &observed, &[(NS, workloads)], &BTreeMap::new());
                let case =
                    format!("team exists: {team_exists}, workloads: {workloads:?}: {plan:#?}");
                assert!(plan.applies.is_empty(), "{case}");
                assert_eq!(deletion_candidates(&[], &teams, &observed), [NS], "{case}");
                match (workloads.is_empty(), team_exists) {
                    (true, _) => {
                        // Namespaced objects first, the Namespace last.
                        assert_eq!(
                            keys(&plan.deletes, |d| &d.key),
                            ["NetworkPolicy fraud/default-deny", "Namespace fraud"],
                            "{case}"
                        );
                        assert!(plan.kept.is_empty(), "{case}");
                    }
                    (false, exists) => {
                        assert_eq!(plan.kept.len(), 1, "{case}");
                        let kept = &plan.kept[0];
                        assert_eq!(kept.namespace, NS);
                        assert_eq!(kept.team_exists, exists);
                        assert!(
                            kept.to_string().contains(
                                "still holds workloads (Pod server-0, Deployment server)"
                            ),
                            "{kept}"
                        );
                        // The guardrails stay while their Team does (the garbage collector
                        // removes a deleted Team's dependents).
                        let expected: &[&str] = if exists {
                            &[]
                        } else {
                            &["NetworkPolicy fraud/default-deny"]
                        };
                        assert_eq!(keys(&plan.deletes, |d| &d.key), expected, "{case}");
                    }
                }
                if team_exists {
                    let status = &plan.status["fraud"];
                    assert_eq!(status.ready, workloads.is_empty(), "{case}");
                    if !workloads.is_empty() {
                        assert_eq!(status.reason, REASON_KEPT);
                        assert!(
                            status
                                .message
                                .contains("is no longer in team fraud's spec.namespaces"),
                            "{case}"
                        );
                    }
                } else {
                    assert!(plan.status.is_empty(), "{case}");
                }
            }
        }
        let kept = Kept {
            namespace: "a".into(),
            team: "t".into(),
            team_exists: false,
            workloads: (0..5).map(|i| format!("Pod p{i}")).collect(),
        };
        assert_eq!(kept.to_string(), "namespace a belonged to team t, which was deleted, but it still holds workloads (Pod p0, Pod p1, Pod p2 and 2 more): it is kept until they are removed");
    }

    #[test]
    fn objects_not_managed_by_palisade_are_never_touched() {
        let teams = [team("fraud")];
        let unmanaged = |v: &Value, labels: Value| {
            let mut v = as_served(v);
            v["metadata"]["labels"] = labels;
            v.as_object_mut().unwrap().remove("spec");
            v
        };
        let d = desired();
        // netpol generate's output: managed-by palisade, no team. A user's object: no labels.
        for labels in [
            json!({MANAGED_BY.0: MANAGED_BY.1}),
            json!({}),
            json!({TEAM_LABEL: "fraud"}),
        ] {
            // The same name as a desired NetworkPolicy: a conflict, not an apply.
            let observed = vec![
                as_served(&with_owner(&d[0], Some(&teams[0]))),
                unmanaged(&d[1].value, labels.clone()),
            ];
            let plan = run(&d, &teams, &observed, &[], &BTreeMap::new());
            assert!(plan.applies.is_empty(), "{labels}: {plan:#?}");
            assert!(plan.deletes.is_empty());
            assert_eq!(plan.conflicts.len(), 1);
            assert_eq!(
                plan.conflicts[0].message,
                "NetworkPolicy fraud/default-deny exists and is not managed by palisade: it is left alone"
            );
            assert_eq!(plan.status["fraud"].reason, REASON_CONFLICT);
            assert!(!plan.status["fraud"].ready);
            // Not desired at all: never deleted, whatever its name.
            let mut other = unmanaged(&d[1].value, labels.clone());
            other["metadata"]["name"] = json!("mine");
            let plan = run(&[], &[], &[other], &[], &BTreeMap::new());
            assert_eq!(plan, Plan::default());
        }
        // A Namespace that exists unmanaged blocks every object in it.
        let observed = vec![unmanaged(&d[0].value, json!({}))];
        let plan = run(&d, &teams, &observed, &[], &BTreeMap::new());
        assert!(plan.applies.is_empty(), "{plan:#?}");
        assert_eq!(keys(&plan.conflicts, |c| &c.key), ["Namespace fraud"]);
        assert!(plan.conflicts[0]
            .message
            .contains("it and everything in it are left alone (label it app.kubernetes.io/managed-by=palisade and palisade.dev/team=fraud to hand it over)"));
    }

    #[test]
    fn an_invalid_team_gets_degraded_and_its_objects_are_left_as_they_are() {
        let teams = [invalid("fraud")];
        let mut observed = served_desired(&[team("fraud")]);
        observed[1]["spec"]["policyTypes"] = json!(["Ingress"]); // even drifted
        for workloads in [&[][..], &["Pod p"][..]] {
            // render skips the invalid Team: nothing is desired.
            let plan = run(&[], &teams, &observed, &[(NS, workloads)], &BTreeMap::new());
            assert!(
                plan.applies.is_empty() && plan.deletes.is_empty() && plan.kept.is_empty(),
                "{plan:#?}"
            );
            assert!(deletion_candidates(&[], &teams, &observed).is_empty());
            let status = &plan.status["fraud"];
            assert!(!status.ready);
            assert_eq!(status.reason, REASON_INVALID);
            assert_eq!(
                status.message,
                "teams/fraud:4: spec.podSecurity.level: invalid level (its objects are left as they are)"
            );
        }
        // Desired objects attributed to an invalid team are not applied either.
        let plan = run(&desired(), &teams, &[], &[], &BTreeMap::new());
        assert!(plan.applies.is_empty());
        // Another team taking over a namespace labelled for the invalid team leaves it.
        let recsys = team("recsys");
        let mut takeover = desired();
        for o in &mut takeover {
            o.team = "recsys".into();
            o.value["metadata"]["labels"][TEAM_LABEL] = json!("recsys");
        }
        let plan = run(
            &takeover,
            &[invalid("fraud"), recsys],
            &observed,
            &[],
            &BTreeMap::new(),
        );
        assert!(plan.applies.is_empty(), "{plan:#?}");
        assert_eq!(plan.conflicts.len(), 2);
        assert!(plan.conflicts[0]
            .message
            .contains("belongs to team fraud, whose Team is invalid"));
        assert_eq!(plan.status["recsys"].reason, REASON_CONFLICT);
    }

    #[test]
    fn a_managed_object_of_another_valid_team_is_taken_over() {
        let teams = [team("fraud"), team("recsys")];
        let mut observed = served_desired(&teams);
        for o in &mut observed {
            o["metadata"]["labels"][TEAM_LABEL] = json!("recsys");
        }
        let plan = run(&desired(), &teams, &observed, &[], &BTreeMap::new());
        assert_eq!(plan.applies.len(), 2, "{plan:#?}");
        assert!(plan.applies.iter().all(|a| a.change == Change::Differs));
        assert!(plan.deletes.is_empty());
    }

    #[test]
    fn the_status_keeps_transition_times_while_a_condition_holds() {
        let ready = TeamStatus {
            generation: 2,
            ready: true,
            reason: REASON_RECONCILED.into(),
            message: "ok".into(),
        };
        let first = status_value(&ready, &Value::Null, "2025-01-01T00:00:00Z");
        assert_eq!(first["observedGeneration"], 2);
        assert_eq!(
            first["conditions"][0],
            json!({"type": "Ready", "status": "True", "observedGeneration": 2, "lastTransitionTime": "2025-01-01T00:00:00Z", "reason": "Reconciled", "message": "ok"})
        );
        assert_eq!(first["conditions"][1]["type"], "Degraded");
        assert_eq!(first["conditions"][1]["status"], "False");
        let again = status_value(&ready, &first["conditions"], "2025-02-02T00:00:00Z");
        assert_eq!(again, first);
        let bad = TeamStatus::degraded(3, REASON_INVALID, "x");
        let later = status_value(&bad, &first["conditions"], "2025-03-03T00:00:00Z");
        assert_eq!(later["conditions"][0]["status"], "False");
        assert_eq!(
            later["conditions"][0]["lastTransitionTime"],
            "2025-03-03T00:00:00Z"
        );
        assert_eq!(later["conditions"][1]["status"], "True");
        assert_eq!(later["conditions"][1]["reason"], "InvalidSpec");
        assert_eq!(later["observedGeneration"], 3);
    }

    #[test]
    fn teams_from_the_cluster_are_validated_alone_and_together() {
        use crate::set::tests::platform;
        let object = |name: &str, spec: Value| {
            json!({"apiVersion": "palisade.dev/v1alpha1", "kind": "Team",
                   "metadata": {"name": name, "uid": format!("u-{name}"), "generation": 4,
                                "resourceVersion": "9", "managedFields": [{"manager": "kubectl"}]},
                   "spec": spec, "status": {"conditions": []}})
        };
        let objects = [
            object("fraud", json!({"namespaces": ["fraud"]})),
            object(
                "bad",
                json!({"namespaces": ["bad"], "podSecurity": {"level": "strict"}}),
            ),
            // Claims fraud's namespace: invalid together with fraud (the later name is blamed).
            object("grab", json!({"namespaces": ["fraud", "grab"]})),
            object("ok", json!({"namespaces": ["ok"], "quota": {"pods": 10}})),
        ];
        let (set, inputs) = read_teams(&platform(), &objects);
        let names: Vec<&str> = set.teams.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["fraud", "ok"]);
        assert_eq!(inputs.len(), 4);
        assert_eq!(
            inputs[0],
            TeamInput {
                name: "fraud".into(),
                uid: "u-fraud".into(),
                generation: 4,
                error: None
            }
        );
        let bad = inputs[1].error.as_deref().unwrap();
        assert!(
            bad.starts_with("teams/bad:") && bad.contains("spec.podSecurity.level"),
            "{bad}"
        );
        let grab = inputs[2].error.as_deref().unwrap();
        assert!(
            grab.contains("namespace fraud is already claimed by team fraud"),
            "{grab}"
        );
        assert_eq!(inputs[3].error, None);
        // No Team at all is a valid, empty set.
        let (set, inputs) = read_teams(&platform(), &[]);
        assert!(set.teams.is_empty() && inputs.is_empty());
    }

    #[test]
    fn the_plan_of_a_real_render_converges() {
        use crate::set::tests::{platform, team as spec_team};
        use crate::{render, TeamSet};
        let fraud = spec_team(
            "fraud",
            "[fraud, fraud-batch]",
            "[{from: {platform: gateway}, ports: [8080]}]",
            "[]",
        );
        let set = TeamSet::new(&platform(), vec![fraud]).unwrap();
        let objects = render(&set);
        let teams = [team("fraud")];
        let first = run(&objects, &teams, &[], &[], &BTreeMap::new());
        assert_eq!(first.applies.len(), objects.len());
        let applied: BTreeMap<Key, Value> = first
            .applies
            .iter()
            .map(|a| (a.key.clone(), a.value.clone()))
            .collect();
        let observed: Vec<Value> = first.applies.iter().map(|a| as_served(&a.value)).collect();
        let second = run(&objects, &teams, &observed, &[], &applied);
        assert!(
            second.applies.is_empty() && second.deletes.is_empty(),
            "{second:#?}"
        );
        assert!(observed.iter().all(is_managed));
        assert_eq!(
            managed_selector(),
            "app.kubernetes.io/managed-by=palisade,palisade.dev/team"
        );
    }
}
