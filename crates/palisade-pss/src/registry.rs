//! Which checks run at which level and version, in upstream's order.
//!
//! Upstream registers each check with the versions its behaviour changed at; a restricted check
//! may override a baseline one (from the version it says), and the checks of a level run sorted by
//! ID, baseline before restricted. The aggregated message lists failures in that order, so the
//! order is part of the contract.

use std::sync::LazyLock;

use palisade_core::finding::Severity;
use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::checks::{self, CheckFn};
use crate::level::{Level, LevelVersion, NEWEST_MINOR};
use crate::violation::Violation;

/// One behaviour of a check, in force from `since` (a v1 minor version) until the next.
#[derive(Debug)]
pub(crate) struct Versioned {
    since: u32,
    check: CheckFn,
    overrides: &'static [&'static str],
}

const fn at(since: u32, check: CheckFn) -> Versioned {
    Versioned {
        since,
        check,
        overrides: &[],
    }
}

const fn overriding(since: u32, check: CheckFn, overrides: &'static [&'static str]) -> Versioned {
    Versioned {
        since,
        check,
        overrides,
    }
}

/// A Pod Security Standards check.
#[derive(Debug)]
pub struct CheckInfo {
    /// Upstream's check ID, e.g. `runAsNonRoot`.
    pub id: &'static str,
    /// The stable rule ID palisade reports: `pss/` and the check ID.
    pub rule: &'static str,
    /// The level that introduces the check.
    pub level: Level,
    pub title: &'static str,
    pub description: &'static str,
    /// How to fix a violation.
    pub hint: &'static str,
    versions: &'static [Versioned],
}

impl CheckInfo {
    /// The stable rule ID palisade reports, e.g. `pss/runAsNonRoot`.
    pub fn rule_id(&self) -> String {
        self.rule.to_owned()
    }

    /// Baseline checks guard against known privilege escalations; restricted ones are hardening.
    pub fn severity(&self) -> Severity {
        match self.level {
            Level::Restricted => Severity::Medium,
            _ => Severity::High,
        }
    }

    fn at_version(&self, minor: u32) -> Option<&Versioned> {
        self.versions.iter().rev().find(|v| v.since <= minor)
    }
}

