//! palisade-policy: configuration, namespace policy resolution and policy evaluation, shared by
//! every front end (`palisade audit`, the admission webhook).
//!
//! Pure but for reading the configuration and the files it names: it must not depend on a
//! registry client (`palisade-oci`, `palisade-sign`), the webhook or the CLI. Trusted keys are
//! checked at load with `palisade-sign-core`'s parser, the one the verifier uses.
#![forbid(unsafe_code)]

pub mod admission;
pub mod audit;
pub mod config;
pub mod harden;
pub mod harden_text;
pub mod image_config;
pub mod image_verification;
pub mod namespace;
pub mod rules;
pub mod teams;

pub use audit::{
    audit_inputs, is_namespace, AuditInput, AuditOutcome, Auditor, ObjectChecks, StreamAudit,
};
pub use config::{Config, Exemptions, PodSecurityConfig};
pub use namespace::NamespacePolicy;

/// Rule metadata for every check palisade can report (Pod Security Standards, then the
/// ML-serving rules), for SARIF and documentation. The serving rules
/// ([`rules::SERVING_RULES`]) are not in it: [`rule_metadata_for`] adds those configured.
pub fn rule_metadata() -> Vec<palisade_core::report::RuleMeta> {
    let mut rules = palisade_pss::rules();
    rules.extend(rules::RULES.iter().map(|r| meta(r)));
    rules
}

/// [`rule_metadata`], then the serving rules the configuration turns on (so that a report
/// for a configuration without them is what it was before they existed).
pub fn rule_metadata_for(config: &config::RulesConfig) -> Vec<palisade_core::report::RuleMeta> {
    let mut rules = rule_metadata();
    let on = [
        config.trust_remote_code.is_some(),
        config.gpu_visibility.is_some(),
        config.ld_preload.is_some(),
    ];
    rules.extend(
        rules::SERVING_RULES
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(r, _)| meta(r)),
    );
    rules
}

fn meta(r: &rules::RuleInfo) -> palisade_core::report::RuleMeta {
    palisade_core::report::RuleMeta {
        id: r.id.to_owned(),
        name: r.name.to_owned(),
        short_description: r.title.to_owned(),
        full_description: format!(
            "{}. Configured under rules.{} in the palisade configuration file.",
            r.title, r.name
        ),
        help: format!("Fix: {}.", r.hint),
        help_uri: None,
        severity: r.severity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_rules_are_listed_only_when_configured() {
        let mut rules = config::RulesConfig::default();
        let ids = |m: Vec<palisade_core::report::RuleMeta>| -> Vec<String> {
            m.into_iter().map(|r| r.id).collect()
        };
        assert_eq!(ids(rule_metadata_for(&rules)), ids(rule_metadata()));
        rules.ld_preload = Some(config::ModeOnly::default());
        let listed = rule_metadata_for(&rules);
        assert_eq!(listed.len(), rule_metadata().len() + 1);
        assert_eq!(listed.last().unwrap().id, "palisade/ld-preload");
    }
}
