//! Multi-document YAML (and JSON, which is YAML's flow style) into [`Node`] trees, read the way
//! `kubectl` reads it.
//!
//! kubectl turns each manifest into JSON with `sigs.k8s.io/yaml`: go-yaml v2 decodes the document
//! into Go values (YAML 1.1 scalars), then `encoding/json` writes them out. The tree built here is
//! that JSON, with a line and column on every node:
//!
//! - Scalars resolve as go-yaml v2's `resolve` does, tags included (`!!int '0'` is the number 0,
//!   `!!bool "true"` is true, `!!str 1` is a string, an unknown tag keeps the text), so
//!   `allowPrivilegeEscalation: no` means `false` here exactly as it does to kubectl. A float with
//!   no fraction (`0.0`, `0e0`, `!!float 0`) is written by `encoding/json` as an integer (`0`), which
//!   the API server accepts for an integer field, so it becomes an integer here too. `.inf` and
//!   `.nan`, which `encoding/json` refuses, are refused.
//! - Merge keys follow go-yaml v2's decoder: a mapping's entries are applied in order, each
//!   overwriting what came before, and a `<<` entry applies the merged mapping's entries at its
//!   place; so `privileged: false` followed by `<<: {privileged: true}` reads as true. The entries
//!   of a list of merged mappings are applied from the last mapping to the first, so that the
//!   earlier ones win. Only an untagged plain `<<` (or one tagged `!!merge`) merges; a quoted
//!   `"<<"` is an ordinary key.
//! - Duplicate keys written out twice are an error, as they are to the API server's strict decoder:
//!   two parsers that disagree about which of two `privileged:` keys wins is a way to smuggle a
//!   setting past a checker. So are two different keys that become one JSON key (`1` and `"1"`),
//!   which kubectl resolves by Go's random map order, and keys JSON cannot hold (null).
//! - A tab is white space inside a flow collection and at the start of a quoted scalar's
//!   continuation line, as it is to go-yaml (yaml-rust2 alone refuses both when the tab sits left
//!   of the enclosing block's indentation).
//!
//! Where this reader cannot reproduce kubectl's reading it refuses with the line, never guesses.
//!
//! The tree is built without recursion, with limits on depth and node count, and alias expansion
//! is bounded as go-yaml bounds it (the share of nodes that come from aliases) and in bytes, so
//! hostile input fails with an error instead of exhausting the stack or memory.

use std::borrow::Cow;
use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, Scanner, TScalarStyle, TokenType};

use crate::node::{Node, Value};

/// Nesting deeper than this is refused; real manifests nest about 20 levels.
pub const MAX_DEPTH: usize = 256;
/// Nodes per document, alias expansions included. Input files are at most 64 MiB, so this bounds
/// the tree's memory (a few GB at most would otherwise be possible with `[0,0,0,...]`).
pub const MAX_NODES_PER_DOCUMENT: usize = 16_000_000;
/// Bytes of scalar text that aliases may copy into one document. An alias of a 1 MB string is
/// a copy of it in the tree (and in the JSON kubectl would send), so a byte bound is needed
/// beside the node bound: one 1 MB scalar aliased 10^5 times would be 100 GB.
pub const MAX_ALIAS_BYTES_PER_DOCUMENT: usize = 32 * 1024 * 1024;
/// Characters the tab pre-pass may scan in total (it rescans once per line it fixes).
const TAB_SCAN_BUDGET: usize = 256 * 1024 * 1024;

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
    if let Some(json) = json_documents(text) {
        return Documents {
            parser: Parser::new(CowChars {
                text: Cow::Borrowed(""),
                pos: 0,
            }),
            json: Some(json.into_iter()),
            index: 0,
            done: false,
        };
    }
    Documents {
        parser: Parser::new(CowChars {
            text: normalise_tabs(text),
            pos: 0,
        }),
        json: None,
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
    parser: Parser<CowChars<'a>>,
    /// The documents of a JSON stream, read at once.
    json: Option<std::vec::IntoIter<Document>>,
    index: usize,
    done: bool,
}

/// The characters of the text the parser reads: the input itself, or a copy with tabs fixed.
#[derive(Debug)]
struct CowChars<'a> {
    text: Cow<'a, str>,
    pos: usize,
}

impl Iterator for CowChars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.text.get(self.pos..)?.chars().next()?;
        self.pos += c.len_utf8();
        Some(c)
    }
}

impl Iterator for Documents<'_> {
    type Item = Result<Document, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(json) = &mut self.json {
            return json.next().map(Ok);
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

/// go-yaml (libyaml) skips tabs as white space everywhere inside a flow collection, and in the
/// leading white space of a quoted scalar's continuation line. yaml-rust2 refuses a tab there when
/// it sits left of the enclosing block's indentation (`args:\n  [\n\t  "-jar"]`). Such lines get
/// their leading tabs replaced by spaces, one for one so that every position stays the same; that
/// white space is never content in either place. A tab anywhere else is left for the parser to
/// judge (and a leading tab in block context is an error to go-yaml too).
///
/// The scanner stops at the first such tab, so this rescans once per line it fixes, within a
/// budget; past it the text is left as it is and the parser reports the tab.
fn normalise_tabs(text: &str) -> Cow<'_, str> {
    // A lone carriage return is a line break to the scanner but not to `lines()` below.
    if !text.contains('\t') || text.replace("\r\n", "").contains('\r') {
        return Cow::Borrowed(text);
    }
    let mut current = Cow::Borrowed(text);
    let mut budget = TAB_SCAN_BUDGET;
    loop {
        let Some(budget_left) = budget.checked_sub(current.len()) else {
            return current;
        };
        budget = budget_left;
        let Some((line, message)) = first_scan_error(&current) else {
            return current;
        };
        let Some(start) = line_start(&current, line) else {
            return current;
        };
        let end = start
            + current[start..]
                .find(|c: char| c != ' ' && c != '\t')
                .unwrap_or(current.len() - start);
        if !current[start..end].contains('\t') {
            return current;
        }
        let fixable = match message.as_str() {
            // Inside a quoted scalar: its continuation lines' leading white space is dropped.
            "tab cannot be used as indentation" => true,
            // Between tokens: white space to go-yaml only inside a flow collection.
            "tabs disallowed within this context (block indentation)" => {
                flow_depth(&current[..start]).is_some_and(|depth| depth > 0)
            }
            _ => false,
        };
        if !fixable {
            return current;
        }
        let spaces = " ".repeat(end - start);
        current.to_mut().replace_range(start..end, &spaces);
    }
}

/// The 1-based line and message of the first scanner error, if any.
fn first_scan_error(text: &str) -> Option<(usize, String)> {
    let mut scanner = Scanner::new(text.chars());
    loop {
        match scanner.next_token() {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(e) => return Some((e.marker().line(), e.info().to_owned())),
        }
    }
}

/// Open flow collections at the end of `prefix` (a text cut at a line start), or `None` if the
/// prefix does not scan. The prefix ends the stream, so every token before the cut is delivered.
fn flow_depth(prefix: &str) -> Option<usize> {
    let mut scanner = Scanner::new(prefix.chars());
    let mut depth = 0usize;
    loop {
        match scanner.next_token() {
            Ok(Some(token)) => match token.1 {
                TokenType::FlowSequenceStart | TokenType::FlowMappingStart => depth += 1,
                TokenType::FlowSequenceEnd | TokenType::FlowMappingEnd => {
                    depth = depth.saturating_sub(1);
                }
                TokenType::StreamEnd => return Some(depth),
                _ => {}
            },
            Ok(None) => return Some(depth),
            Err(_) => return None,
        }
    }
}

/// The byte offset where 1-based `line` starts.
fn line_start(text: &str, line: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    if line == 1 {
        return Some(0);
    }
    text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)
}

