//! The audit engine: objects in, reports out. The CLI's `audit` and (later) the admission webhook
//! both call this, so CI and the cluster reach the same verdict.

use std::collections::HashMap;

use palisade_core::path::FieldPath;
use palisade_core::report::{ObjectReport, Outcome};
use palisade_core::{pod_templates, Finding, InputError, Object, ObjectRef, PodTemplate, Workload};
use palisade_pss::{evaluate, Evaluation, LevelVersion, Location, Subject};

use crate::config::{Config, Exemptions, RulesConfig};
use crate::namespace::NamespacePolicy;
use crate::rules::{check_rules, RuleViolation};

/// What auditing one object gave.
#[derive(Debug)]
pub enum AuditOutcome {
    /// The object's kind runs no pods.
    Skipped { kind: String },
    /// A workload (or a Namespace, which is recorded and reported like one with nothing to check).
    Report(ObjectReport),
}

/// Checks beyond Pod Security and palisade's rules (the platform's own policies, `audit
/// --policy`), run on every object in the audit's one pass: each file is read and parsed once,
/// and their findings join the object's report.
pub trait ObjectChecks: Sync {
    /// The findings for `object`; `namespace` is the Namespace object it would be created in
    /// (`default` when it names none), when the inputs have it.
    fn check(&self, object: &Object, namespace: Option<&Object>) -> Vec<Finding>;
}

/// Evaluates objects against the Pod Security Standards at their namespace's level.
#[derive(Debug, Clone)]
pub struct Auditor {
    defaults: LevelVersion,
    exemptions: Exemptions,
    rules: RulesConfig,
    namespaces: HashMap<String, NamespacePolicy>,
    /// The Namespace objects of the inputs, for [`ObjectChecks`].
    namespace_objects: HashMap<String, Object>,
}

impl Auditor {
    /// `defaults` applies to objects whose namespace sets no level (or is not in the input).
    pub fn new(config: &Config, defaults: LevelVersion) -> Self {
        Self {
            defaults,
            exemptions: config.pod_security.exemptions.clone(),
            rules: config.rules.clone(),
            // Namespaces the configuration file describes; Namespace objects in the input override them.
            namespaces: config
                .pod_security
                .namespaces
                .iter()
                .map(|(name, labels)| {
                    (name.clone(), NamespacePolicy::from_config(labels, defaults))
                })
                .collect(),
            namespace_objects: HashMap::new(),
        }
    }

    pub fn defaults(&self) -> LevelVersion {
        self.defaults
    }

    /// Records a `Namespace` object's labels. Returns true when `object` is a Namespace.
    pub fn learn_namespace(&mut self, object: &Object) -> bool {
        if !is_namespace(object) {
            return false;
        }
        let policy = NamespacePolicy::from_labels(&object.metadata.labels, self.defaults);
        self.namespaces.insert(object.metadata.name.clone(), policy);
        self.namespace_objects
            .insert(object.metadata.name.clone(), object.clone());
        true
    }

    /// The policy for objects in `namespace`.
    pub fn policy_for(&self, namespace: &str) -> LevelVersion {
        self.namespaces
            .get(namespace)
            .map(|p| p.enforce)
            .unwrap_or(self.defaults)
    }

    /// Problems with a namespace's labels, for warnings.
    pub fn namespace_label_errors(&self) -> impl Iterator<Item = (&str, &str)> {
        self.namespaces.iter().flat_map(|(ns, p)| {
            p.label_errors
                .iter()
                .map(move |e| (ns.as_str(), e.as_str()))
        })
    }

    /// Audits one object.
    pub fn audit(&self, object: &Object) -> Result<AuditOutcome, InputError> {
        let templates = match pod_templates(object)? {
            Workload::NotAWorkload => {
                return Ok(AuditOutcome::Skipped {
                    kind: object.kind.clone(),
                })
            }
            Workload::Pods(templates) => templates,
        };
        let namespace = object.metadata.namespace.as_str();
        let lv = self.policy_for(namespace);
        let object_ref = ObjectRef::from_object(object);
        let report = |outcome, findings| ObjectReport {
            object: object_ref.clone(),
            policy: lv.to_string(),
            outcome,
            findings,
        };
        if self.exemptions.namespaces.iter().any(|n| n == namespace) {
            return Ok(AuditOutcome::Report(report(
                Outcome::Exempt(format!("namespace {namespace:?} is exempt")),
                Vec::new(),
            )));
        }
        let mut findings = Vec::new();
        let mut exempt_classes = Vec::new();
        for mut template in templates {
            if let Some(class) = template.spec.runtime_class_name.as_deref() {
                if self.exemptions.runtime_classes.iter().any(|c| c == class) {
                    exempt_classes.push(class.to_owned());
                    continue;
                }
            }
            template.spec.apply_api_server_defaults(template.is_pod);
            let evaluation = evaluate(lv, &template.metadata, &template.spec);
            findings.extend(findings_for(object, &object_ref, &template, &evaluation));
            let violations = check_rules(&self.rules, &template.metadata, &template.spec);
            findings.extend(rule_findings(object, &object_ref, &template, &violations));
        }
        let outcome = if !findings.is_empty() {
            Outcome::Violations
        } else if !exempt_classes.is_empty() {
            Outcome::Exempt(format!("runtime class {:?} is exempt", exempt_classes[0]))
        } else {
            Outcome::Pass
        };
        Ok(AuditOutcome::Report(report(outcome, findings)))
    }
}