/// Every check, in upstream's order: baseline IDs sorted, then restricted IDs sorted (Go sorts bytes,
/// so `seLinuxOptions` precedes `seccompProfile_baseline`).
pub static CHECKS: &[CheckInfo] = &[
    CheckInfo {
        id: "appArmorProfile",
        rule: "pss/appArmorProfile",
        level: Level::Baseline,
        title: "AppArmor",
        description: "On supported hosts, the RuntimeDefault AppArmor profile applies; pods may not override it with an unconfined or other profile type.",
        hint: "remove the AppArmor override or set securityContext.appArmorProfile.type to RuntimeDefault or Localhost (annotations: runtime/default or localhost/<profile>)",
        versions: &[at(0, checks::app_armor_profile::v1_0)],
    },
    CheckInfo {
        id: "capabilities_baseline",
        rule: "pss/capabilities_baseline",
        level: Level::Baseline,
        title: "Capabilities",
        description: "Adding capabilities beyond the container runtime's default set must be disallowed.",
        hint: "remove the extra capabilities from securityContext.capabilities.add",
        versions: &[at(0, checks::capabilities::baseline_v1_0)],
    },
    CheckInfo {
        id: "hostNamespaces",
        rule: "pss/hostNamespaces",
        level: Level::Baseline,
        title: "Host Namespaces",
        description: "Sharing the host network, PID or IPC namespaces must be disallowed.",
        hint: "remove hostNetwork, hostPID and hostIPC (or set them to false)",
        versions: &[at(0, checks::host_namespaces::v1_0)],
    },
    CheckInfo {
        id: "hostPathVolumes",
        rule: "pss/hostPathVolumes",
        level: Level::Baseline,
        title: "HostPath Volumes",
        description: "HostPath volumes must be forbidden.",
        hint: "replace the hostPath volume with an emptyDir, configMap, secret or persistentVolumeClaim",
        versions: &[at(0, checks::host_path_volumes::v1_0)],
    },
    CheckInfo {
        id: "hostPorts",
        rule: "pss/hostPorts",
        level: Level::Baseline,
        title: "Host Ports",
        description: "Host ports must be disallowed (in a Pod with hostNetwork, every container port is a host port).",
        hint: "remove hostPort from the container ports (and hostNetwork from the pod); expose the port through a Service",
        versions: &[at(0, checks::host_ports::v1_0)],
    },
    CheckInfo {
        id: "hostProbesAndHostLifecycle",
        rule: "pss/hostProbesAndHostLifecycle",
        level: Level::Baseline,
        title: "Host Probes / Lifecycle Hooks",
        description: "Probes and lifecycle handlers may not set a host, which would let the kubelet reach other endpoints.",
        hint: "remove the host field from httpGet and tcpSocket probes and lifecycle handlers",
        versions: &[at(34, checks::host_probes_and_host_lifecycle::v1_34)],
    },
    CheckInfo {
        id: "privileged",
        rule: "pss/privileged",
        level: Level::Baseline,
        title: "Privileged Containers",
        description: "Privileged containers disable most security mechanisms and must be disallowed.",
        hint: "remove securityContext.privileged or set it to false",
        versions: &[at(0, checks::privileged::v1_0)],
    },
    CheckInfo {
        id: "procMount",
        rule: "pss/procMount",
        level: Level::Baseline,
        title: "/proc Mount Type",
        description: "The default /proc masks must be kept, unless (from v1.35, at baseline) the pod runs in a user namespace.",
        hint: "remove securityContext.procMount or set it to Default",
        versions: &[at(0, checks::proc_mount::v1_0), at(35, checks::proc_mount::baseline_v1_35)],
    },
    CheckInfo {
        id: "seLinuxOptions",
        rule: "pss/seLinuxOptions",
        level: Level::Baseline,
        title: "SELinux",
        description: "Setting a custom SELinux user or role is forbidden, and the type is limited to the container types.",
        hint: "remove seLinuxOptions.user and .role, and use a container_t-family type or none",
        versions: &[at(0, checks::se_linux_options::v1_0), at(31, checks::se_linux_options::v1_31)],
    },
    CheckInfo {
        id: "seccompProfile_baseline",
        rule: "pss/seccompProfile_baseline",
        level: Level::Baseline,
        title: "Seccomp",
        description: "Seccomp may not be explicitly set to Unconfined.",
        hint: "set securityContext.seccompProfile.type to RuntimeDefault (or Localhost)",
        versions: &[at(0, checks::seccomp_profile::baseline_v1_0), at(19, checks::seccomp_profile::baseline_v1_19)],
    },
    CheckInfo {
        id: "sysctls",
        rule: "pss/sysctls",
        level: Level::Baseline,
        title: "Sysctls",
        description: "Only the safe, namespaced sysctls are allowed.",
        hint: "remove the unsafe sysctls from securityContext.sysctls",
        versions: &[
            at(0, checks::sysctls::v1_0),
            at(27, checks::sysctls::v1_27),
            at(29, checks::sysctls::v1_29),
            at(32, checks::sysctls::v1_32),
            at(37, checks::sysctls::v1_37),
        ],
    },
    CheckInfo {
        id: "windowsHostProcess",
        rule: "pss/windowsHostProcess",
        level: Level::Baseline,
        title: "HostProcess",
        description: "Windows HostProcess containers have privileged access to the host and must be disallowed.",
        hint: "remove securityContext.windowsOptions.hostProcess or set it to false",
        versions: &[at(0, checks::windows_host_process::v1_0)],
    },
    CheckInfo {
        id: "allowPrivilegeEscalation",
        rule: "pss/allowPrivilegeEscalation",
        level: Level::Restricted,
        title: "Privilege Escalation",
        description: "Privilege escalation (such as via set-user-ID or set-group-ID file mode) must not be allowed.",
        hint: "set securityContext.allowPrivilegeEscalation: false on every container",
        versions: &[at(8, checks::allow_privilege_escalation::v1_8), at(25, checks::allow_privilege_escalation::v1_25)],
    },
    CheckInfo {
        id: "capabilities_restricted",
        rule: "pss/capabilities_restricted",
        level: Level::Restricted,
        title: "Capabilities",
        description: "Containers must drop ALL capabilities, and may only add back NET_BIND_SERVICE.",
        hint: "set securityContext.capabilities.drop: [\"ALL\"] on every container and add nothing but NET_BIND_SERVICE",
        versions: &[
            overriding(22, checks::capabilities::restricted_v1_22, &["capabilities_baseline"]),
            overriding(25, checks::capabilities::restricted_v1_25, &["capabilities_baseline"]),
        ],
    },
    CheckInfo {
        id: "procMount_restricted",
        rule: "pss/procMount_restricted",
        level: Level::Restricted,
        title: "/proc Mount Type",
        description: "The default /proc masks must be kept, in user namespaces too.",
        hint: "remove securityContext.procMount or set it to Default",
        versions: &[overriding(35, checks::proc_mount::v1_0, &["procMount"])],
    },
    CheckInfo {
        id: "restrictedVolumes",
        rule: "pss/restrictedVolumes",
        level: Level::Restricted,
        title: "Volume Types",
        description: "Only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes are allowed.",
        hint: "use a persistentVolumeClaim (or configMap, secret, emptyDir, projected, csi, ephemeral) instead",
        versions: &[overriding(0, checks::restricted_volumes::v1_0, &["hostPathVolumes"])],
    },
    CheckInfo {
        id: "runAsNonRoot",
        rule: "pss/runAsNonRoot",
        level: Level::Restricted,
        title: "Running as Non-root",
        description: "Containers must run as non-root users (from v1.35, unless the pod runs in a user namespace).",
        hint: "set securityContext.runAsNonRoot: true on the pod (and a non-zero runAsUser if the image's user is root)",
        versions: &[at(0, checks::run_as_non_root::v1_0), at(35, checks::run_as_non_root::v1_35)],
    },
    CheckInfo {
        id: "runAsUser",
        rule: "pss/runAsUser",
        level: Level::Restricted,
        title: "Running as Non-root user",
        description: "Containers must not set runAsUser to 0 (from v1.35, unless the pod runs in a user namespace).",
        hint: "set runAsUser to a non-zero UID, or remove it",
        versions: &[at(23, checks::run_as_user::v1_23), at(35, checks::run_as_user::v1_35)],
    },
    CheckInfo {
        id: "seccompProfile_restricted",
        rule: "pss/seccompProfile_restricted",
        level: Level::Restricted,
        title: "Seccomp",
        description: "A seccomp profile must be set, RuntimeDefault or Localhost, at pod level or on every container.",
        hint: "set securityContext.seccompProfile.type: RuntimeDefault on the pod",
        versions: &[
            overriding(19, checks::seccomp_profile::restricted_v1_19, &["seccompProfile_baseline"]),
            overriding(25, checks::seccomp_profile::restricted_v1_25, &["seccompProfile_baseline"]),
        ],
    },
];

