//! Reading the evidence a user has: the messages of `kubectl describe pod`, of
//! `kubectl get events -o yaml|json`, an admission denial pasted as is, and container logs. Each
//! line that says something palisade knows how to fix becomes a [`Clue`], with where it was read.

use std::sync::Arc;

use palisade_core::node::{Node, Value};

/// A text the user gave, with the name it is reported under (a file, or `-`).
#[derive(Debug, Clone)]
pub struct Text {
    pub name: Arc<str>,
    pub text: String,
}

/// Where a clue was read: the evidence file, its 1-based line, and the message as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub file: Arc<str>,
    pub line: u32,
    pub text: String,
}

/// Something the evidence says went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clue {
    /// The kubelet's `container has runAsNonRoot and image will run as root`.
    ImageRunsAsRoot { container: Option<String> },
    /// The kubelet's `container has runAsNonRoot and image has non-numeric user (NAME), cannot
    /// verify user is non-root`.
    NonNumericUser {
        user: String,
        container: Option<String>,
    },
    /// The kubelet's `container's runAsUser breaks non-root policy`.
    RunAsUserRoot { container: Option<String> },
    /// The API server's Pod Security denial: `violates PodSecurity "restricted:latest": ...`.
    PodSecurityDenied { policy: String },
    /// palisade's image verification denied the pod (`images not verified: ...`).
    ImageNotVerified {
        image: String,
        container: String,
        rule: ImageRule,
        reason: String,
    },
    /// palisade's allowedRegistries rule denied the pod.
    RegistryNotAllowed { detail: String },
    /// A write under the read-only root filesystem (`EROFS`).
    ReadOnlyWrite { path: String },
    /// Permission denied on a path (a mounted volume the user cannot write, or the root).
    WriteDenied { path: String },
    /// Permission denied binding a port (below 1024 without `NET_BIND_SERVICE`).
    PortDenied { port: Option<u16> },
}

/// Which of palisade's image rules a denial is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRule {
    Signature,
    Scan,
    /// A model artifact (image volume, KServe `storageUri: oci://`) without a passing model-scan
    /// attestation (`rules.requireModelScan`).
    ModelScan,
    /// No key is trusted for the image: neither rule can be met until one is.
    Trust,
}

/// The clues of `--events`: the messages of an event list (YAML or JSON), or else every line of
/// the text (`kubectl describe pod`, a pasted denial).
pub fn read_events(events: &Text) -> Vec<(Clue, Seen)> {
    let mut messages = Vec::new();
    let structured = events.text.trim_start().starts_with(['{', '['])
        || events.text.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("kind: Event") || l.starts_with("kind: List")
        });
    if structured {
        for document in palisade_core::yaml::documents(&events.text).flatten() {
            if let Some(root) = document.root {
                collect_messages(&root, &mut messages);
            }
        }
    }
    if messages.is_empty() {
        messages = numbered_lines(&events.text);
    }
    clues(&events.name, &messages)
}

/// The clues of `--logs`: every line of the container logs.
pub fn read_logs(logs: &Text) -> Vec<(Clue, Seen)> {
    clues(&logs.name, &numbered_lines(&logs.text))
}

fn numbered_lines(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (u32::try_from(i + 1).unwrap_or(u32::MAX), l.to_owned()))
        .collect()
}

