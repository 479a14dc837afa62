//! Arbitrary policy files through palisade-policy-engine's parser and compiler, and what
//! compiles evaluated on a pod: never a panic or hang; a policy either compiles or is an error
//! naming its file. The first byte picks the shape: policy YAML as given (any kind), one CEL
//! expression in a ValidatingAdmissionPolicy (validation, messageExpression and variable), or
//! one Rego module in a Gatekeeper ConstraintTemplate with a constraint.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use palisade_policy_engine::{parse_docs, PolicySet};

const POD: &str = r#"{"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "p", "namespace": "ns", "labels": {"team": "a"}, "annotations": {"x": "1"}},
  "spec": {"containers": [{"name": "c", "image": "registry.example/ml/iris:1.0",
    "resources": {"limits": {"memory": "1Gi", "cpu": "500m"}},
    "ports": [{"containerPort": 8080}], "securityContext": {"runAsUser": 1000}}]}}"#;

fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn wrap(kind: u8, body: &str) -> String {
    match kind % 3 {
        0 => body.to_string(),
        1 => {
            let e = yaml_string(body);
            format!(
                "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {{name: fuzz}}\nspec:\n  matchConstraints:\n    resourceRules:\n    - {{apiGroups: [\"*\"], apiVersions: [\"*\"], operations: [\"*\"], resources: [\"*\"]}}\n  variables:\n  - {{name: v, expression: {e}}}\n  validations:\n  - {{expression: {e}, messageExpression: {e}}}\n  auditAnnotations:\n  - {{key: k, valueExpression: {e}}}\n"
            )
        }
        _ => {
            let r = yaml_string(body);
            format!(
                "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {{name: k8sfuzz}}\nspec:\n  crd: {{spec: {{names: {{kind: K8sFuzz}}}}}}\n  targets:\n  - target: admission.k8s.gatekeeper.sh\n    rego: {r}\n---\napiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sFuzz\nmetadata: {{name: fuzz}}\nspec:\n  parameters: {{labels: [team]}}\n"
            )
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    let Ok(body) = std::str::from_utf8(rest) else { return };
    let text = wrap(kind, body);
    let file: Arc<str> = Arc::from("fuzz.yaml");
    let Ok(docs) = parse_docs(&file, &text) else { return };
    let (set, errors) = PolicySet::compile(&docs);
    for e in &errors {
        assert_eq!(&*e.origin.file, "fuzz.yaml");
        assert!(!e.to_string().is_empty());
    }
    if set.is_empty() {
        return;
    }
    let pod: serde_json::Value = serde_json::from_str(POD).expect("the pod is JSON");
    for outcome in set.evaluate_object(&pod) {
        let _ = outcome.id();
    }
});
