//! Multi-document YAML (and JSON, which is YAML's flow style) into [`Node`] trees.
//!
//! Scalars resolve the way `sigs.k8s.io/yaml` (go-yaml v2, YAML 1.1) resolves them, so that
//! `allowPrivilegeEscalation: no` means `false` here exactly as it does to `kubectl`. Duplicate keys
//! are an error, as they are to the API server's decoder: two parsers that disagree about which of
//! two `privileged:` keys wins is a way to smuggle a setting past a checker.
//!
//! The tree is built without recursion and with limits on depth and on node count (alias
//! expansion included), so hostile input fails with an error instead of exhausting the stack or
//! memory.

use std::collections::{HashMap, HashSet};

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::node::{Node, Value};

/// Nesting deeper than this is refused; real manifests nest about 20 levels.
pub const MAX_DEPTH: usize = 256;
/// Nodes per document, counting every alias expansion; a "billion laughs" document hits this.
pub const MAX_NODES_PER_DOCUMENT: usize = 2_000_000;

/// A parse failure at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {col})")]
pub struct LoadError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

/// One document of a YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 1-based position of the document in its stream.
    pub index: usize,
    /// 1-based line where the document's content starts.
    pub line: u32,
    /// `None` for an empty document (`---` with nothing after it, or only comments).
    pub root: Option<Node>,
}

/// Iterates over the documents of `text`. After the first error the iterator ends: a YAML parser
/// cannot reliably resynchronise, and a half-read stream must not look like a clean one.
pub fn documents(text: &str) -> Documents<'_> {
    Documents {
        parser: Parser::new_from_str(text),
        index: 0,
        done: false,
    }
}

/// Parses a stream expected to hold exactly one document (configuration files).
pub fn single_document(text: &str) -> Result<Option<Node>, LoadError> {
    let mut docs = documents(text);
    let first = docs.next().transpose()?;
    if let Some(second) = docs.next() {
        let second = second?;
        if second.root.is_some() {
            return Err(LoadError {
                line: second.line,
                col: 1,
                message: "expected a single YAML document, found another one here".into(),
            });
        }
    }
    Ok(first.and_then(|d| d.root))
}

#[derive(Debug)]
pub struct Documents<'a> {
    parser: Parser<std::str::Chars<'a>>,
    index: usize,
    done: bool,
}