/// What a node costs to expand again through an alias: go-yaml's decode operations (every node,
/// keys included) and the bytes of scalar text it holds.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    decodes: usize,
    bytes: usize,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.decodes = self.decodes.saturating_add(other.decodes);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// A finished node on its way to its parent.
struct Built {
    node: Node,
    /// The Go value of a scalar, which a key needs (a float key and an int key differ in Go).
    scalar: Option<Scalar>,
    /// For a mapping that may be merged: its keys' Go identities, one per entry.
    keys: Option<Vec<KeyKind>>,
    /// For a list that is a merge key's value: the keys of each of its mappings.
    item_keys: Option<Vec<Vec<KeyKind>>>,
    cost: Cost,
    from_alias: bool,
    /// A plain untagged `<<` (or `!!merge <<`), which is a merge when it is a key.
    merge_key: bool,
}

/// What an anchor names, kept to expand its aliases.
struct Anchored {
    node: Node,
    scalar: Option<Scalar>,
    keys: Option<Vec<KeyKind>>,
    cost: Cost,
}

enum Frame {
    Sequence(SequenceFrame),
    Mapping(MappingFrame),
}

struct SequenceFrame {
    start: (u32, u32),
    anchor: usize,
    items: Vec<Node>,
    /// The value of a merge key: its items' keys are needed to merge them.
    item_keys: Option<Vec<Vec<KeyKind>>>,
    cost: Cost,
}

struct MappingFrame {
    start: (u32, u32),
    anchor: usize,
    entries: Vec<(String, Node)>,
    /// Per entry: its Go key, and whether it was written out (not only merged in).
    kinds: Vec<(KeyKind, bool)>,
    /// Entry index by key, once the mapping is large enough for a linear search to cost.
    index: Option<HashMap<String, usize>>,
    pending_key: Option<PendingKey>,
    /// Whether this mapping's key identities must be handed on (anchored, or merged).
    keep_keys: bool,
    cost: Cost,
}

struct PendingKey {
    key: String,
    kind: KeyKind,
    line: u32,
    col: u32,
    is_merge: bool,
}

const INDEX_FROM: usize = 16;

