//! `rules.ldPreload` at admission for what a container inherits from its image: the image
//! configuration's `Env` (`config.Env` of the config blob) reaches every process the container
//! runs unless the container's own `env` sets the variable, which the runtime applies over the
//! image's (so `LD_PRELOAD` set to an empty value in the pod switches the image's off).
//!
//! Pure, in two halves around the registry work the webhook does, as [`crate::image_verification`]:
//! which images of a request must have their configuration read, and, once the webhook has read
//! them (by digest), the decision in the rule's mode.

use palisade_core::image_ref::ImageRef;

use crate::admission::{Admission, Decision, Fired, Request, Target};
use crate::config::{RegistryErrorMode, RuleMode, WorkloadMode};
use crate::image_verification::pull_secret_names;
use crate::rules::LD_PRELOAD;

/// The audit annotation for violations found in image configurations (`rules.ldPreload` in
/// audit mode), beside `palisade.dev/audit-violations` for those found in the request itself.
pub const IMAGE_CONFIG_AUDIT_ANNOTATION: &str = "palisade.dev/image-config-violations";

/// How to fix an image configuration's `LD_PRELOAD`.
pub const IMAGE_LD_PRELOAD_FIX: &str = "rebuild the image without ENV LD_PRELOAD (`palisade scan image` reports it) and load the library explicitly, or set LD_PRELOAD to an empty value in the container's env, which overrides the image's";

/// One image of a request whose configuration must be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigCheck {
    /// The image as the pod spec writes it.
    pub image: String,
    /// It parsed; `None` when it does not (then its configuration cannot be read).
    pub reference: Option<ImageRef>,
    /// The containers that run it and set no `LD_PRELOAD` of their own, so run with the image's.
    pub containers: Vec<String>,
    /// The pod's `imagePullSecrets`: where registry credentials come from.
    pub pull_secrets: Vec<String>,
}

/// One image configuration's environment: the image's, or one platform's of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEnv {
    /// `linux/arm64` and the like for a manifest of an index; `None` for a single manifest.
    pub platform: Option<String>,
    /// `config.Env`: `NAME=value` entries.
    pub env: Vec<String>,
}

/// What the webhook read for one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigVerdict {
    /// The manifest (or index) digest the configurations were read from.
    pub digest: Option<String>,
    /// Every configuration the image has (one per platform of an index).
    pub configs: Vec<PlatformEnv>,
    /// The configuration could not be read.
    pub failure: Option<ConfigFailure>,
}

/// Why an image configuration could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFailure {
    pub message: String,
    /// The registry could not be reached (or not in time): `imageVerification.onRegistryError`
    /// applies. Otherwise (no such manifest, content that does not match its digest, not JSON)
    /// the configuration is unreadable, which never passes.
    pub unreachable: bool,
}

/// The value `LD_PRELOAD` has in an environment (`NAME=value` entries, the last winning, as the
/// runtime applies them), when it preloads anything: an empty or blank value loads nothing.
pub fn ld_preload_in(env: &[String]) -> Option<&str> {
    env.iter()
        .rev()
        .find_map(|e| e.split_once('=').filter(|(k, _)| *k == "LD_PRELOAD"))
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
}

impl Admission {
    /// The images of a pod or workload request whose configuration `rules.ldPreload` reads: one
    /// check per distinct image, naming the containers that inherit its environment (those whose
    /// `env` sets `LD_PRELOAD`, even to an empty value, override the image's and are judged by
    /// the rule on the request alone). Empty when the rule is off or the request is not evaluated.
    pub fn image_config_checks(&self, request: &Request<'_>) -> Vec<ConfigCheck> {
        if self.config().rules.ld_preload.is_none() {
            return Vec::new();
        }
        let Some((object, templates)) = self.image_templates(request) else {
            return Vec::new();
        };
        let mut checks: Vec<ConfigCheck> = Vec::new();
        for template in &templates {
            let pull_secrets = pull_secret_names(object, template);
            for (_, _, container) in template.spec.all_containers() {
                if container.env_var("LD_PRELOAD").is_some() {
                    continue;
                }
                match checks.iter_mut().find(|c| c.image == container.image) {
                    Some(check) => check.containers.push(container.name.clone()),
                    None => checks.push(ConfigCheck {
                        image: container.image.clone(),
                        reference: ImageRef::parse(&container.image).ok(),
                        containers: vec![container.name.clone()],
                        pull_secrets: pull_secrets.clone(),
                    }),
                }
            }
        }
        checks
    }