/// The audit of one input stream (a file, or standard input).
#[derive(Debug, Default)]
pub struct StreamAudit {
    pub documents: usize,
    pub objects: usize,
    /// Reports for workloads, in stream order.
    pub reports: Vec<ObjectReport>,
    /// Kinds of the objects that run no pods, one entry per object.
    pub skipped: Vec<String>,
    pub errors: Vec<InputError>,
}

impl Auditor {
    /// Records the Namespace objects of a stream. Streams with no Namespace are not parsed: most
    /// inputs have none, and this pass runs before any object is audited so that a Namespace can
    /// come after (or in another file than) the workloads it governs.
    pub fn learn_namespaces_from(&mut self, file: &std::sync::Arc<str>, text: &str) {
        if !text.contains("Namespace") {
            return;
        }
        for object in palisade_core::source::parse_stream(file, text).objects {
            self.learn_namespace(&object);
        }
    }

    /// Audits every object of one stream.
    pub fn audit_stream(&self, file: &std::sync::Arc<str>, text: &str) -> StreamAudit {
        self.audit_stream_with(file, text, None)
    }

    /// Audits every object of one stream, with `checks` besides. An object only they find
    /// something in (a Service, say) is reported as checked by the custom policies.
    pub fn audit_stream_with(
        &self,
        file: &std::sync::Arc<str>,
        text: &str,
        checks: Option<&dyn ObjectChecks>,
    ) -> StreamAudit {
        let stream = palisade_core::source::parse_stream(file, text);
        let mut audit = StreamAudit {
            documents: stream.documents,
            objects: stream.objects.len(),
            errors: stream.errors,
            ..Default::default()
        };
        for object in &stream.objects {
            let extra = checks.map_or_else(Vec::new, |c| {
                // An object that names no namespace is created in `default`.
                let namespace = match object.metadata.namespace.as_str() {
                    "" => "default",
                    ns => ns,
                };
                c.check(object, self.namespace_objects.get(namespace))
            });
            match self.audit(object) {
                Ok(AuditOutcome::Skipped { kind }) if extra.is_empty() => audit.skipped.push(kind),
                Ok(AuditOutcome::Skipped { .. }) => audit.reports.push(ObjectReport {
                    object: ObjectRef::from_object(object),
                    policy: "custom".to_string(),
                    outcome: Outcome::Violations,
                    findings: extra,
                }),
                Ok(AuditOutcome::Report(mut report)) => {
                    if !extra.is_empty() {
                        report.findings.extend(extra);
                        report.outcome = Outcome::Violations;
                    }
                    audit.reports.push(report);
                }
                Err(e) => audit.errors.push(e),
            }
        }
        // Errors in line order, whichever stage found them.
        audit.errors.sort_by_key(|e| e.line.unwrap_or(0));
        audit
    }
}

pub fn is_namespace(object: &Object) -> bool {
    object.kind == "Namespace" && object.api_version == "v1"
}

/// One finding per offending field of every failed check.
fn findings_for(
    object: &Object,
    object_ref: &ObjectRef,
    template: &PodTemplate,
    evaluation: &Evaluation,
) -> Vec<Finding> {
    let message = evaluation.message();
    let lv = evaluation.level_version;
    let mut findings = Vec::new();
    for failure in &evaluation.failures {
        let fallback = [Location::pod(FieldPath::root())];
        let locations = if failure.violation.locations.is_empty() {
            &fallback[..]
        } else {
            &failure.violation.locations[..]
        };
        for location in locations {
            let (field, container) = resolve(template, location);
            findings.push(Finding {
                rule_id: failure.check.rule_id(),
                check: failure.check.id.to_owned(),
                severity: failure.check.severity(),
                object: object_ref.clone(),
                line: object.node.line_of(&field),
                component: template.component.map(str::to_owned),
                container,
                field: field.to_string(),
                level: lv.level.to_string(),
                version: lv.version.to_string(),
                reason: failure.violation.reason.clone(),
                detail: failure.violation.detail.clone(),
                message: message.clone(),
                hint: failure.check.hint.to_owned(),
            });
        }
    }
    findings
}