impl MappingFrame {
    fn find(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    /// Sets one entry as go-yaml's decoder does: a later write replaces an earlier one.
    fn set(
        &mut self,
        key: String,
        kind: KeyKind,
        node: Node,
        explicit: bool,
        at: (u32, u32),
    ) -> Result<(), LoadError> {
        let error = |message: String| LoadError {
            line: at.0,
            col: at.1,
            message,
        };
        match self.find(&key) {
            Some(i) => {
                let (existing, was_explicit) = self.kinds[i];
                if !same_go_key(existing, kind) {
                    return Err(error(format!(
                        "two different keys both become {key:?} in JSON, and kubectl keeps one of them at random"
                    )));
                }
                if explicit && was_explicit {
                    return Err(error(format!("duplicate key {key:?}")));
                }
                self.entries[i].1 = node;
                self.kinds[i].1 = was_explicit || explicit;
            }
            None => {
                if let Some(index) = &mut self.index {
                    index.insert(key.clone(), self.entries.len());
                } else if self.entries.len() + 1 >= INDEX_FROM {
                    let mut index: HashMap<String, usize> = self
                        .entries
                        .iter()
                        .enumerate()
                        .map(|(i, (k, _))| (k.clone(), i))
                        .collect();
                    index.insert(key.clone(), self.entries.len());
                    self.index = Some(index);
                }
                self.entries.push((key, node));
                self.kinds.push((kind, explicit));
            }
        }
        Ok(())
    }

    /// A `<<` entry: the merged mapping's entries, or those of each mapping of a list, the last
    /// mapping first so that earlier ones win (go-yaml v2's `decoder.merge`).
    fn merge(&mut self, value: Built) -> Result<(), LoadError> {
        let want_map = |node: &Node| LoadError {
            line: node.line,
            col: node.col,
            message: "map merge requires map or sequence of maps as the value".into(),
        };
        let (line, col) = (value.node.line, value.node.col);
        match value.node.value {
            Value::Mapping(entries) => {
                let keys = value.keys.unwrap_or_default();
                self.merge_entries(entries, keys)
            }
            // An alias to a list is refused by go-yaml even when the list holds mappings.
            Value::Sequence(_) if value.from_alias => Err(want_map(&value.node)),
            Value::Sequence(items) => {
                let mut keys = value.item_keys.unwrap_or_default();
                if keys.len() != items.len() {
                    // Every item must be a mapping; report the first that is not.
                    return Err(match items.iter().find(|n| !n.is_mapping()) {
                        Some(bad) => want_map(bad),
                        None => want_map(&Node::new(line, col, Value::Null)),
                    });
                }
                for item in items.into_iter().rev() {
                    let item_keys = keys.pop().unwrap_or_default();
                    match item.value {
                        Value::Mapping(entries) => self.merge_entries(entries, item_keys)?,
                        _ => return Err(want_map(&item)),
                    }
                }
                Ok(())
            }
            _ => Err(want_map(&value.node)),
        }
    }

    fn merge_entries(
        &mut self,
        entries: Vec<(String, Node)>,
        keys: Vec<KeyKind>,
    ) -> Result<(), LoadError> {
        // Every merged entry must be written: one dropped here would be a key (say
        // `privileged: true`) kubectl sees and palisade does not. Refuse rather than guess.
        if keys.len() != entries.len() {
            let (line, col) = entries
                .first()
                .map(|(_, node)| (node.line, node.col))
                .unwrap_or((0, 0));
            return Err(LoadError {
                line,
                col,
                message: "a merged mapping could not be read key by key; refusing to guess how kubectl reads it".into(),
            });
        }
        for ((key, node), kind) in entries.into_iter().zip(keys) {
            let at = (node.line, node.col);
            self.set(key, kind, node, false, at)?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    /// Nodes in the tree, alias expansions included.
    nodes: usize,
    /// go-yaml's counters for its "excessive aliasing" check.
    decodes: usize,
    alias_decodes: usize,
    /// Scalar bytes copied by aliases.
    alias_bytes: usize,
}

/// go-yaml v2's `allowedAliasRatio`: the share of decode operations that may come from aliases.
fn allowed_alias_ratio(decodes: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    if decodes <= LOW {
        0.99
    } else if decodes >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decodes - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

impl TreeBuilder {
    /// Feeds one event; returns the document's root once it is complete.
    fn push(&mut self, event: Event, mark: &Marker) -> Result<Option<Node>, LoadError> {
        let (line, col) = (to_u32(mark.line()), to_u32(mark.col() + 1));
        let built = match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(mark, 1)?;
                self.decodes = self.decodes.saturating_add(1);
                // Only the untagged plain `<<` (or one tagged !!merge) is a merge key.
                let merge_key = text == "<<"
                    && match &tag {
                        None => style == TScalarStyle::Plain,
                        Some(t) => format!("{}{}", t.handle, t.suffix) == "tag:yaml.org,2002:merge",
                    };
                let cost = Cost {
                    decodes: 1,
                    bytes: text.len().saturating_add(1),
                };
                let scalar =
                    resolve_scalar(text, style, tag.as_ref()).map_err(|m| error_at(mark, m))?;
                // A key becomes a JSON key, not a value (`.inf: x` is the key ".inf").
                let value = if self.expects_key() {
                    Value::Null
                } else {
                    json_value(scalar.clone()).map_err(|m| error_at(mark, m))?
                };
                let node = Node::new(line, col, value);
                if anchor > 0 {
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            node: node.clone(),
                            scalar: Some(scalar.clone()),
                            keys: None,
                            cost,
                        },
                    );
                }
                Some(Built {
                    node,
                    scalar: Some(scalar),
                    keys: None,
                    item_keys: None,
                    cost,
                    from_alias: false,
                    merge_key,
                })
            }
            Event::Alias(id) => {
                let cost = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| error_at(mark, "alias to an unknown anchor"))?
                    .cost;
                // Bounded before anything is copied.
                self.expand(mark, cost)?;
                let as_value = !self.expects_key();
                let target = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| error_at(mark, "alias to an unknown anchor"))?;
                let node = match &target.scalar {
                    // An anchored key used as a value: its JSON value is made now.
                    Some(scalar) if as_value => Node::new(
                        line,
                        col,
                        json_value(scalar.clone()).map_err(|m| error_at(mark, m))?,
                    ),
                    _ => Node {
                        line,
                        col,
                        ..target.node.clone()
                    },
                };
                Some(Built {
                    node,
                    scalar: target.scalar.clone(),
                    keys: target.keys.clone(),
                    item_keys: None,
                    cost: Cost {
                        decodes: cost.decodes.saturating_add(1),
                        bytes: cost.bytes,
                    },
                    from_alias: true,
                    merge_key: false,
                })
            }
            Event::SequenceStart(anchor, _) => {
                self.open(mark)?;
                let merging = self.parent_merges();
                self.stack.push(Frame::Sequence(SequenceFrame {
                    start: (line, col),
                    anchor,
                    items: Vec::new(),
                    item_keys: merging.then(Vec::new),
                    cost: Cost {
                        decodes: 1,
                        bytes: 0,
                    },
                }));
                None
            }
            Event::MappingStart(anchor, _) => {
                self.open(mark)?;
                let keep_keys = anchor > 0 || self.parent_merges() || self.in_merge_list();
                self.stack.push(Frame::Mapping(MappingFrame {
                    start: (line, col),
                    anchor,
                    entries: Vec::new(),
                    kinds: Vec::new(),
                    index: None,
                    pending_key: None,
                    keep_keys,
                    cost: Cost {
                        decodes: 1,
                        bytes: 0,
                    },
                }));
                None
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Sequence(mut frame)) => {
                    frame.items.shrink_to_fit();
                    let node =
                        Node::new(frame.start.0, frame.start.1, Value::Sequence(frame.items));
                    self.remember(frame.anchor, &node, None, None, frame.cost);
                    Some(Built {
                        node,
                        scalar: None,
                        keys: None,
                        item_keys: frame.item_keys,
                        cost: frame.cost,
                        from_alias: false,
                        merge_key: false,
                    })
                }
                _ => return Err(error_at(mark, "unbalanced sequence end")),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Mapping(mut frame)) => {
                    if let Some(key) = frame.pending_key {
                        return Err(LoadError {
                            line: key.line,
                            col: key.col,
                            message: format!("key {:?} has no value", key.key),
                        });
                    }
                    frame.entries.shrink_to_fit();
                    let keys = frame
                        .keep_keys
                        .then(|| frame.kinds.iter().map(|(k, _)| *k).collect::<Vec<_>>());
                    let node =
                        Node::new(frame.start.0, frame.start.1, Value::Mapping(frame.entries));
                    self.remember(frame.anchor, &node, None, keys.clone(), frame.cost);
                    Some(Built {
                        node,
                        scalar: None,
                        keys,
                        item_keys: None,
                        cost: frame.cost,
                        from_alias: false,
                        merge_key: false,
                    })
                }
                _ => return Err(error_at(mark, "unbalanced mapping end")),
            },
            other => return Err(error_at(mark, format!("unexpected YAML event {other:?}"))),
        };
        let Some(built) = built else {
            return Ok(None);
        };
        self.attach(built)
    }

    fn open(&mut self, mark: &Marker) -> Result<(), LoadError> {
        self.count(mark, 1)?;
        self.decodes = self.decodes.saturating_add(1);
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

    /// Accounts for one alias expansion, refusing it when go-yaml would ("excessive aliasing":
    /// go-yaml checks after every node; the ratio only grows during one expansion, so checking
    /// at its end decides the same), or when it copies too many bytes.
    fn expand(&mut self, mark: &Marker, cost: Cost) -> Result<(), LoadError> {
        self.count(mark, cost.decodes)?;
        self.decodes = self.decodes.saturating_add(cost.decodes).saturating_add(1);
        self.alias_decodes = self.alias_decodes.saturating_add(cost.decodes);
        if self.alias_decodes > 100
            && self.decodes > 1000
            && self.alias_decodes as f64 / self.decodes as f64 > allowed_alias_ratio(self.decodes)
        {
            return Err(error_at(
                mark,
                "document contains excessive aliasing (alias bomb?), which kubectl refuses too",
            ));
        }
        self.alias_bytes = self.alias_bytes.saturating_add(cost.bytes);
        if self.alias_bytes > MAX_ALIAS_BYTES_PER_DOCUMENT {
            return Err(error_at(
                mark,
                format!(
                    "aliases copy more than {} MiB of text into this document (alias bomb?)",
                    MAX_ALIAS_BYTES_PER_DOCUMENT / (1024 * 1024)
                ),
            ));
        }
        Ok(())
    }

    fn remember(
        &mut self,
        anchor: usize,
        node: &Node,
        scalar: Option<Scalar>,
        keys: Option<Vec<KeyKind>>,
        cost: Cost,
    ) {
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    node: node.clone(),
                    scalar,
                    keys,
                    cost,
                },
            );
        }
    }

    /// Whether the next node is a mapping key.
    fn expects_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Mapping(MappingFrame {
                pending_key: None,
                ..
            }))
        )
    }

    /// Whether the node being opened is the value of a `<<` key.
    fn parent_merges(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Mapping(MappingFrame {
                pending_key: Some(PendingKey { is_merge: true, .. }),
                ..
            }))
        )
    }

    /// Whether the node being opened is an item of a merge key's list.
    fn in_merge_list(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Sequence(SequenceFrame {
                item_keys: Some(_),
                ..
            }))
        )
    }

    /// Places a completed node in its parent; returns it when it is the document root.
    fn attach(&mut self, built: Built) -> Result<Option<Node>, LoadError> {
        match self.stack.last_mut() {
            None => Ok(Some(built.node)),
            Some(Frame::Sequence(frame)) => {
                frame.cost.add(built.cost);
                if let (Some(item_keys), Value::Mapping(_), Some(keys)) =
                    (&mut frame.item_keys, &built.node.value, built.keys)
                {
                    item_keys.push(keys);
                }
                frame.items.push(built.node);
                Ok(None)
            }
            Some(Frame::Mapping(frame)) => {
                match frame.pending_key.take() {
                    None => {
                        let node = &built.node;
                        let scalar = match (&built.scalar, &node.value) {
                            (Some(scalar), _) => scalar.clone(),
                            _ => {
                                return Err(LoadError {
                                    line: node.line,
                                    col: node.col,
                                    message: "a mapping key must be a scalar".into(),
                                })
                            }
                        };
                        // An alias to a `<<` scalar is an ordinary key to go-yaml.
                        let is_merge = built.merge_key && !built.from_alias;
                        let (key, kind) = if is_merge {
                            ("<<".to_owned(), KeyKind::Str)
                        } else {
                            frame.cost.add(built.cost);
                            json_key(scalar).map_err(|message| LoadError {
                                line: node.line,
                                col: node.col,
                                message,
                            })?
                        };
                        frame.pending_key = Some(PendingKey {
                            key,
                            kind,
                            line: node.line,
                            col: node.col,
                            is_merge,
                        });
                    }
                    Some(PendingKey { is_merge: true, .. }) => {
                        frame.cost.add(built.cost);
                        frame.merge(built)?;
                    }
                    Some(PendingKey {
                        key,
                        kind,
                        line,
                        col,
                        ..
                    }) => {
                        frame.cost.add(built.cost);
                        // A field is reported at its key's line, which is where people look for it.
                        let node = Node {
                            line,
                            col,
                            ..built.node
                        };
                        frame.set(key, kind, node, true, (line, col))?;
                    }
                }
                Ok(None)
            }
        }
    }
}

