//! Reading a directory of manifests: every `.yaml`, `.yml` and `.json` file under it (hidden
//! entries skipped), multi-document YAML and `List` kinds. A document that is not a Kubernetes
//! object (stray JSON output, a file of notes) is skipped with a warning, as upstream does; a file
//! that is not valid YAML is skipped with a warning naming the file and line, unless nothing at
//! all can be read, which is an error.

use std::path::Path;
use std::sync::Arc;

use palisade_core::node::{Node, Value};
use palisade_core::source::{decode, MAX_INPUT_BYTES};
use palisade_core::{yaml, InputError, Object, SourceRef};

use crate::error::NetpolError;
use crate::model::Cluster;

/// The objects of the manifests under `dir` (or of the single file `dir`), with warnings for what
/// was skipped.
pub fn read_objects(dir: &Path) -> Result<(Vec<Object>, Vec<String>), NetpolError> {
    let meta = std::fs::metadata(dir).map_err(|source| NetpolError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    if meta.is_file() {
        files.push(dir.to_path_buf());
    } else {
        let walker = walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walker {
            let entry = entry.map_err(|e| NetpolError::Io {
                path: e.path().unwrap_or(dir).to_path_buf(),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("directory loop")),
            })?;
            let path = entry.path();
            let is_manifest = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(e.to_ascii_lowercase().as_str(), "yaml" | "yml" | "json")
            });
            if entry.file_type().is_file() && is_manifest {
                files.push(path.to_path_buf());
            }
        }
    }
    let mut objects = Vec::new();
    let mut warnings = Vec::new();
    let mut first_error = None;
    for path in files {
        let name: Arc<str> = Arc::from(path.display().to_string());
        let len = std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|source| NetpolError::Io {
                path: path.clone(),
                source,
            })?;
        if len > MAX_INPUT_BYTES {
            warnings.push(format!(
                "{name}: skipped: larger than {MAX_INPUT_BYTES} bytes"
            ));
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|source| NetpolError::Io {
            path: path.clone(),
            source,
        })?;
        let text = match decode(&name, bytes) {
            Ok(text) => text,
            Err(e) => {
                warnings.push(format!("skipped: {e}"));
                first_error.get_or_insert(e);
                continue;
            }
        };
        let (mut found, mut skipped, error) = parse_manifests(&name, &text);
        objects.append(&mut found);
        warnings.append(&mut skipped);
        if let Some(error) = error {
            first_error.get_or_insert(error);
        }
    }
    if objects.is_empty() {
        return Err(match first_error {
            Some(e) => NetpolError::Input(e),
            None => NetpolError::NoObjects {
                path: dir.to_path_buf(),
            },
        });
    }
    Ok((objects, warnings))
}

/// The objects of one YAML/JSON stream, the warnings for documents skipped (not Kubernetes
/// objects), and the syntax error that ended the stream early, if any (with file and line).
pub fn parse_manifests(
    file: &Arc<str>,
    text: &str,
) -> (Vec<Object>, Vec<String>, Option<InputError>) {
    let mut objects = Vec::new();
    let mut warnings = Vec::new();
    for document in yaml::documents(text) {
        let document = match document {
            Ok(d) => d,
            Err(e) => {
                let error = InputError::from_yaml(file.clone(), e);
                warnings.push(format!("skipped the rest of the file: {error}"));
                return (objects, warnings, Some(error));
            }
        };
        let Some(root) = document.root else { continue };
        let mut pending = vec![root];
        while let Some(node) = pending.pop() {
            if let Some(items) = list_items(&node) {
                pending.extend(items.into_iter().rev());
                continue;
            }
            let source = SourceRef {
                file: file.clone(),
                document: document.index,
                line: node.line,
            };
            match Object::from_node(source, node) {
                Ok(object) => objects.push(object),
                Err(e) => warnings.push(format!("skipped a document: {e}")),
            }
        }
    }
    (objects, warnings, None)
}