type Plan = Vec<(&'static CheckInfo, CheckFn)>;

/// The checks to run for each level (baseline, restricted) and each minor version 0..=NEWEST.
static PLANS: LazyLock<[Vec<Plan>; 2]> = LazyLock::new(|| {
    let build = |level: Level| -> Vec<Plan> {
        (0..=NEWEST_MINOR)
            .map(|minor| {
                let active = |l: Level| {
                    CHECKS
                        .iter()
                        .filter(move |c| c.level == l)
                        .filter_map(move |c| c.at_version(minor).map(|v| (c, v)))
                };
                let overridden: Vec<&str> = if level == Level::Restricted {
                    active(Level::Restricted)
                        .flat_map(|(_, v)| v.overrides.iter().copied())
                        .collect()
                } else {
                    Vec::new()
                };
                let mut plan: Plan = active(Level::Baseline)
                    .filter(|(c, _)| !overridden.contains(&c.id))
                    .map(|(c, v)| (c, v.check))
                    .collect();
                if level == Level::Restricted {
                    plan.extend(active(Level::Restricted).map(|(c, v)| (c, v.check)));
                }
                plan
            })
            .collect()
    };
    [build(Level::Baseline), build(Level::Restricted)]
});

/// The checks that run at `lv`, in order.
pub fn checks_for(lv: LevelVersion) -> Vec<&'static CheckInfo> {
    plan(lv).iter().map(|(c, _)| *c).collect()
}

fn plan(lv: LevelVersion) -> &'static [(&'static CheckInfo, CheckFn)] {
    let minor = lv.version.effective_minor() as usize;
    match lv.level {
        Level::Privileged => &[],
        Level::Baseline => &PLANS[0][minor],
        Level::Restricted => &PLANS[1][minor],
    }
}

