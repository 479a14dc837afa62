//! A generated corpus of realistic model-serving workloads: Deployments, StatefulSets, Jobs,
//! CronJobs, DaemonSets and Pods, about a third of them breaking the restricted standard in
//! different ways.

use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Default)]
pub struct Stats {
    pub documents: usize,
    pub files: usize,
    pub bytes: u64,
    pub violating: usize,
}

/// Writes `documents` workload documents into `dir`, `per_file` to a file.
pub fn write(dir: &Path, documents: usize, per_file: usize) -> std::io::Result<Stats> {
    let mut stats = Stats::default();
    let mut text = String::new();
    for i in 0..documents {
        let violation = i % 3 == 1;
        if violation {
            stats.violating += 1;
        }
        if !text.is_empty() {
            text.push_str("---\n");
        }
        workload(&mut text, i, violation);
        stats.documents += 1;
        if (i + 1) % per_file == 0 || i + 1 == documents {
            let path = dir
                .join(format!("team-{:03}", stats.files % 100))
                .join(format!("workloads-{:05}.yaml", stats.files));
            std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
            stats.bytes += text.len() as u64;
            std::fs::write(path, &text)?;
            stats.files += 1;
            text.clear();
        }
    }
    Ok(stats)
}

fn container(out: &mut String, indent: &str, name: &str, i: usize, violation: bool) {
    let _ = write!(
        out,
        "{indent}- name: {name}
{indent}  image: registry.example.com/ml/model-{i}@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
{indent}  args: [\"--model\", \"/models/model-{i}.joblib\", \"--workers\", \"2\"]
{indent}  env:
{indent}    - name: MODEL_NAME
{indent}      value: model-{i}
{indent}    - name: REDIS_URL
{indent}      value: redis://redis.cache:6379/0
{indent}  ports:
{indent}    - name: http
{indent}      containerPort: 8080
{indent}  readinessProbe:
{indent}    httpGet: {{path: /healthz, port: http}}
{indent}  resources:
{indent}    requests: {{cpu: 250m, memory: 512Mi}}
{indent}    limits: {{memory: 1Gi}}
"
    );
    match (violation, i % 4) {
        (false, _) => {
            let _ = write!(out, "{indent}  securityContext:\n{indent}    allowPrivilegeEscalation: false\n{indent}    readOnlyRootFilesystem: true\n{indent}    capabilities: {{drop: [ALL]}}\n");
        }
        (true, 0) => {
            let _ = write!(
                out,
                "{indent}  securityContext:\n{indent}    privileged: true\n"
            );
        }
        (true, 1) => {
            let _ = write!(out, "{indent}  securityContext:\n{indent}    runAsUser: 0\n{indent}    capabilities: {{add: [SYS_ADMIN]}}\n");
        }
        (true, _) => {}
    }
    let _ = write!(out, "{indent}  volumeMounts:\n{indent}    - {{name: models, mountPath: /models, readOnly: true}}\n");
}

fn pod_spec(out: &mut String, indent: &str, i: usize, violation: bool) {
    let _ = write!(
        out,
        "{indent}securityContext:\n{indent}  runAsNonRoot: true\n{indent}  runAsUser: 10001\n{indent}  seccompProfile: {{type: RuntimeDefault}}\n"
    );
    if violation && i % 4 == 3 {
        let _ = writeln!(out, "{indent}hostNetwork: true");
    }
    let _ = writeln!(out, "{indent}containers:");
    container(out, indent, "server", i, violation);
    let _ = writeln!(out, "{indent}volumes:");
    if violation && i % 4 == 2 {
        let _ = write!(
            out,
            "{indent}  - name: models\n{indent}    hostPath: {{path: /var/lib/models}}\n"
        );
    } else {
        let _ = write!(
            out,
            "{indent}  - name: models\n{indent}    emptyDir: {{}}\n"
        );
    }
}

fn workload(out: &mut String, i: usize, violation: bool) {
    let kinds = [
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("apps/v1", "DaemonSet"),
        ("v1", "Pod"),
    ];
    let (api_version, kind) = kinds[i % kinds.len()];
    let _ = write!(
        out,
        "apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: model-{i}\n  namespace: team-{:03}\n  labels:\n    app.kubernetes.io/name: model-{i}\n    team: team-{:03}\n    model: model-{i}\n",
        i % 100,
        i % 100
    );
    let template_labels = |out: &mut String, indent: &str| {
        let _ = write!(out, "{indent}metadata:\n{indent}  labels:\n{indent}    app.kubernetes.io/name: model-{i}\n{indent}    team: team-{:03}\n", i % 100);
    };
    match kind {
        "Pod" => {
            out.push_str("spec:\n");
            pod_spec(out, "  ", i, violation);
        }
        "CronJob" => {
            out.push_str(
                "spec:\n  schedule: \"0 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n",
            );
            template_labels(out, "        ");
            out.push_str("        spec:\n          restartPolicy: OnFailure\n");
            pod_spec(out, "          ", i, violation);
        }
        _ => {
            let _ = write!(out, "spec:\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: model-{i}\n  template:\n");
            template_labels(out, "    ");
            out.push_str("    spec:\n");
            pod_spec(out, "      ", i, violation);
        }
    }
}