/// kubectl decodes a stream whose first non-blank character is `{` with `encoding/json`, not with
/// go-yaml (apimachinery's `YAMLOrJSONDecoder`). Such a stream is read here as a stream of JSON
/// values with positions, which is also what keeps a 33 MB single-line `List` affordable:
/// yaml-rust2 buffers every token of a flow collection that might still turn out to be a key, to
/// the end of the collection (1.2 GB of tokens for 300,000 pods). `None` when the text is not
/// JSON; it is then read as YAML, which reads valid JSON the same way and reports the error.
fn json_documents(text: &str) -> Option<Vec<Document>> {
    let trimmed = text.trim_start_matches([' ', '\t', '\r', '\n']);
    if !trimmed.starts_with('{') {
        return None;
    }
    let mut reader = JsonReader {
        text: text.as_bytes(),
        pos: 0,
        line: 1,
        col: 1,
    };
    let mut docs = Vec::new();
    loop {
        reader.skip_ws();
        if reader.pos == reader.text.len() {
            return Some(docs);
        }
        let root = reader.value().ok()?;
        docs.push(Document {
            index: docs.len() + 1,
            line: root.line,
            root: Some(root),
        });
    }
}

struct JsonReader<'a> {
    text: &'a [u8],
    pos: usize,
    line: u32,
    /// 1-based column in characters, kept as bytes are consumed.
    col: u32,
}

/// Not JSON: the caller falls back to the YAML reader, which reports the problem.
struct NotJson;

enum JsonFrame {
    Array(u32, u32, Vec<Node>),
    Object {
        at: (u32, u32),
        entries: Vec<(String, Node)>,
        index: Option<std::collections::HashSet<String>>,
        key: Option<(String, u32, u32)>,
    },
}