/// A failed check.
#[derive(Debug, Clone)]
pub struct Failure {
    pub check: &'static CheckInfo,
    pub violation: Violation,
}

/// The result of evaluating one pod at one level and version.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub level_version: LevelVersion,
    pub failures: Vec<Failure>,
}

impl Evaluation {
    pub fn allowed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Upstream's `ForbiddenReason()`: the reasons joined with ", ".
    pub fn forbidden_reason(&self) -> String {
        self.failures
            .iter()
            .map(|f| f.violation.reason.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Upstream's `ForbiddenDetail()`: `reason (detail), reason (detail)`.
    pub fn forbidden_detail(&self) -> String {
        let parts: Vec<String> = self
            .failures
            .iter()
            .map(|f| {
                let reason = if f.violation.reason.is_empty() {
                    "unknown forbidden reason"
                } else {
                    &f.violation.reason
                };
                if f.violation.detail.is_empty() {
                    reason.to_owned()
                } else {
                    format!("{reason} ({})", f.violation.detail)
                }
            })
            .collect();
        parts.join(", ")
    }

    /// The message the API server returns when enforcing:
    /// `violates PodSecurity "restricted:v1.29": ...`.
    pub fn message(&self) -> String {
        format!(
            "violates PodSecurity \"{}\": {}",
            self.level_version,
            self.forbidden_detail()
        )
    }
}

/// Evaluates a pod spec that already has the API server defaults applied
/// ([`PodSpec::apply_api_server_defaults`]).
pub fn evaluate(lv: LevelVersion, metadata: &ObjectMeta, spec: &PodSpec) -> Evaluation {
    let failures = plan(lv)
        .iter()
        .filter_map(|(check, run)| {
            run(metadata, spec).map(|violation| Failure { check, violation })
        })
        .collect();
    Evaluation {
        level_version: lv,
        failures,
    }
}

/// Evaluates the spec of a Pod as written, applying the API server's Pod defaults first.
pub fn evaluate_as_written(lv: LevelVersion, metadata: &ObjectMeta, spec: &PodSpec) -> Evaluation {
    let mut spec = spec.clone();
    spec.apply_api_server_defaults(true);
    evaluate(lv, metadata, &spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::level::Version;

    fn ids(level: Level, version: Version) -> Vec<&'static str> {
        checks_for(LevelVersion::new(level, version))
            .iter()
            .map(|c| c.id)
            .collect()
    }

    #[test]
    fn checks_are_in_go_byte_order() {
        let mut baseline: Vec<&str> = CHECKS
            .iter()
            .filter(|c| c.level == Level::Baseline)
            .map(|c| c.id)
            .collect();
        let mut sorted = baseline.clone();
        sorted.sort_unstable();
        assert_eq!(baseline, sorted);
        baseline.clear();
        let restricted: Vec<&str> = CHECKS
            .iter()
            .filter(|c| c.level == Level::Restricted)
            .map(|c| c.id)
            .collect();
        let mut sorted = restricted.clone();
        sorted.sort_unstable();
        assert_eq!(restricted, sorted);
    }

    #[test]
    fn rule_ids_name_their_checks() {
        for check in CHECKS {
            assert_eq!(check.rule, format!("pss/{}", check.id));
        }
    }

    #[test]
    fn overrides_follow_versions() {
        let v1_0 = ids(Level::Restricted, Version::Minor(0));
        assert!(
            v1_0.contains(&"capabilities_baseline") && v1_0.contains(&"seccompProfile_baseline")
        );
        assert!(!v1_0.contains(&"hostPathVolumes") && !v1_0.contains(&"allowPrivilegeEscalation"));
        let latest = ids(Level::Restricted, Version::Latest);
        assert!(!latest.contains(&"capabilities_baseline") && !latest.contains(&"procMount"));
        assert!(
            latest.contains(&"procMount_restricted")
                && latest.contains(&"hostProbesAndHostLifecycle")
        );
        assert!(ids(Level::Baseline, Version::Latest).contains(&"procMount"));
        assert!(ids(Level::Privileged, Version::Latest).is_empty());
        assert_eq!(ids(Level::Restricted, Version::Minor(99)), latest);
    }
}