/// The items of a `List` or `<Kind>List` document; items without `kind` take the list's item
/// kind (`PodList` items are Pods), as kubectl's decoder does.
fn list_items(node: &Node) -> Option<Vec<Node>> {
    let kind = node.get("kind")?.as_str()?;
    let item_kind = kind.strip_suffix("List")?;
    let items = match &node.get("items")?.value {
        Value::Sequence(items) => items.clone(),
        Value::Null => Vec::new(),
        _ => return None,
    };
    let api_version = node.get("apiVersion").cloned();
    Some(
        items
            .into_iter()
            .map(|mut item| {
                if item_kind.is_empty() {
                    return item;
                }
                if let Value::Mapping(entries) = &mut item.value {
                    if !entries.iter().any(|(k, _)| k == "kind") {
                        entries.push((
                            "kind".to_string(),
                            Node::new(item.line, item.col, Value::String(item_kind.to_string())),
                        ));
                    }
                    if !entries.iter().any(|(k, _)| k == "apiVersion") {
                        if let Some(v) = &api_version {
                            entries.push(("apiVersion".to_string(), v.clone()));
                        }
                    }
                }
                item
            })
            .collect(),
    )
}

/// Reads every manifest under `dir` and builds the [`Cluster`]. Unreadable documents become
/// warnings in [`Cluster::warnings`]; invalid policies are errors.
pub fn load_dir(dir: &Path) -> Result<Cluster, NetpolError> {
    let (objects, warnings) = read_objects(dir)?;
    let mut cluster = Cluster::from_objects(objects)?;
    let mut all = warnings;
    all.append(&mut cluster.warnings);
    cluster.warnings = all;
    Ok(cluster)
}

/// Builds the [`Cluster`] from the text of one YAML/JSON stream (`name` is used in messages). A
/// syntax error is an error here (there is only one stream), naming the line.
pub fn load_str(name: &str, text: &str) -> Result<Cluster, NetpolError> {
    let file: Arc<str> = Arc::from(name);
    let (objects, warnings, error) = parse_manifests(&file, text);
    if let Some(error) = error {
        return Err(NetpolError::Input(error));
    }
    let mut cluster = Cluster::from_objects(objects)?;
    let mut all = warnings;
    all.append(&mut cluster.warnings);
    cluster.warnings = all;
    Ok(cluster)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_list_items_take_the_list_kind() {
        let cluster = load_str(
            "pods.yaml",
            "kind: PodList\napiVersion: v1\nitems:\n- metadata: {name: a, namespace: x, labels: {app: a}}\n- metadata: {name: b, namespace: x}\n",
        )
        .unwrap();
        let names: Vec<String> = cluster.workloads.iter().map(|w| w.key()).collect();
        assert_eq!(names, ["x/a[Pod]", "x/b[Pod]"]);
        assert!(cluster.namespaces.contains_key("x"));
    }

    #[test]
    fn syntax_errors_name_the_file_and_line() {
        let err = load_str("bad.yaml", "kind: Pod\nmetadata:\n  name: [unclosed\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yaml:"), "{text}");
        assert!(
            matches!(err, NetpolError::Input(ref e) if e.line.is_some()),
            "{text}"
        );
    }

    #[test]
    fn documents_that_are_not_objects_are_skipped_with_a_warning() {
        let cluster = load_str(
            "mixed.yaml",
            "[1, 2]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
        )
        .unwrap();
        assert_eq!(cluster.workloads.len(), 1);
        assert!(cluster.warnings.iter().any(|w| w.contains("mixed.yaml")));
    }

    #[test]
    fn a_directory_without_objects_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.yaml"), "# nothing\n").unwrap();
        std::fs::write(dir.path().join("broken.yaml"), "a: [\n").unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("broken.yaml:"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_dir(empty.path()).unwrap_err(),
            NetpolError::NoObjects { .. }
        ));
    }
}
