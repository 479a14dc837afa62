//! The `explain/*` rules: one per kind of diagnosis, with its default severity, title and help.

use palisade_diagnostics::{Rule, RuleTable, Severity};

const RULES: &[Rule] = &[
    Rule {
        code: "explain/pod-security",
        severity: Severity::Medium,
        title: "The pod violates the Pod Security Standard of its namespace's level.",
        help: "Run `palisade explain --fix`: it sets what the level requires and replaces what it forbids where that is safe; host namespaces, hostPath volumes, privileged containers and added capabilities are left for a person.",
    },
    Rule {
        code: "explain/palisade-rule",
        severity: Severity::Medium,
        title: "The pod breaks one of the platform's ML-serving rules (labels, registries, digests, tags).",
        help: "Follow the rule's fix: add the labels, push the image to an allowed registry, pin it by digest.",
    },
    Rule {
        code: "explain/pod-security-denied",
        severity: Severity::High,
        title: "The API server refused the pod for its Pod Security violations.",
        help: "Fix the Pod Security diagnoses; `palisade explain --fix` settles most of them.",
    },
    Rule {
        code: "explain/image-runs-as-root",
        severity: Severity::High,
        title: "The kubelet refuses to start a container whose image runs as root under runAsNonRoot.",
        help: "Set a non-zero runAsUser (the image's own non-root UID where it has one) and add a numeric USER to the image.",
    },
    Rule {
        code: "explain/non-numeric-image-user",
        severity: Severity::High,
        title: "The kubelet cannot check runAsNonRoot against an image whose USER is a name.",
        help: "Set runAsUser to the UID of that user (from the image's /etc/passwd), and write USER as a number in the image.",
    },
    Rule {
        code: "explain/run-as-user-root",
        severity: Severity::High,
        title: "runAsUser: 0 beside runAsNonRoot: true: the kubelet refuses the container.",
        help: "Set runAsUser to a non-zero UID.",
    },
    Rule {
        code: "explain/read-only-root-filesystem",
        severity: Severity::High,
        title: "The app writes under its read-only root filesystem and crashes.",
        help: "Mount an emptyDir at the directory it writes to (or its nearest sensible parent), keeping the root read-only.",
    },
    Rule {
        code: "explain/volume-not-writable",
        severity: Severity::High,
        title: "The app cannot write a mounted volume: its files belong to another user.",
        help: "Set the pod's securityContext.fsGroup so the kubelet gives the volume to the pod's group.",
    },
    Rule {
        code: "explain/privileged-port",
        severity: Severity::High,
        title: "The app binds a port below 1024, which a non-root user with no capabilities cannot.",
        help: "Listen on a port of 1024 or more (and change containerPort and the Service's targetPort), or grant NET_BIND_SERVICE where the runtime honours it for non-root users.",
    },
    Rule {
        code: "explain/image-not-signed",
        severity: Severity::High,
        title: "palisade's webhook refused an image without a signature by a trusted key.",
        help: "Sign the image: `palisade sign --key cosign.key IMAGE`.",
    },
    Rule {
        code: "explain/image-scan-missing",
        severity: Severity::High,
        title: "palisade's webhook refused an image without a recent, passing scan attestation.",
        help: "Attest a fresh scan: `palisade attest --key cosign.key --scan IMAGE`.",
    },
    Rule {
        code: "explain/model-scan-missing",
        severity: Severity::High,
        title: "palisade's webhook refused a model artifact without a recent, passing model-scan attestation.",
        help: "Scan and attest the model artifact: `palisade attest --key cosign.key --model-scan REF`.",
    },
    Rule {
        code: "explain/image-key-not-trusted",
        severity: Severity::High,
        title: "No key is trusted for the image in the namespace.",
        help: "Have the platform add an imageVerification.trust entry, or sign with a trusted key.",
    },
    Rule {
        code: "explain/registry-not-allowed",
        severity: Severity::High,
        title: "palisade's webhook refused an image from a registry the platform does not allow.",
        help: "Push the image to an allowed registry and reference it from there.",
    },
];

/// Every diagnosis `palisade explain` makes.
pub const TABLE: RuleTable = RuleTable {
    domain: "explain",
    rules: RULES,
};

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_is_consistent() {
        assert_eq!(super::TABLE.problems(), Vec::<String>::new());
    }
}