/// Every `message` string of an event (or a list of them), with its line.
fn collect_messages(node: &Node, out: &mut Vec<(u32, String)>) {
    match &node.value {
        Value::Mapping(entries) => {
            for (key, value) in entries {
                match (key.as_str(), &value.value) {
                    ("message", Value::String(text)) => out.push((value.line, text.clone())),
                    _ => collect_messages(value, out),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| collect_messages(i, out)),
        _ => {}
    }
}

fn clues(file: &Arc<str>, messages: &[(u32, String)]) -> Vec<(Clue, Seen)> {
    let mut found = Vec::new();
    for (i, (line, text)) in messages.iter().enumerate() {
        let mut here = classify(text);
        if here.is_empty() && text.to_ascii_lowercase().contains("permission denied") {
            // A traceback's last line: `self.socket.bind(...)` a few lines above says what.
            let above = &messages[i.saturating_sub(5)..i];
            if above
                .iter()
                .any(|(_, t)| t.contains("bind") || t.contains("listen"))
            {
                let port = above.iter().rev().find_map(|(_, t)| port_in(t));
                here.push(Clue::PortDenied { port });
            }
        }
        for clue in here {
            found.push((
                clue,
                Seen {
                    file: file.clone(),
                    line: *line,
                    text: text.trim().to_owned(),
                },
            ));
        }
    }
    found
}

/// What one message says, in the kubelet's, the API server's, palisade's or the runtime's words.
pub fn classify(text: &str) -> Vec<Clue> {
    let lower = text.to_ascii_lowercase();
    let container = kubelet_container(text);
    if text.contains("container has runAsNonRoot and image will run as root") {
        return vec![Clue::ImageRunsAsRoot { container }];
    }
    if let Some(rest) =
        text.split_once("container has runAsNonRoot and image has non-numeric user (")
    {
        let user = rest.1.split(')').next().unwrap_or_default().to_owned();
        return vec![Clue::NonNumericUser { user, container }];
    }
    if text.contains("container's runAsUser breaks non-root policy") {
        return vec![Clue::RunAsUserRoot { container }];
    }
    let mut found = Vec::new();
    if let Some((_, rest)) = text.split_once("violates PodSecurity \"") {
        let policy = rest.split('"').next().unwrap_or_default().to_owned();
        found.push(Clue::PodSecurityDenied { policy });
    }
    if let Some((_, rest)) = text.split_once("disallowed image registry (") {
        let detail = until_balanced(rest);
        found.push(Clue::RegistryNotAllowed { detail });
    }
    if let Some((_, rest)) = text.split_once("images not verified: ") {
        found.extend(image_failures(rest));
    }
    if !found.is_empty() {
        return found;
    }
    if lower.contains("read-only file system") || text.contains("EROFS") {
        if let Some(path) = first_path(text) {
            return vec![Clue::ReadOnlyWrite { path }];
        }
    }
    if lower.contains("permission denied") || text.contains("EACCES") {
        let binding = ["bind", "connect to", "address", "listen"]
            .iter()
            .any(|w| lower.contains(w));
        if binding {
            return vec![Clue::PortDenied {
                port: port_in(text),
            }];
        }
        if let Some(path) = first_path(text) {
            return vec![Clue::WriteDenied { path }];
        }
    }
    // gunicorn: `[ERROR] Can't connect to ('0.0.0.0', 80)`, retried until it gives up.
    if lower.contains("can't connect to") {
        if let Some(port) = port_in(text).filter(|p| *p < 1024) {
            return vec![Clue::PortDenied { port: Some(port) }];
        }
    }
    Vec::new()
}

/// The container a kubelet message names: `... (pod: "...", container: NAME)`.
fn kubelet_container(text: &str) -> Option<String> {
    let (_, rest) = text.rsplit_once("container: ")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The text up to the parenthesis that closes one already open.
fn until_balanced(rest: &str) -> String {
    let mut depth = 1;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return rest[..i].to_owned();
                }
            }
            _ => {}
        }
    }
    rest.to_owned()
}