impl Iterator for Documents<'_> {
    type Item = Result<Document, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_document() {
            Ok(Some(doc)) => Some(Ok(doc)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn error_at(mark: &Marker, message: impl Into<String>) -> LoadError {
    LoadError {
        line: to_u32(mark.line()),
        col: to_u32(mark.col() + 1),
        message: message.into(),
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

enum Frame {
    Sequence {
        start: (u32, u32),
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping(MappingFrame),
}

struct MappingFrame {
    start: (u32, u32),
    anchor: usize,
    entries: Vec<(String, Node)>,
    /// Keys set explicitly (not through a `<<` merge), for duplicate detection.
    explicit: HashSet<String>,
    pending_key: Option<PendingKey>,
    merges: Vec<Node>,
}

struct PendingKey {
    key: String,
    line: u32,
    col: u32,
    is_merge: bool,
}

impl Documents<'_> {
    fn next_event(&mut self) -> Result<(Event, Marker), LoadError> {
        self.parser.next_token().map_err(|e| LoadError {
            line: to_u32(e.marker().line()),
            col: to_u32(e.marker().col() + 1),
            message: e.info().to_owned(),
        })
    }

    fn next_document(&mut self) -> Result<Option<Document>, LoadError> {
        loop {
            let (event, mark) = self.next_event()?;
            match event {
                Event::StreamStart | Event::Nothing | Event::DocumentEnd => continue,
                Event::StreamEnd => return Ok(None),
                Event::DocumentStart => {
                    self.index += 1;
                    let mut builder = TreeBuilder::default();
                    let root = loop {
                        let (event, mark) = self.next_event()?;
                        if let Some(root) = builder.push(event, &mark)? {
                            break root;
                        }
                    };
                    let line = root.line;
                    let root = if root.is_null() { None } else { Some(root) };
                    return Ok(Some(Document {
                        index: self.index,
                        line,
                        root,
                    }));
                }
                other => return Err(error_at(&mark, format!("unexpected YAML event {other:?}"))),
            }
        }
    }
}

#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
}

impl TreeBuilder {
    /// Feeds one event; returns the document's root once it is complete.
    fn push(&mut self, event: Event, mark: &Marker) -> Result<Option<Node>, LoadError> {
        let (line, col) = (to_u32(mark.line()), to_u32(mark.col() + 1));
        let completed = match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(mark, 1)?;
                let plain = style == TScalarStyle::Plain;
                let forced_string = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if plain && !forced_string {
                    resolve_plain(&text)
                } else {
                    Value::String(text)
                };
                let node = Node::new(line, col, value);
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                Some((node, false))
            }
            Event::Alias(id) => {
                let (node, size) = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| error_at(mark, "alias to an unknown anchor"))?;
                self.count(mark, size)?;
                Some((Node { line, col, ..node }, true))
            }
            Event::SequenceStart(anchor, _) => {
                self.open(mark)?;
                self.stack.push(Frame::Sequence {
                    start: (line, col),
                    anchor,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                self.open(mark)?;
                self.stack.push(Frame::Mapping(MappingFrame {
                    start: (line, col),
                    anchor,
                    entries: Vec::new(),
                    explicit: HashSet::new(),
                    pending_key: None,
                    merges: Vec::new(),
                }));
                None
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Sequence {
                    start,
                    anchor,
                    items,
                }) => {
                    let node = Node::new(start.0, start.1, Value::Sequence(items));
                    self.remember(anchor, &node);
                    Some((node, false))
                }
                _ => return Err(error_at(mark, "unbalanced sequence end")),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Mapping(frame)) => {
                    if let Some(key) = frame.pending_key {
                        return Err(LoadError {
                            line: key.line,
                            col: key.col,
                            message: format!("key {:?} has no value", key.key),
                        });
                    }
                    let anchor = frame.anchor;
                    let node = finish_mapping(frame)?;
                    self.remember(anchor, &node);
                    Some((node, false))
                }
                _ => return Err(error_at(mark, "unbalanced mapping end")),
            },
            other => return Err(error_at(mark, format!("unexpected YAML event {other:?}"))),
        };
        let Some((node, from_alias)) = completed else {
            return Ok(None);
        };
        self.attach(node, from_alias, mark)
    }

    fn open(&mut self, mark: &Marker) -> Result<(), LoadError> {
        self.count(mark, 1)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(error_at(
                mark,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn count(&mut self, mark: &Marker, n: usize) -> Result<(), LoadError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES_PER_DOCUMENT {
            return Err(error_at(
                mark,
                format!(
                    "document expands to more than {MAX_NODES_PER_DOCUMENT} nodes (alias bomb?)"
                ),
            ));
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors
                .insert(anchor, (node.clone(), node_count(node)));
        }
    }

    /// Places a completed node in its parent; returns it when it is the document root.
    fn attach(
        &mut self,
        node: Node,
        _from_alias: bool,
        mark: &Marker,
    ) -> Result<Option<Node>, LoadError> {
        match self.stack.last_mut() {
            None => Ok(Some(node)),
            Some(Frame::Sequence { items, .. }) => {
                items.push(node);
                Ok(None)
            }
            Some(Frame::Mapping(frame)) => {
                match frame.pending_key.take() {
                    None => {
                        let is_merge = matches!(&node.value, Value::String(s) if s == "<<");
                        let key = match node.value {
                            Value::String(s) => s,
                            Value::Bool(b) => b.to_string(),
                            Value::Int(i) => i.to_string(),
                            Value::Float(f) => f.to_string(),
                            Value::Null => "null".to_owned(),
                            Value::Sequence(_) | Value::Mapping(_) => {
                                return Err(error_at(mark, "a mapping key must be a scalar"));
                            }
                        };
                        frame.pending_key = Some(PendingKey {
                            key,
                            line: node.line,
                            col: node.col,
                            is_merge,
                        });
                    }
                    Some(PendingKey { is_merge: true, .. }) => frame.merges.push(node),
                    Some(PendingKey { key, line, col, .. }) => {
                        if !frame.explicit.insert(key.clone()) {
                            return Err(LoadError {
                                line,
                                col,
                                message: format!("duplicate key {key:?}"),
                            });
                        }
                        // A field is reported at its key's line, which is where people look for it.
                        frame.entries.push((key, Node { line, col, ..node }));
                    }
                }
                Ok(None)
            }
        }
    }
}

/// Applies `<<` merge keys: explicit keys win, then earlier merge sources over later ones.
fn finish_mapping(mut frame: MappingFrame) -> Result<Node, LoadError> {
    for source in std::mem::take(&mut frame.merges) {
        let maps: Vec<Node> = match source.value {
            Value::Mapping(_) => vec![source],
            Value::Sequence(items) => items,
            _ => {
                return Err(LoadError {
                    line: source.line,
                    col: source.col,
                    message: "a merge key (<<) needs a mapping or a list of mappings".into(),
                })
            }
        };
        for map in maps {
            let Value::Mapping(entries) = map.value else {
                return Err(LoadError {
                    line: map.line,
                    col: map.col,
                    message: "a merge key (<<) needs a mapping or a list of mappings".into(),
                });
            };
            for (k, v) in entries {
                if !frame.entries.iter().any(|(existing, _)| *existing == k) {
                    frame.entries.push((k, v));
                }
            }
        }
    }
    Ok(Node::new(
        frame.start.0,
        frame.start.1,
        Value::Mapping(frame.entries),
    ))
}

fn node_count(node: &Node) -> usize {
    // Iterative, so a deep anchored tree cannot overflow the stack here either.
    let mut count = 0usize;
    let mut pending = vec![node];
    while let Some(n) = pending.pop() {
        count = count.saturating_add(1);
        match &n.value {
            Value::Sequence(items) => pending.extend(items.iter()),
            Value::Mapping(entries) => pending.extend(entries.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    count
}

/// Resolves an unquoted scalar as go-yaml v2 does (YAML 1.1 booleans, Go integer prefixes).
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::String(text.to_owned());
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(i) = parse_go_int(&plain) {
        return Value::Int(i);
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::String(text.to_owned())
}

/// `strconv.ParseInt(s, 0, 64)`: optional sign, then `0x`, `0o`, `0b` or a leading `0` for octal.
fn parse_go_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let (radix, body) = if let Some(rest) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

fn is_yaml_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn all(text: &str) -> Result<Vec<Document>, LoadError> {
        documents(text).collect()
    }

    #[rstest]
    #[case("yes", Value::Bool(true))]
    #[case("off", Value::Bool(false))]
    #[case("~", Value::Null)]
    #[case("1000", Value::Int(1000))]
    #[case("0x1F", Value::Int(31))]
    #[case("0755", Value::Int(493))]
    #[case("-12", Value::Int(-12))]
    #[case("1_000", Value::Int(1000))]
    #[case("1.5", Value::Float(1.5))]
    #[case("1e3", Value::Float(1000.0))]
    #[case("v1.29", Value::String("v1.29".into()))]
    #[case("08", Value::Float(8.0))]
    #[case("RuntimeDefault", Value::String("RuntimeDefault".into()))]
    fn resolves_scalars_like_go_yaml_v2(#[case] text: &str, #[case] expected: Value) {
        assert_eq!(resolve_plain(text), expected);
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let docs = all("a: \"yes\"\nb: '1'\nc: !!str 2\n").unwrap();
        let root = docs[0].root.as_ref().unwrap();
        assert_eq!(root.get("a").unwrap().as_str(), Some("yes"));
        assert_eq!(root.get("b").unwrap().as_str(), Some("1"));
        assert_eq!(root.get("c").unwrap().as_str(), Some("2"));
    }

    #[test]
    fn numbers_documents_and_lines() {
        let docs = all("# c\na: 1\n---\n---\nkind: Pod\nspec:\n  x: [1, 2]\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!((docs[0].index, docs[0].line), (1, 2));
        assert!(docs[1].root.is_none());
        let pod = docs[2].root.as_ref().unwrap();
        assert_eq!(docs[2].index, 3);
        assert_eq!(pod.line, 5);
        assert_eq!(pod.get("spec").unwrap().get("x").unwrap().line, 7);
    }

    #[test]
    fn rejects_duplicate_keys_with_their_line() {
        let err = all("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("duplicate key \"a\""), "{err}");
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let err = all("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
    }

    #[test]
    fn applies_merge_keys() {
        let docs = all("base: &b {p: 1, q: 2}\nd:\n  <<: *b\n  q: 3\n").unwrap();
        let d = docs[0].root.as_ref().unwrap().get("d").unwrap();
        assert_eq!(d.get("p").unwrap().value, Value::Int(1));
        assert_eq!(d.get("q").unwrap().value, Value::Int(3));
    }

    #[test]
    fn yaml_1_1_boolean_keys_become_true_like_sigs_k8s_io_yaml() {
        let docs = all("y: 1\n").unwrap();
        assert!(docs[0].root.as_ref().unwrap().get("true").is_some());
    }

    #[test]
    fn refuses_alias_bombs() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let err = all(&text).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{err}");
    }

    #[test]
    fn refuses_deep_nesting_without_overflowing() {
        let text = "[".repeat(100_000);
        let err = all(&text).unwrap_err();
        assert!(
            err.message.contains("nesting deeper") || err.message.contains("recursion limit"),
            "{err}"
        );
    }

    #[test]
    fn reads_json() {
        let docs = all("{\"kind\": \"Pod\",\n \"spec\": {\"hostPID\": true}}").unwrap();
        let root = docs[0].root.as_ref().unwrap();
        assert_eq!(
            root.get("spec").unwrap().get("hostPID").unwrap().value,
            Value::Bool(true)
        );
        assert_eq!(root.get("spec").unwrap().line, 2);
    }
}