    /// The decision for the image configurations, given what the webhook read (in the order of
    /// `checks`): an image that sets `LD_PRELOAD` is denied, warned about or annotated by the
    /// rule's mode (a workload's enforce-mode violations are warnings unless
    /// `podSecurity.workloads` is `deny`, as for every rule); one whose configuration could not
    /// be read likewise, never taken as clean (but for an unreachable registry under
    /// `imageVerification.onRegistryError: allow`, a warning).
    pub fn judge_image_configs(
        &self,
        request: &Request<'_>,
        checks: &[ConfigCheck],
        verdicts: &[ConfigVerdict],
    ) -> Decision {
        let mut decision = Decision::default();
        let Some(rule) = &self.config().rules.ld_preload else {
            return decision;
        };
        let enforce = self.target(request) == Target::Pod
            || self.config().pod_security.workloads == WorkloadMode::Deny;
        let mode = match rule.mode {
            RuleMode::Enforce if !enforce => RuleMode::Warn,
            mode => mode,
        };
        let fail_open =
            self.config().image_verification.on_registry_error == RegistryErrorMode::Allow;
        let missing = ConfigVerdict {
            failure: Some(ConfigFailure {
                message: "image configurations are not being read".into(),
                unreachable: false,
            }),
            ..ConfigVerdict::default()
        };
        let mut preloads: Vec<String> = Vec::new();
        let mut unread: Vec<String> = Vec::new();
        for (i, check) in checks.iter().enumerate() {
            let verdict = verdicts.get(i).unwrap_or(&missing);
            let containers = format!(
                "container{} {}",
                if check.containers.len() == 1 { "" } else { "s" },
                check
                    .containers
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let image = match &verdict.digest {
                Some(digest) if !check.image.contains(digest.as_str()) => {
                    format!("image {:?} ({digest})", check.image)
                }
                _ => format!("image {:?}", check.image),
            };
            if check.reference.is_none() {
                unread.push(format!(
                    "{image} of {containers}: not a valid image reference"
                ));
                continue;
            }
            if let Some(failure) = &verdict.failure {
                if failure.unreachable && fail_open {
                    decision.warnings.push(format!(
                        "image configuration not read: {image} of {containers}: {}; allowed because imageVerification.onRegistryError is allow",
                        failure.message
                    ));
                } else {
                    unread.push(format!("{image} of {containers}: {}", failure.message));
                }
                continue;
            }
            // One value per distinct LD_PRELOAD, with the platforms that set it.
            let mut values: Vec<(&str, Vec<&str>)> = Vec::new();
            for config in &verdict.configs {
                let Some(value) = ld_preload_in(&config.env) else {
                    continue;
                };
                let platform = config.platform.as_deref();
                match values.iter_mut().find(|(v, _)| *v == value) {
                    Some((_, platforms)) => platforms.extend(platform),
                    None => values.push((value, platform.into_iter().collect())),
                }
            }
            for (value, platforms) in values {
                let on = if platforms.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", platforms.join(", "))
                };
                preloads.push(format!(
                    "{containers} run{} {image}, whose configuration sets LD_PRELOAD={value}{on}",
                    if check.containers.len() == 1 { "s" } else { "" }
                ));
            }
        }
        let mut parts = Vec::new();
        if !preloads.is_empty() {
            parts.push(format!(
                "LD_PRELOAD set in the image configuration ({})",
                preloads.join("; ")
            ));
        }
        if !unread.is_empty() {
            parts.push(format!(
                "image configuration not read, which rules.ldPreload needs ({})",
                unread.join("; ")
            ));
        }
        if parts.is_empty() {
            return decision;
        }
        decision.fired.push(Fired {
            rule: LD_PRELOAD.id,
            mode: match mode {
                RuleMode::Enforce => "enforce",
                RuleMode::Warn => "warn",
                RuleMode::Audit => "audit",
            },
        });
        let detail = parts.join(", ");
        let fix = if preloads.is_empty() {
            "make the image readable by the webhook (the registry reachable, the reference resolvable, its credentials in imagePullSecrets or imageVerification.dockerConfig)"
        } else {
            IMAGE_LD_PRELOAD_FIX
        };
        match mode {
            RuleMode::Enforce => {
                decision.denial = Some(self.forbidden(
                    request,
                    format!(
                        "violates palisade rules: {detail} (to fix {}: {fix})",
                        LD_PRELOAD.id
                    ),
                ));
                decision.warnings.clear();
            }
            RuleMode::Warn => decision.warnings.push(format!(
                "would violate palisade rules: {detail} (to fix {}: {fix})",
                LD_PRELOAD.id
            )),
            RuleMode::Audit => {
                decision.audit_annotations.insert(
                    IMAGE_CONFIG_AUDIT_ANNOTATION.into(),
                    format!("would violate palisade rules: {detail}"),
                );
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{parse_object, ParsedObject};
    use crate::config::Config;
    use palisade_core::node::Node;
    use serde_json::{json, Value};

    fn admission(config: &str) -> Admission {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("palisade.yaml");
        std::fs::write(&file, config).unwrap();
        let config = Config::load(&file).unwrap();
        let defaults = config.default_level_version();
        Admission::new(config, defaults)
    }

    fn parsed(value: &Value) -> ParsedObject {
        parse_object(Node::from_json(value), "ml", "p")
    }

    fn request<'a>(object: &'a ParsedObject, kind: &'a str) -> Request<'a> {
        let (group, resource) = match kind {
            "Pod" => ("", "pods"),
            _ => ("apps", "deployments"),
        };
        Request {
            operation: "CREATE",
            group,
            kind,
            resource,
            resource_group: group,
            sub_resource: "",
            name: "p",
            namespace: "ml",
            username: "",
            object: Some(object),
            groups: &[],
            old_object: None,
        }
    }

    const DIGEST: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn read(env: &[&str]) -> ConfigVerdict {
        ConfigVerdict {
            digest: Some(DIGEST.into()),
            configs: vec![PlatformEnv {
                platform: None,
                env: env.iter().map(|e| e.to_string()).collect(),
            }],
            failure: None,
        }
    }

    #[test]
    fn the_last_non_empty_ld_preload_of_an_environment_counts() {
        let env = |e: &[&str]| e.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ld_preload_in(&env(&["PATH=/bin", "LD_PRELOAD=/x.so"])),
            Some("/x.so")
        );
        assert_eq!(
            ld_preload_in(&env(&["LD_PRELOAD=/x.so", "LD_PRELOAD="])),
            None
        );
        assert_eq!(ld_preload_in(&env(&["LD_PRELOAD= "])), None);
        assert_eq!(
            ld_preload_in(&env(&["LD_PRELOAD_X=/x.so", "LD_PRELOAD"])),
            None
        );
        assert_eq!(ld_preload_in(&env(&["PATH=/bin"])), None);
    }

    #[test]
    fn containers_that_set_ld_preload_themselves_do_not_inherit_the_images() {
        let a = admission("rules:\n  ldPreload: {}\n");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "imagePullSecrets": [{"name": "regcred"}],
        "initContainers": [{"name": "init", "image": "r.example/app:1"}],
        "containers": [
            {"name": "app", "image": "r.example/app:1"},
            {"name": "off", "image": "r.example/app:1", "env": [{"name": "LD_PRELOAD", "value": ""}]},
            {"name": "side", "image": "r.example/side:1"}
        ]}});
        let object = parsed(&pod);
        let checks = a.image_config_checks(&request(&object, "Pod"));
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].image, "r.example/app:1");
        assert_eq!(checks[0].containers, ["init", "app"]);
        assert_eq!(checks[0].pull_secrets, ["regcred"]);
        assert_eq!(checks[1].containers, ["side"]);
        // The rule off: nothing to read.
        let off = admission("rules:\n  gpuVisibility: {}\n");
        assert!(off.image_config_checks(&request(&object, "Pod")).is_empty());
    }

    #[test]
    fn image_ld_preload_is_denied_warned_or_annotated_by_mode() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "app", "image": "r.example/app:1"}]}});
        let object = parsed(&pod);
        let req = request(&object, "Pod");
        let enforce = admission("rules:\n  ldPreload: {}\n");
        let checks = enforce.image_config_checks(&req);
        let bad = read(&["PATH=/bin", "LD_PRELOAD=/usr/lib/libhook.so"]);
        let decision = enforce.judge_image_configs(&req, &checks, std::slice::from_ref(&bad));
        assert_eq!(
            decision.denial.unwrap().message,
            format!("pods \"p\" is forbidden: violates palisade rules: LD_PRELOAD set in the image configuration (container \"app\" runs image \"r.example/app:1\" ({DIGEST}), whose configuration sets LD_PRELOAD=/usr/lib/libhook.so) (to fix palisade/ld-preload: {IMAGE_LD_PRELOAD_FIX})")
        );
        assert_eq!(
            decision.fired,
            [Fired {
                rule: "palisade/ld-preload",
                mode: "enforce"
            }]
        );
        // A clean image, and an image that sets it empty: allowed, nothing said.
        for clean in [read(&["PATH=/bin"]), read(&["LD_PRELOAD="])] {
            assert_eq!(
                enforce.judge_image_configs(&req, &checks, &[clean]),
                Decision::default()
            );
        }
        // Warn and audit.
        let warn = admission("rules:\n  ldPreload: {mode: warn}\n");
        let decision = warn.judge_image_configs(&req, &checks, std::slice::from_ref(&bad));
        assert!(decision.allowed());
        assert!(decision.warnings[0]
            .starts_with("would violate palisade rules: LD_PRELOAD set in the image configuration (container \"app\""));
        let audit = admission("rules:\n  ldPreload: {mode: audit}\n");
        let decision = audit.judge_image_configs(&req, &checks, std::slice::from_ref(&bad));
        assert!(decision.allowed() && decision.warnings.is_empty());
        assert!(decision.audit_annotations[IMAGE_CONFIG_AUDIT_ANNOTATION]
            .contains("LD_PRELOAD=/usr/lib/libhook.so"));
        // An index: every platform is read, the ones that set it named.
        let index = ConfigVerdict {
            digest: Some(DIGEST.into()),
            configs: vec![
                PlatformEnv {
                    platform: Some("linux/amd64".into()),
                    env: vec![],
                },
                PlatformEnv {
                    platform: Some("linux/arm64".into()),
                    env: vec!["LD_PRELOAD=/x.so".into()],
                },
            ],
            failure: None,
        };
        let denial = enforce
            .judge_image_configs(&req, &checks, &[index])
            .denial
            .unwrap();
        assert!(
            denial
                .message
                .contains("sets LD_PRELOAD=/x.so on linux/arm64)"),
            "{}",
            denial.message
        );
    }

    #[test]
    fn unread_configurations_fail_closed_unless_the_registry_is_down_and_allowed() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "app", "image": "r.example/app:1"}]}});
        let object = parsed(&pod);
        let req = request(&object, "Pod");
        let enforce = admission("rules:\n  ldPreload: {}\n");
        let checks = enforce.image_config_checks(&req);
        let down = ConfigVerdict {
            failure: Some(ConfigFailure {
                message: "connection refused".into(),
                unreachable: true,
            }),
            ..ConfigVerdict::default()
        };
        let message = enforce
            .judge_image_configs(&req, &checks, std::slice::from_ref(&down))
            .denial
            .unwrap()
            .message;
        assert!(
            message.contains("image configuration not read, which rules.ldPreload needs (image \"r.example/app:1\" of container \"app\": connection refused)"),
            "{message}"
        );
        // No verdict at all: denied too.
        assert!(!enforce.judge_image_configs(&req, &checks, &[]).allowed());
        // onRegistryError: allow lets an unreachable registry through with a warning, but not
        // a configuration that was read and is bad.
        let open =
            admission("rules:\n  ldPreload: {}\nimageVerification:\n  onRegistryError: allow\n");
        let decision = open.judge_image_configs(&req, &checks, std::slice::from_ref(&down));
        assert!(decision.allowed());
        assert_eq!(decision.warnings.len(), 1);
        let unreadable = ConfigVerdict {
            failure: Some(ConfigFailure {
                message: "manifest not found".into(),
                unreachable: false,
            }),
            ..ConfigVerdict::default()
        };
        assert!(!open
            .judge_image_configs(&req, &checks, &[unreadable])
            .allowed());
    }

    #[test]
    fn workloads_are_warned_unless_workloads_deny() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "p"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "r.example/app:1"}]}}}});
        let object = parsed(&deployment);
        let req = request(&object, "Deployment");
        let bad = read(&["LD_PRELOAD=/x.so"]);
        let a = admission("rules:\n  ldPreload: {}\n");
        let checks = a.image_config_checks(&req);
        assert_eq!(checks.len(), 1);
        let decision = a.judge_image_configs(&req, &checks, std::slice::from_ref(&bad));
        assert!(decision.allowed());
        assert_eq!(decision.warnings.len(), 1);
        let deny = admission("podSecurity:\n  workloads: deny\nrules:\n  ldPreload: {}\n");
        let denial = deny
            .judge_image_configs(&req, &checks, &[bad])
            .denial
            .unwrap();
        assert!(denial
            .message
            .starts_with("deployments.apps \"p\" is forbidden: violates palisade rules: LD_PRELOAD set in the image configuration"));
    }
}