/// The failures of palisade's `images not verified: image "X" of container "c": reasons; ...`
/// message (the fix hints it ends with, `(to fix palisade/...)`, say which rules fired).
fn image_failures(rest: &str) -> Vec<Clue> {
    let (body, hints) = match rest.find(" (to fix palisade/") {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let signature_fired = hints.contains("palisade/require-signature");
    let scan_fired = hints.contains("palisade/require-scan");
    let model_scan_fired = hints.contains("palisade/require-model-scan");
    let mut clues = Vec::new();
    for part in body.split("; image \"") {
        let part = part.trim_start_matches("image \"");
        let Some((image, after)) = part.split_once('"') else {
            continue;
        };
        let after = after.trim_start();
        let after = after
            .strip_prefix('(')
            .and_then(|a| a.split_once(')'))
            .map_or(after, |(_, a)| a.trim_start());
        let (of, reason) = after.split_once(": ").unwrap_or((after, ""));
        // A container's name; a model artifact's use as written (`of volume "model"`).
        let container = match of.strip_prefix("of container ") {
            Some(containers) => containers.trim_matches('"').to_owned(),
            None => of.to_owned(),
        };
        let rule = if reason.contains("no key in imageVerification.trust") {
            ImageRule::Trust
        } else if reason.starts_with("model scan: ")
            || (model_scan_fired && !signature_fired && !scan_fired)
        {
            ImageRule::ModelScan
        } else if reason.contains("signature") || (signature_fired && !scan_fired) {
            ImageRule::Signature
        } else {
            ImageRule::Scan
        };
        clues.push(Clue::ImageNotVerified {
            image: image.to_owned(),
            container,
            rule,
            reason: reason.trim().to_owned(),
        });
    }
    clues
}

/// The first absolute path in a message, without the quotes around it.
fn first_path(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`' | ',' | '(' | ')'))
        .map(|word| word.trim_end_matches([':', '.', ';']))
        .find(|word| word.starts_with('/') && word.len() > 1 && !word.starts_with("//"))
        .map(str::to_owned)
}

/// The port of a failed bind: Python's `('0.0.0.0', 80)`, `port 80`, `0.0.0.0:80`, Go's
/// `tcp :80:` (a time of day, `10:05:07`, is not a port).
fn port_in(text: &str) -> Option<u16> {
    let number = |rest: &str| -> Option<(u16, Option<char>)> {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let port = digits.parse::<u16>().ok().filter(|p| *p > 0)?;
        Some((port, rest[digits.len()..].chars().next()))
    };
    if let Some((_, rest)) = text.split_once("', ") {
        if let Some((port, Some(')'))) = number(rest) {
            return Some(port);
        }
    }
    let lower = text.to_ascii_lowercase();
    for word in ["port ", "port="] {
        if let Some((port, _)) = lower.split_once(word).and_then(|(_, rest)| number(rest)) {
            return Some(port);
        }
    }
    for (i, _) in text.match_indices(':') {
        let host = text[..i]
            .rsplit(|c: char| c.is_whitespace() || matches!(c, '(' | '\'' | '"' | '/'))
            .next()
            .unwrap_or_default();
        let hostlike = host.is_empty()
            || host.contains('.')
            || host.ends_with(']')
            || host.chars().any(|c| c.is_ascii_alphabetic());
        if let Some((port, next)) = number(&text[i + 1..]) {
            if hostlike && matches!(next, None | Some(':' | ')' | ' ' | ',')) {
                return Some(port);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_messages_in_upstream_wording() {
        assert_eq!(
            classify("Error: container has runAsNonRoot and image will run as root (pod: \"iris-7d9_ml-iris(1c5e)\", container: server)"),
            vec![Clue::ImageRunsAsRoot { container: Some("server".into()) }]
        );
        assert_eq!(
            classify("  Warning  Failed  12s (x3 over 30s)  kubelet  Error: container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: \"iris-7d9_ml-iris(1c5e)\", container: server)"),
            vec![Clue::NonNumericUser { user: "app".into(), container: Some("server".into()) }]
        );
        assert_eq!(
            classify("Error: container's runAsUser breaks non-root policy (pod: \"p_ns(1)\", container: app)"),
            vec![Clue::RunAsUserRoot { container: Some("app".into()) }]
        );
    }

    #[test]
    fn runtime_errors_from_python_servers() {
        assert_eq!(
            classify("OSError: [Errno 30] Read-only file system: '/app/cache'"),
            vec![Clue::ReadOnlyWrite {
                path: "/app/cache".into()
            }]
        );
        assert_eq!(
            classify("open /var/run/app.pid: EROFS"),
            vec![Clue::ReadOnlyWrite {
                path: "/var/run/app.pid".into()
            }]
        );
        assert_eq!(
            classify("PermissionError: [Errno 13] Permission denied: '/models/iris.joblib'"),
            vec![Clue::WriteDenied {
                path: "/models/iris.joblib".into()
            }]
        );
        for (line, port) in [
            ("[2024-05-01 10:00:00 +0000] [1] [ERROR] Can't connect to ('0.0.0.0', 80)", Some(80)),
            ("ERROR:    [Errno 13] error while attempting to bind on address ('0.0.0.0', 80): permission denied", Some(80)),
            ("listen tcp :443: bind: permission denied", Some(443)),
            ("PermissionError: [Errno 13] Permission denied (while binding)", None),
        ] {
            // gunicorn says "Can't connect to" and, on the next line, the errno.
            let clues = if line.contains("Can't connect") {
                classify(&format!("{line}: Permission denied"))
            } else {
                classify(line)
            };
            assert_eq!(clues, vec![Clue::PortDenied { port }], "{line}");
        }
    }

    #[test]
    fn event_lists_and_pasted_denials() {
        let events = Text {
            name: Arc::from("events.yaml"),
            text: "apiVersion: v1\nkind: List\nitems:\n- kind: Event\n  reason: Failed\n  message: 'Error: container has runAsNonRoot and image will run as root (pod: \"p_ns(1)\", container: app)'\n".into(),
        };
        let found = read_events(&events);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.line, 6);
        let denial = Text {
            name: Arc::from("-"),
            text: "Error from server (Forbidden): error when creating \"deploy.yaml\": admission webhook \"validate.palisade.dev\" denied the request: pods \"p\" is forbidden: images not verified: image \"registry.example.com/ml/iris:1\" of container \"server\": no signature: registry.example.com/ml/iris has no sha256-ab.sig tag (to fix palisade/require-signature: sign the image with `palisade sign`)\n".into(),
        };
        assert_eq!(
            read_events(&denial)[0].0,
            Clue::ImageNotVerified {
                image: "registry.example.com/ml/iris:1".into(),
                container: "server".into(),
                rule: ImageRule::Signature,
                reason: "no signature: registry.example.com/ml/iris has no sha256-ab.sig tag"
                    .into(),
            }
        );
    }
}