/// Findings for broken ML-serving rules. Offline, every configured rule reports, whatever its
/// admission mode: CI is where a team should hear about all of them.
fn rule_findings(
    object: &Object,
    object_ref: &ObjectRef,
    template: &PodTemplate,
    violations: &[RuleViolation],
) -> Vec<Finding> {
    let message = rules_message(violations);
    let mut findings = Vec::new();
    for violation in violations {
        for location in &violation.locations {
            let (field, container) = resolve(template, location);
            findings.push(Finding {
                rule_id: violation.rule.id.to_owned(),
                check: violation.rule.name.to_owned(),
                severity: violation.rule.severity,
                object: object_ref.clone(),
                line: object.node.line_of(&field),
                component: template.component.map(str::to_owned),
                container,
                field: field.to_string(),
                level: String::new(),
                version: String::new(),
                reason: violation.reason.clone(),
                detail: violation.detail.clone(),
                message: message.clone(),
                hint: violation.rule.hint.to_owned(),
            });
        }
    }
    findings
}

/// Broken rules in the PodSecurity style: `reason (detail), reason (detail)`.
pub fn rules_detail<'a>(violations: impl IntoIterator<Item = &'a RuleViolation>) -> String {
    let parts: Vec<String> = violations
        .into_iter()
        .map(|v| format!("{} ({})", v.reason, v.detail))
        .collect();
    parts.join(", ")
}

/// The message for broken rules: `violates palisade rules: reason (detail), ...`.
pub fn rules_message<'a>(violations: impl IntoIterator<Item = &'a RuleViolation>) -> String {
    format!("violates palisade rules: {}", rules_detail(violations))
}

/// The object path and container name of a check's location.
pub(crate) fn resolve(template: &PodTemplate, location: &Location) -> (FieldPath, Option<String>) {
    match &location.subject {
        Subject::PodSpec => (template.spec_path.join(&location.field), None),
        Subject::PodMetadata => (template.metadata_path.join(&location.field), None),
        Subject::Volume { index } => (
            template
                .spec_path
                .clone()
                .field("volumes")
                .index(*index)
                .join(&location.field),
            None,
        ),
        Subject::Container { kind, index, name } => (
            template.container_path(*kind, *index).join(&location.field),
            Some(name.clone()),
        ),
    }
}

/// Something to audit: a named stream of manifests that may fail to be read.
pub trait AuditInput: Sync {
    fn name(&self) -> &std::sync::Arc<str>;
    fn read(&self) -> Result<String, InputError>;
}

/// Files audited in parallel before their reports are written, in input order. Bounds memory:
/// only one batch of results is held at a time.
const BATCH: usize = 16;

/// Audits every input (Namespaces first learned from all of them, so a Namespace may come after,
/// or in another file than, the workloads it governs) and hands each object's report and each
/// error to `reporter` in input order, as they are made: memory stays flat however large the
/// input. `errors` are the inputs that could not even be found; `on_error` sees every error as it
/// is reported. `checks`, when given, run on every object in the same pass (see
/// [`ObjectChecks`]). The summary decides the exit code.
pub fn audit_inputs<I: AuditInput>(
    config: &Config,
    defaults: LevelVersion,
    inputs: &[I],
    errors: &[InputError],
    reporter: &mut dyn palisade_core::report::Reporter,
    on_error: &dyn Fn(&InputError),
    checks: Option<&dyn ObjectChecks>,
) -> std::io::Result<palisade_core::report::Summary> {
    use rayon::prelude::*;

    let mut auditor = Auditor::new(config, defaults);
    // The Namespaces of every input, read in parallel and learned in input order. Unreadable
    // inputs are reported by the audit pass below.
    let namespaces: Vec<Vec<Object>> = inputs
        .par_iter()
        .map(|input| match input.read() {
            Ok(text) if text.contains("Namespace") => {
                palisade_core::source::parse_stream(input.name(), &text)
                    .objects
                    .into_iter()
                    .filter(is_namespace)
                    .collect()
            }
            _ => Vec::new(),
        })
        .collect();
    for object in namespaces.iter().flatten() {
        auditor.learn_namespace(object);
    }
    for (namespace, problem) in auditor.namespace_label_errors() {
        tracing::warn!(
            namespace,
            "invalid Pod Security label, using upstream's fallback: {problem}"
        );
    }
    let mut summary = palisade_core::report::Summary::default();
    let report_error = |reporter: &mut dyn palisade_core::report::Reporter,
                        summary: &mut palisade_core::report::Summary,
                        error: &InputError| {
        summary.errors += 1;
        on_error(error);
        reporter.error(error)
    };
    for error in errors {
        report_error(reporter, &mut summary, error)?;
    }
    for batch in inputs.chunks(BATCH) {
        let audits: Vec<StreamAudit> = batch
            .par_iter()
            .map(|input| match input.read() {
                Ok(text) => auditor.audit_stream_with(input.name(), &text, checks),
                Err(e) => StreamAudit {
                    errors: vec![e],
                    ..Default::default()
                },
            })
            .collect();
        for audit in audits {
            summary.files += 1;
            summary.documents += audit.documents;
            summary.objects += audit.objects;
            for kind in audit.skipped {
                *summary.skipped.entry(kind).or_default() += 1;
            }
            for report in &audit.reports {
                summary.record(report);
                reporter.object(report)?;
            }
            for error in &audit.errors {
                report_error(reporter, &mut summary, error)?;
            }
        }
    }
    reporter.finish(&summary)?;
    Ok(summary)
}
