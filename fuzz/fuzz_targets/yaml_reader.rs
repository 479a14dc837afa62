//! The YAML reader against kubectl's rules (issue 12, items 4 and 5): never a panic; what aliases
//! copy into a document is bounded; every tree reads back from its own JSON unchanged (so `<<`
//! survives only as an ordinary key, and every scalar is what encoding/json would write); and a
//! plain `<<` merges any mapping as go-yaml v2 does: after an explicit key it wins, before one it
//! loses, in a list the first mapping wins, and a quoted "<<" is an ordinary key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_core::node::Value;
use palisade_core::yaml::{documents, MAX_ALIAS_BYTES_PER_DOCUMENT, MAX_NODES_PER_DOCUMENT};
use palisade_core::Node;
use serde_json::{json, Value as Json};

fn size(node: &Node) -> (usize, usize) {
    let (mut nodes, mut bytes) = (0usize, 0usize);
    let mut pending = vec![node];
    while let Some(n) = pending.pop() {
        nodes += 1;
        match &n.value {
            Value::String(s) => bytes += s.len(),
            Value::Sequence(items) => pending.extend(items),
            Value::Mapping(entries) => {
                for (k, v) in entries {
                    bytes += k.len();
                    pending.push(v);
                }
            }
            _ => {}
        }
    }
    (nodes, bytes)
}

/// The first document's JSON, or `None` when it is refused: a refusal (a simple key over 1,024
/// characters, say) is allowed, a different reading is not.
fn read_one(text: &str) -> Option<Json> {
    let doc = documents(text).next()?.ok()?;
    Some(doc.root.map(|r| r.to_json()).unwrap_or(Json::Null))
}

fn same(text: &str, expected: &Json) {
    if let Some(read) = read_one(text) {
        assert_eq!(&read, expected, "{text}");
    }
}

fn check_merges(map: &serde_json::Map<String, Json>) {
    let j = Json::Object(map.clone());
    // Merging into an empty mapping, or a list of it and an empty one, gives the mapping.
    same(&format!("{{<<: {j}}}"), &j);
    same(&format!("{{<<: [{j}, {{}}]}}"), &j);
    // A quoted key is no merge.
    same(&format!("{{\"<<\": {j}}}"), &json!({ "<<": j }));
    let Some((key, _)) = map.iter().next() else {
        return;
    };
    let quoted = Json::String(key.clone());
    // After an explicit key the merge wins; an explicit key after the merge wins.
    same(&format!("{{{quoted}: \"explicit\", <<: {j}}}"), &j);
    let mut later = map.clone();
    later.insert(key.clone(), json!("explicit"));
    same(
        &format!("{{<<: {j}, {quoted}: \"explicit\"}}"),
        &Json::Object(later),
    );
    // In a list the earlier mapping wins.
    let mut first = serde_json::Map::new();
    first.insert(key.clone(), json!("first"));
    let first = Json::Object(first);
    let mut merged = map.clone();
    merged.insert(key.clone(), json!("first"));
    same(&format!("{{<<: [{first}, {j}]}}"), &Json::Object(merged));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for document in documents(text) {
        let Ok(document) = document else { break };
        let Some(root) = document.root else { continue };
        let (nodes, bytes) = size(&root);
        assert!(nodes <= MAX_NODES_PER_DOCUMENT);
        // Text comes from the input, or from at most MAX_ALIAS_BYTES_PER_DOCUMENT of alias copies
        // (and merges of aliases).
        assert!(
            bytes <= text.len() + MAX_ALIAS_BYTES_PER_DOCUMENT,
            "{bytes} bytes"
        );
        let json = root.to_json();
        same(&json.to_string(), &json);
        if let Json::Object(map) = &json {
            check_merges(map);
        }
    }
});