impl JsonReader<'_> {
    fn bump(&mut self) {
        if let Some(&b) = self.text.get(self.pos) {
            self.pos += 1;
            if b == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                self.col += 1;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.bump();
        }
    }

    fn expect(&mut self, word: &[u8]) -> Result<(), NotJson> {
        if self.text.get(self.pos..self.pos + word.len()) != Some(word) {
            return Err(NotJson);
        }
        (0..word.len()).for_each(|_| self.bump());
        Ok(())
    }

    /// One complete value, without recursion; nesting and size bounded as the YAML reader's are.
    fn value(&mut self) -> Result<Node, NotJson> {
        let mut stack: Vec<JsonFrame> = Vec::new();
        let mut nodes = 0usize;
        loop {
            self.skip_ws();
            let (line, col) = (self.line, self.col);
            nodes += 1;
            if nodes > MAX_NODES_PER_DOCUMENT || stack.len() >= MAX_DEPTH {
                return Err(NotJson);
            }
            let mut done = match self.peek().ok_or(NotJson)? {
                b'{' => {
                    self.bump();
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.bump();
                        Node::new(line, col, Value::Mapping(Vec::new()))
                    } else {
                        stack.push(JsonFrame::Object {
                            at: (line, col),
                            entries: Vec::new(),
                            index: None,
                            key: Some(self.key()?),
                        });
                        continue;
                    }
                }
                b'[' => {
                    self.bump();
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.bump();
                        Node::new(line, col, Value::Sequence(Vec::new()))
                    } else {
                        stack.push(JsonFrame::Array(line, col, Vec::new()));
                        continue;
                    }
                }
                b'"' => Node::new(line, col, Value::String(self.string()?)),
                b't' => {
                    self.expect(b"true")?;
                    Node::new(line, col, Value::Bool(true))
                }
                b'f' => {
                    self.expect(b"false")?;
                    Node::new(line, col, Value::Bool(false))
                }
                b'n' => {
                    self.expect(b"null")?;
                    Node::new(line, col, Value::Null)
                }
                _ => Node::new(line, col, self.number()?),
            };
            // Close every container the value completes.
            loop {
                self.skip_ws();
                match stack.last_mut() {
                    None => return Ok(done),
                    Some(JsonFrame::Array(_, _, items)) => {
                        items.push(done);
                        match self.peek() {
                            Some(b',') => {
                                self.bump();
                                break;
                            }
                            Some(b']') => {
                                self.bump();
                                let Some(JsonFrame::Array(l, c, mut items)) = stack.pop() else {
                                    return Err(NotJson);
                                };
                                items.shrink_to_fit();
                                done = Node::new(l, c, Value::Sequence(items));
                            }
                            _ => return Err(NotJson),
                        }
                    }
                    Some(JsonFrame::Object {
                        entries,
                        index,
                        key,
                        ..
                    }) => {
                        let (name, kl, kc) = key.take().ok_or(NotJson)?;
                        // Duplicates are refused as in YAML; the YAML reader reports them.
                        let duplicate = match index {
                            Some(index) => !index.insert(name.clone()),
                            None => entries.iter().any(|(k, _)| *k == name),
                        };
                        if duplicate {
                            return Err(NotJson);
                        }
                        if index.is_none() && entries.len() + 1 >= INDEX_FROM {
                            let mut all: std::collections::HashSet<String> =
                                entries.iter().map(|(k, _)| k.clone()).collect();
                            all.insert(name.clone());
                            *index = Some(all);
                        }
                        entries.push((
                            name,
                            Node {
                                line: kl,
                                col: kc,
                                ..done
                            },
                        ));
                        match self.peek() {
                            Some(b',') => {
                                self.bump();
                                let next = self.key()?;
                                if let Some(JsonFrame::Object { key, .. }) = stack.last_mut() {
                                    *key = Some(next);
                                }
                                break;
                            }
                            Some(b'}') => {
                                self.bump();
                                let Some(JsonFrame::Object {
                                    at, mut entries, ..
                                }) = stack.pop()
                                else {
                                    return Err(NotJson);
                                };
                                entries.shrink_to_fit();
                                done = Node::new(at.0, at.1, Value::Mapping(entries));
                            }
                            _ => return Err(NotJson),
                        }
                    }
                }
            }
        }
    }

    /// `"name" :`, with the key's position.
    fn key(&mut self) -> Result<(String, u32, u32), NotJson> {
        self.skip_ws();
        let (line, col) = (self.line, self.col);
        if self.peek() != Some(b'"') {
            return Err(NotJson);
        }
        let name = self.string()?;
        self.skip_ws();
        self.expect(b":")?;
        Ok((name, line, col))
    }

    /// A string, as encoding/json decodes it (a lone surrogate escape becomes U+FFFD).
    fn string(&mut self) -> Result<String, NotJson> {
        self.bump(); // the opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.bump();
            }
            out.push_str(std::str::from_utf8(&self.text[start..self.pos]).map_err(|_| NotJson)?);
            match self.peek().ok_or(NotJson)? {
                b'"' => {
                    self.bump();
                    return Ok(out);
                }
                b'\\' => {
                    self.bump();
                    let escape = self.peek().ok_or(NotJson)?;
                    self.bump();
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&first)
                                && self.text.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                let save = (self.pos, self.line, self.col);
                                self.bump();
                                self.bump();
                                let second = self.hex4()?;
                                if (0xDC00..0xE000).contains(&second) {
                                    char::from_u32(
                                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00),
                                    )
                                } else {
                                    (self.pos, self.line, self.col) = save;
                                    None
                                }
                            } else {
                                char::from_u32(first)
                            };
                            out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                        }
                        _ => return Err(NotJson),
                    }
                }
                _ => return Err(NotJson),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, NotJson> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or(NotJson)?;
        let digits = std::str::from_utf8(digits).map_err(|_| NotJson)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NotJson);
        }
        let value = u32::from_str_radix(digits, 16).map_err(|_| NotJson)?;
        (0..4).for_each(|_| self.bump());
        Ok(value)
    }

    /// A number, as the API server receives it after kubectl's round trip through Go values.
    fn number(&mut self) -> Result<Value, NotJson> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.bump();
        }
        let text = std::str::from_utf8(&self.text[start..self.pos]).map_err(|_| NotJson)?;
        if !is_json_number(text) {
            return Err(NotJson);
        }
        let scalar = match text.parse::<i64>() {
            Ok(i) => Scalar::Int(i),
            Err(_) => Scalar::Float(text.parse::<f64>().map_err(|_| NotJson)?),
        };
        json_value(scalar).map_err(|_| NotJson)
    }
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A scalar as go-yaml v2 types it when decoding into `interface{}`.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX`: go-yaml makes it a `uint64`.
    Uint(u64),
    Float(f64),
    Str(String),
}

const YAML_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// go-yaml v2's `decoder.scalar` and `resolve`: an untagged quoted scalar is a string, an untagged
/// plain one is resolved, and a tag names the type the text must resolve to.
fn resolve_scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Result<Scalar, String> {
    let Some(tag) = tag else {
        return Ok(if style == TScalarStyle::Plain {
            resolve_implicit(text)
        } else {
            Scalar::Str(text)
        });
    };
    let full = format!("{}{}", tag.handle, tag.suffix);
    let short = match full.strip_prefix(YAML_TAG_PREFIX) {
        Some(short) => short,
        // Local and unknown tags (`!foo`, the non-specific `!`) are not resolvable: the text stays.
        None => return Ok(Scalar::Str(text)),
    };
    let wanted = match short {
        "str" => return Ok(Scalar::Str(text)),
        "binary" => return decode_binary(&text).map(Scalar::Str),
        "bool" | "int" | "float" | "null" | "timestamp" => short,
        // `!!merge`, `!!map`, `!!seq` and the rest: go-yaml keeps the text.
        _ => return Ok(Scalar::Str(text)),
    };
    if wanted == "timestamp" {
        // go-yaml checks the text against Go time layouts and keeps the text. Only a plain date
        // is recognised here; anything else is refused rather than guessed at.
        return if is_go_yaml_date(&text) {
            Ok(Scalar::Str(text))
        } else {
            Err(format!(
                "cannot read `{text}` as a !!timestamp the way kubectl does (only YYYY-MM-DD is supported)"
            ))
        };
    }
    let resolved = resolve_implicit(text.clone());
    let got = match &resolved {
        Scalar::Null => "null",
        Scalar::Bool(_) => "bool",
        Scalar::Int(_) | Scalar::Uint(_) => "int",
        Scalar::Float(_) => "float",
        Scalar::Str(_) => "str",
    };
    match (wanted, resolved) {
        (w, value) if w == got => Ok(value),
        // `!!float 1`: go-yaml converts a resolved int (not a uint64) to a float.
        ("float", Scalar::Int(i)) => Ok(Scalar::Float(i as f64)),
        _ => Err(format!("cannot decode !!{got} `{text}` as a !!{wanted}")),
    }
}

/// go-yaml v2's `resolve` for an untagged plain scalar (YAML 1.1 booleans, Go integer syntax).
fn resolve_implicit(text: String) -> Scalar {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    match text.as_bytes()[0] {
        // Not in the table above, so maybe a float: Go's ParseFloat on the text as it is.
        b'.' => match parse_go_float(&text) {
            Some(f) => Scalar::Float(f),
            None => Scalar::Str(text),
        },
        b'0'..=b'9' | b'-' | b'+' => {
            // A timestamp (YYYY-...) stays a string when decoded into interface{}, and none of
            // them parses as a number, so the number checks below are enough.
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(i) = parse_go_int(&plain) {
                return Scalar::Int(i);
            }
            if let Some(u) = parse_go_uint(&plain) {
                return Scalar::Uint(u);
            }
            if is_yaml_float(&plain) {
                if let Ok(f) = plain.parse::<f64>() {
                    // Go's ParseFloat fails on overflow, and go-yaml then keeps the text.
                    if f.is_finite() {
                        return Scalar::Float(f);
                    }
                }
            }
            Scalar::Str(text)
        }
        _ => Scalar::Str(text),
    }
}

/// The JSON value `encoding/json` writes for a go-yaml scalar, as the API server then reads it.
fn json_value(scalar: Scalar) -> Result<Value, String> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::Int(i),
        // Written as a JSON integer that no int64 field takes; unstructured readers see a float.
        Scalar::Uint(u) => Value::Float(u as f64),
        Scalar::Float(f) if !f.is_finite() => {
            return Err(format!(
                "{f} cannot be written as JSON, so kubectl refuses this manifest"
            ))
        }
        // encoding/json writes a float64 below 1e21 with no fraction as an integer (`0.0` -> `0`),
        // and the API server reads that into integer fields: so must the checks.
        Scalar::Float(f)
            if f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) =>
        {
            Value::Int(f as i64)
        }
        Scalar::Float(f) => Value::Float(f),
        Scalar::Str(s) => Value::String(s),
    })
}

/// A map key as Go holds it: two keys are one entry only if they have the same type and value.
#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Str,
    Int,
    Bool,
    Float(u64),
}

fn same_go_key(a: KeyKind, b: KeyKind) -> bool {
    match (a, b) {
        (KeyKind::Str, KeyKind::Str)
        | (KeyKind::Int, KeyKind::Int)
        | (KeyKind::Bool, KeyKind::Bool) => true,
        // NaN is never equal to itself, so a Go map holds each NaN key apart.
        (KeyKind::Float(x), KeyKind::Float(y)) => x == y && !f64::from_bits(x).is_nan(),
        _ => false,
    }
}

/// The JSON key sigs.k8s.io/yaml makes of a go-yaml map key (`convertToJSONableObject`).
fn json_key(scalar: Scalar) -> Result<(String, KeyKind), String> {
    Ok(match scalar {
        Scalar::Str(s) => (s, KeyKind::Str),
        Scalar::Int(i) => (i.to_string(), KeyKind::Int),
        Scalar::Bool(b) => (b.to_string(), KeyKind::Bool),
        Scalar::Float(f) => (go_format_float32(f), KeyKind::Float(f.to_bits())),
        Scalar::Null => {
            return Err("a mapping key is null, which kubectl cannot turn into JSON".into())
        }
        Scalar::Uint(u) => {
            return Err(format!(
                "mapping key {u} is a uint64, which kubectl cannot turn into JSON"
            ))
        }
    })
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, which sigs.k8s.io/yaml uses for float keys.
fn go_format_float32(f: f64) -> String {
    let x = f as f32;
    if x.is_nan() {
        return ".nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0");
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, as Go's shortest formatting does.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let nd = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    // Go uses %e when the exponent is below -4 or at least 6 (the shortest-precision rule).
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let dp = exp + 1; // digits before the decimal point
    let digit = |i: i32| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.as_bytes().get(i))
            .map_or('0', |b| char::from(*b))
    };
    let mut out = String::from(sign);
    if dp > 0 {
        (0..dp).for_each(|i| out.push(digit(i)));
    } else {
        out.push('0');
    }
    let decimals = (nd - dp).max(0);
    if decimals > 0 {
        out.push('.');
        (0..decimals).for_each(|i| out.push(digit(dp + i)));
    }
    out
}

/// `!!binary`: Go's `base64.StdEncoding.DecodeString` (line breaks ignored), then the bytes as the
/// string `encoding/json` writes (each byte that is not valid UTF-8 becomes U+FFFD).
fn decode_binary(text: &str) -> Result<String, String> {
    let invalid = || "!!binary value contains invalid base64 data".to_owned();
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b'\n' && *b != b'\r')
        .collect();
    if !clean.len().is_multiple_of(4) {
        return Err(invalid());
    }
    let mut bytes = Vec::with_capacity(clean.len() / 4 * 3);
    for (n, quad) in clean.chunks(4).enumerate() {
        let last = n + 1 == clean.len() / 4;
        let mut acc = 0u32;
        let mut pad = 0;
        for (i, &c) in quad.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                // Padding only at the end of the last quantum, and at most two.
                b'=' if last && i >= 2 => {
                    pad += 1;
                    0
                }
                _ => return Err(invalid()),
            };
            if pad > 0 && c != b'=' {
                return Err(invalid());
            }
            acc = (acc << 6) | u32::from(v);
        }
        let [_, a, b, c] = acc.to_be_bytes();
        bytes.extend_from_slice(&[a, b, c][..3 - pad]);
    }
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push(char::REPLACEMENT_CHARACTER);
                rest = after.get(1..).unwrap_or_default();
            }
        }
    }
    Ok(out)
}

/// `YYYY-M-D`, the date-only layout of go-yaml's timestamps, with Go's range checks.
fn is_go_yaml_date(s: &str) -> bool {
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let number = |p: &str, min: usize, max: usize| -> Option<u32> {
        if (min..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().ok()
        } else {
            None
        }
    };
    let (Some(y), Some(m), Some(d)) = (number(y, 4, 4), number(m, 1, 2), number(d, 1, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Resolves an unquoted, untagged scalar as kubectl ends up seeing it: go-yaml v2's resolution,
/// then the JSON `encoding/json` writes (`0.0` is the integer 0; `.inf` cannot be written). The
/// reader resolves scalars through `resolve_implicit` and `json_value` itself; this is the pair
/// as the scalar tests state it.
#[cfg(test)]
fn resolve_plain(text: &str) -> Result<Value, String> {
    json_value(resolve_implicit(text.to_owned()))
}

/// `strconv.ParseInt(s, 0, 64)`: optional sign, then `0x`, `0o`, `0b` or a leading `0` for octal.
fn parse_go_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_go_uint_digits(digits)?;
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    i64::try_from(value).ok()
}

/// `strconv.ParseUint(s, 0, 64)`: no sign.
fn parse_go_uint(s: &str) -> Option<u64> {
    parse_go_uint_digits(s)
}

fn parse_go_uint_digits(digits: &str) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let prefixed = |p: char| {
        digits.len() >= 3
            && digits.starts_with('0')
            && digits[1..].starts_with(|c: char| c.eq_ignore_ascii_case(&p))
    };
    let (radix, body) = if prefixed('x') {
        (16, &digits[2..])
    } else if prefixed('o') {
        (8, &digits[2..])
    } else if prefixed('b') {
        (2, &digits[2..])
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(body, radix).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for text that starts with a dot: digits, an optional
/// exponent, underscores only between digits; an overflow is a failure.
fn parse_go_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let digit_before = i > 0 && b[i - 1].is_ascii_digit();
            let digit_after = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !digit_before || !digit_after {
                return None;
            }
        }
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if !is_yaml_float(&plain) {
        return None;
    }
    plain.parse::<f64>().ok().filter(|f| f.is_finite())
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
    #[case("1e3", Value::Int(1000))]
    #[case("v1.29", Value::String("v1.29".into()))]
    #[case("08", Value::Int(8))]
    #[case("RuntimeDefault", Value::String("RuntimeDefault".into()))]
    fn resolves_scalars_like_go_yaml_v2(#[case] text: &str, #[case] expected: Value) {
        assert_eq!(resolve_plain(text), Ok(expected));
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

    fn root(text: &str) -> Node {
        all(text).unwrap().remove(0).root.unwrap()
    }

    fn value_at(text: &str, path: &[&str]) -> Value {
        let mut node = root(text);
        for key in path {
            node = node
                .get(key)
                .unwrap_or_else(|| panic!("no {key} in {text:?}"))
                .clone();
        }
        node.value
    }

    // Issue 12, item 4: read YAML exactly as kubectl (sigs.k8s.io/yaml, go-yaml v2) does.

    #[rstest]
    #[case::merge_after_explicit("privileged: false\n<<: {privileged: true}\n", true)]
    #[case::explicit_after_merge("<<: {privileged: true}\nprivileged: false\n", false)]
    #[case::flow_mapping("{privileged: false, <<: {privileged: true}}", true)]
    #[case::merge_of_an_alias(
        "base: &b {privileged: true}\nc:\n  privileged: false\n  <<: *b\n",
        true
    )]
    #[case::second_merge_wins("<<: {privileged: false}\n<<: {privileged: true}\n", true)]
    #[case::tagged_merge_key("privileged: false\n!!merge \"<<\": {privileged: true}\n", true)]
    fn hardening_04_merge_keys_apply_in_document_order_like_go_yaml_v2(
        #[case] text: &str,
        #[case] privileged: bool,
    ) {
        let node = root(text);
        let node = node.get("c").unwrap_or(&node);
        assert_eq!(
            node.get("privileged").unwrap().value,
            Value::Bool(privileged),
            "{text}"
        );
        assert!(node.get("<<").is_none(), "{text}");
    }

    #[test]
    fn hardening_04_merge_list_earlier_mappings_win_over_later_ones_and_over_earlier_keys() {
        let text = "a: &a {x: 1, p: a}\nb: &b {x: 2, q: b}\nc:\n  x: 0\n  w: 0\n  <<: [*a, *b, {w: 3, x: 4}]\n";
        let c = root(text).get("c").unwrap().clone();
        assert_eq!(c.get("x").unwrap().value, Value::Int(1));
        assert_eq!(c.get("w").unwrap().value, Value::Int(3));
        assert_eq!(c.get("p").unwrap().as_str(), Some("a"));
        assert_eq!(c.get("q").unwrap().as_str(), Some("b"));
    }

    #[rstest]
    #[case::double_quoted("privileged: false\n\"<<\": {privileged: true}\n")]
    #[case::single_quoted("privileged: false\n'<<': {privileged: true}\n")]
    #[case::str_tag("privileged: false\n!!str <<: {privileged: true}\n")]
    #[case::alias_to_a_merge_scalar("privileged: false\nm: &m <<\n*m : {privileged: true}\n")]
    fn hardening_04_only_a_plain_merge_key_merges(#[case] text: &str) {
        let node = root(text);
        assert_eq!(
            node.get("privileged").unwrap().value,
            Value::Bool(false),
            "{text}"
        );
        let ordinary = node.get("<<").unwrap();
        assert_eq!(
            ordinary.get("privileged").unwrap().value,
            Value::Bool(true),
            "{text}"
        );
    }

    #[rstest]
    #[case::scalar("<<: 1\n")]
    #[case::null("<<:\n")]
    #[case::alias_to_a_list("l: &l [{a: 1}]\nm:\n  <<: *l\n")]
    #[case::list_with_a_scalar("<<: [{a: 1}, 2]\n")]
    #[case::list_with_a_list("<<: [{a: 1}, [{b: 2}]]\n")]
    fn hardening_04_merge_of_anything_but_mappings_is_refused(#[case] text: &str) {
        let err = all(text).unwrap_err();
        assert!(
            err.message.contains("map merge requires map"),
            "{text}: {err}"
        );
    }

    #[rstest]
    #[case::explicit_twice("hostPID: false\nhostPID: true\n", "duplicate key")]
    #[case::int_and_string("1: a\n\"1\": b\n", "both become \"1\"")]
    #[case::float_and_int("1.0: a\n1: b\n", "both become \"1\"")]
    #[case::bool_and_string("true: a\n\"true\": b\n", "both become \"true\"")]
    #[case::yes_and_true("yes: a\ntrue: b\n", "duplicate key")]
    #[case::merged_int_and_explicit_string("<<: {1: a}\n\"1\": b\n", "both become \"1\"")]
    #[case::two_nan_keys(".nan: a\n.NaN: b\n", "both become \".nan\"")]
    #[case::null_key("~: a\n", "null")]
    #[case::empty_key(": a\n", "null")]
    #[case::uint64_key("18446744073709551615: a\n", "uint64")]
    fn hardening_04_keys_kubectl_cannot_map_to_one_json_key_are_refused(
        #[case] text: &str,
        #[case] message: &str,
    ) {
        let err = all(text).unwrap_err();
        assert!(err.message.contains(message), "{text}: {err}");
    }

    #[rstest]
    #[case("1.5", "1.5")]
    #[case("1e6", "1e+06")]
    #[case("123456.0", "123456")]
    #[case("1234567.0", "1.234567e+06")]
    #[case("0.1", "0.1")]
    #[case("0.00001", "1e-05")]
    #[case("-2.5", "-2.5")]
    #[case(".inf", ".inf")]
    #[case("16777217.0", "1.6777216e+07")]
    fn hardening_04_float_keys_are_named_as_go_formats_them(#[case] key: &str, #[case] json: &str) {
        let node = root(&format!("{key}: x\n"));
        assert!(node.get(json).is_some(), "{key} -> {node:?}");
    }

    #[rstest]
    #[case::zero_point_zero("0.0", Value::Int(0))]
    #[case::exponent("0e0", Value::Int(0))]
    #[case::negative_zero("-0.0", Value::Int(0))]
    #[case::float_tag("!!float 0.0", Value::Int(0))]
    #[case::float_tag_on_an_int("!!float 0", Value::Int(0))]
    #[case::int_tag_on_a_quoted_string("!!int '0'", Value::Int(0))]
    #[case::int_tag_hex("!!int \"0x10\"", Value::Int(16))]
    #[case::large_exponent("1e3", Value::Int(1000))]
    #[case::fraction_stays("0.5", Value::Float(0.5))]
    #[case::beyond_i64("1e20", Value::Float(1e20))]
    #[case::uint64("18446744073709551615", Value::Float(18_446_744_073_709_551_615.0))]
    #[case::overflowing_float_is_text("1e400", Value::String("1e400".into()))]
    #[case::bool_tag_on_a_quoted_string("!!bool \"true\"", Value::Bool(true))]
    #[case::bool_tag_yes("!!bool 'yes'", Value::Bool(true))]
    #[case::str_tag("!!str 0", Value::String("0".into()))]
    #[case::local_tag("!foo 0", Value::String("0".into()))]
    #[case::non_specific_tag("! 0", Value::String("0".into()))]
    #[case::verbatim_int_tag("!<tag:yaml.org,2002:int> '7'", Value::Int(7))]
    #[case::null_tag("!!null ''", Value::Null)]
    #[case::binary_tag("!!binary cm9vdA==", Value::String("root".into()))]
    #[case::binary_tag_invalid_utf8("!!binary gEE=", Value::String("\u{fffd}A".into()))]
    #[case::timestamp_tag("!!timestamp 2001-02-03", Value::String("2001-02-03".into()))]
    #[case::underscores("1_000", Value::Int(1000))]
    #[case::dot_float(".5", Value::Float(0.5))]
    fn hardening_04_scalars_are_what_the_api_server_receives_from_kubectl(
        #[case] scalar: &str,
        #[case] expected: Value,
    ) {
        assert_eq!(
            value_at(&format!("v: {scalar}\n"), &["v"]),
            expected,
            "{scalar}"
        );
    }

    #[rstest]
    #[case::infinity("v: .inf\n", "cannot be written as JSON")]
    #[case::nan("v: .nan\n", "cannot be written as JSON")]
    #[case::int_tag_on_a_word("v: !!int yes\n", "cannot decode !!bool `yes` as a !!int")]
    #[case::int_tag_on_a_float("v: !!int 1.5\n", "cannot decode !!float `1.5` as a !!int")]
    #[case::bool_tag_on_a_number("v: !!bool 1\n", "cannot decode !!int `1` as a !!bool")]
    #[case::null_tag_on_text("v: !!null x\n", "as a !!null")]
    #[case::bad_base64("v: !!binary '***'\n", "invalid base64")]
    #[case::timestamp_with_time("v: !!timestamp 2001-02-03T04:05:06Z\n", "!!timestamp")]
    fn hardening_04_scalars_kubectl_refuses_or_palisade_cannot_reproduce_are_refused(
        #[case] text: &str,
        #[case] message: &str,
    ) {
        let err = all(text).unwrap_err();
        assert!(err.message.contains(message), "{text}: {err}");
        assert_eq!(err.line, 1);
    }

    #[test]
    fn hardening_04_run_as_user_zero_point_zero_is_root() {
        let spec = "spec:\n  securityContext:\n    runAsUser: 0.0\n    runAsGroup: !!int '0'\n    runAsNonRoot: !!bool \"false\"\n";
        let sc = root(spec)
            .get("spec")
            .unwrap()
            .get("securityContext")
            .unwrap()
            .clone();
        assert_eq!(sc.get("runAsUser").unwrap().value, Value::Int(0));
        assert_eq!(sc.get("runAsGroup").unwrap().value, Value::Int(0));
        assert_eq!(sc.get("runAsNonRoot").unwrap().value, Value::Bool(false));
    }

    #[rstest]
    #[case::inline("args: [a,\tb]\n")]
    #[case::after_the_bracket("args: [\ta, b]\n")]
    #[case::line_indented_with_a_tab(
        "spec:\n  containers:\n    - args:\n        [\n\t          \"a\",\n\t       \"b\",\n        ]\n"
    )]
    #[case::flow_mapping_line("spec:\n  x:\n    {\n\t\t\tk: v, args: [a,\n\t    b]}\n")]
    fn hardening_04_a_tab_inside_a_flow_collection_is_white_space(#[case] text: &str) {
        let mut node = root(text);
        while node.get("args").is_none() {
            node = match &node.value {
                Value::Mapping(entries) => entries[0].1.clone(),
                Value::Sequence(items) => items[0].clone(),
                _ => panic!("no args in {text:?}"),
            };
        }
        let args = node.get("args").unwrap().to_json();
        assert_eq!(args, serde_json::json!(["a", "b"]), "{text:?}");
    }

    #[test]
    fn hardening_04_a_tab_in_a_quoted_continuation_line_is_white_space() {
        let text = "a:\n  b: \"x\n\t   y\"\n";
        assert_eq!(value_at(text, &["a", "b"]), Value::String("x y".into()));
    }

    #[rstest]
    #[case::block_indentation("a:\n  b: 1\n\tc: 2\n")]
    #[case::after_a_closed_flow_collection("a:\n  b: [1]\n\tc: 2\n")]
    #[case::block_list("a:\n  - b\n\t- c\n")]
    fn hardening_04_a_tab_indenting_block_content_is_still_refused(#[case] text: &str) {
        // go-yaml refuses these too ("found a tab character that violates indentation").
        let err = all(text).unwrap_err();
        assert!((2..=3).contains(&err.line), "{text:?}: {err}");
    }

    #[test]
    fn hardening_04_many_tab_lines_in_one_flow_sequence_keep_their_positions() {
        let mut text = String::from("a:\n  b:\n    [\n");
        for i in 0..300 {
            text.push_str(&format!("\t  {i},\n"));
        }
        text.push_str("    ]\n  c: end\n");
        let a = root(&text).get("a").unwrap().clone();
        let Value::Sequence(items) = &a.get("b").unwrap().value else {
            panic!("not a list")
        };
        assert_eq!(items.len(), 300);
        assert_eq!(items[299].line, 303);
        assert_eq!(a.get("c").unwrap().line, 305);
    }

    // Issue 12, item 5: alias bombs of bytes, and memory for large documents.

    #[test]
    fn hardening_05_one_large_scalar_aliased_many_times_is_refused_before_it_is_copied() {
        let big = "x".repeat(1_000_000);
        let aliases = vec!["*a"; 100_000].join(", ");
        let text = format!("a: &a \"{big}\"\nb: [{aliases}]\n");
        let started = std::time::Instant::now();
        let err = all(&text).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{err}");
        assert_eq!(err.line, 2);
        // Refused after about 32 copies, not after 10^5 (100 GB).
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }

    #[test]
    fn hardening_05_bytes_are_counted_through_nested_anchors() {
        let chunk = "y".repeat(100_000);
        let text = format!(
            "a: &a \"{chunk}\"\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [{}]\n",
            ["*b"; 40].join(", ")
        );
        let err = all(&text).unwrap_err();
        assert!(err.message.contains("MiB of text"), "{err}");
        assert_eq!(err.line, 3);
    }

    #[test]
    fn hardening_05_excessive_aliasing_is_refused_as_go_yaml_refuses_it() {
        // 99% of decode operations from aliases, below go-yaml's 400,000-operation range.
        let mut text = format!("a: &a [{}]\n", ["x"; 100].join(", "));
        text.push_str(&format!("b: &b [{}]\n", ["*a"; 100].join(", ")));
        assert!(all(&text).is_ok(), "97% from aliases is allowed");
        text.push_str(&format!("c: [{}]\n", ["*b"; 10].join(", ")));
        let err = all(&text).unwrap_err();
        assert!(err.message.contains("excessive aliasing"), "{err}");
        assert_eq!(err.line, 3);
    }

    #[test]
    fn hardening_05_ordinary_anchors_and_large_lists_are_read() {
        let env = "env: &env [{name: A, value: \"1\"}, {name: B, value: \"2\"}]\n";
        let mut text = format!("{env}pods:\n");
        for i in 0..2_000 {
            text.push_str(&format!("- {{name: p{i}, env: *env}}\n"));
        }
        let pods = root(&text).get("pods").unwrap().clone();
        let Value::Sequence(items) = &pods.value else {
            panic!("not a list")
        };
        assert_eq!(items.len(), 2_000);
        assert_eq!(items[1_999].get("env").unwrap().to_json()[1]["value"], "2");
        // More nodes than the old per-document limit of 2,000,000, none from aliases.
        let big = format!("[{}]", vec!["{a: 1}"; 700_000].join(","));
        assert!(all(&big).is_ok());
    }

    #[test]
    fn hardening_05_a_json_stream_is_read_as_json_with_the_yaml_readers_positions() {
        let json = "{\"kind\": \"List\", \"items\": [\n  {\"a\": 0.0, \"b\": 1.5, \"c\": 1e20, \"d\": -7,\n   \"e\": \"\\u00e9x\\n\", \"f\": [true, false, null, {}, []]}\n]}\n{\"second\": 2}";
        let docs = all(json).unwrap();
        assert_eq!(docs.len(), 2);
        let first = docs[0].root.as_ref().unwrap();
        let item = first.get("items").unwrap().to_json()[0].clone();
        assert_eq!(
            item,
            serde_json::json!({"a": 0, "b": 1.5, "c": 1e20, "d": -7, "e": "\u{e9}x\n", "f": [true, false, null, {}, []]})
        );
        // The same text read by the YAML reader (a `---` first) gives the same tree, positions
        // included, one line further down.
        let yaml = all(&format!(
            "---\n{}",
            json.split_once("\n{\"second\"").unwrap().0
        ))
        .unwrap();
        let mut shifted = yaml[0].root.clone().unwrap();
        let mut pending = vec![&mut shifted];
        while let Some(n) = pending.pop() {
            n.line -= 1;
            match &mut n.value {
                Value::Sequence(items) => pending.extend(items.iter_mut()),
                Value::Mapping(entries) => pending.extend(entries.iter_mut().map(|(_, v)| v)),
                _ => {}
            }
        }
        assert_eq!(&shifted, first);
        // encoding/json reads surrogate escapes, which go-yaml refuses in YAML.
        let surrogates = all("{\"e\": \"\\ud83d\\ude00\\ud800x\"}").unwrap();
        assert_eq!(
            surrogates[0]
                .root
                .as_ref()
                .unwrap()
                .get("e")
                .unwrap()
                .as_str(),
            Some("\u{1f600}\u{fffd}x")
        );
        assert_eq!(docs[1].index, 2);
        assert_eq!(docs[1].line, 5);
    }

    #[rstest]
    #[case::duplicate_key("{\"a\": 1,\n \"a\": 2}", 2, "duplicate key")]
    #[case::infinity("{\"a\":\n 1e400}", 2, "")]
    fn hardening_05_json_that_encoding_json_and_go_yaml_disagree_on_is_read_as_yaml(
        #[case] text: &str,
        #[case] line: u32,
        #[case] message: &str,
    ) {
        match all(text) {
            Err(err) => {
                assert_eq!(err.line, line, "{err}");
                assert!(err.message.contains(message), "{err}");
            }
            // go-yaml keeps an overflowing number as text, which no integer field accepts.
            Ok(docs) => assert_eq!(
                docs[0].root.as_ref().unwrap().get("a").unwrap().value,
                Value::String("1e400".into())
            ),
        }
    }

    #[test]
    fn hardening_05_flow_yaml_starting_with_a_brace_is_still_yaml() {
        let node = root("{a: yes, <<: {b: 1}}");
        assert_eq!(node.get("a").unwrap().value, Value::Bool(true));
        assert_eq!(node.get("b").unwrap().value, Value::Int(1));
    }

    /// The fuzz target `yaml_reader`'s properties over a fixed set of inputs: each tree reads back
    /// from its own JSON unchanged, and a plain `<<` merges it as go-yaml v2 does.
    #[test]
    fn hardening_04_trees_read_back_from_their_json_and_merge_like_go_yaml() {
        let samples = [
            "a: 1\nb: [x, 0.0, !!int '7', \"<<\", {c: ~}]\n\"<<\": {d: yes}\n",
            "base: &b {p: 1, q: [1, 2]}\nd:\n  <<: [*b, {r: 0e0}]\n  q: 3\n",
            "1: one\n1.5: x\ntrue: t\n1e6: m\n",
            "s: \"tab\\there\"\nu: \"\\u00e9\"\nn: -12\nf: 2.5e-3\n",
            "{kind: List, items: [{a: [\t1,\t2]}]}",
        ];
        for text in samples {
            let json = root(text).to_json();
            let again = all(&json.to_string()).unwrap()[0]
                .root
                .as_ref()
                .unwrap()
                .to_json();
            assert_eq!(again, json, "{text}");
            let serde_json::Value::Object(map) = &json else {
                panic!("not a mapping: {text}")
            };
            let read = |t: String| all(&t).unwrap()[0].root.as_ref().unwrap().to_json();
            assert_eq!(read(format!("{{<<: {json}}}")), json, "{text}");
            assert_eq!(read(format!("{{<<: [{json}, {{}}]}}")), json, "{text}");
            assert_eq!(
                read(format!("{{\"<<\": {json}}}")),
                serde_json::json!({ "<<": json }),
                "{text}"
            );
            for key in map.keys() {
                let quoted = serde_json::Value::String(key.clone());
                assert_eq!(read(format!("{{{quoted}: x, <<: {json}}}")), json, "{text}");
                let mut later = map.clone();
                later.insert(key.clone(), "x".into());
                assert_eq!(
                    read(format!("{{<<: {json}, {quoted}: x}}")),
                    serde_json::Value::Object(later.clone()),
                    "{text}"
                );
                assert_eq!(
                    read(format!("{{<<: [{{{quoted}: x}}, {json}]}}")),
                    serde_json::Value::Object(later),
                    "{text}"
                );
            }
        }
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
