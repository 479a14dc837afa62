//! Protobuf model files, which carry no magic: ONNX (`ModelProto`) and TensorFlow (`SavedModel`,
//! frozen `GraphDef`). The whole message is walked field by field with every length checked
//! against its enclosing message, streaming (tensor payloads are skipped, not held); only a stream
//! that walks cleanly is taken to be one of these formats.
//!
//! What is looked for: in ONNX, operator domains that need a custom-op library (native code from
//! outside the model) and external-data paths that leave the model's directory; in TensorFlow,
//! ops that call back into Python (`PyFunc`: arbitrary code) or touch files.

use std::io::{self, BufRead, Read};

use crate::finding::Severity;
use crate::formats::ProtoHint;
use crate::keras::LAMBDA_PATTERNS;
use crate::scan::{Ctx, Scanned, State, Trail};
use crate::stream::{Counting, Searcher, Tap};

/// Operator domains that ONNX runtimes implement themselves.
const KNOWN_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.preview.training",
    "ai.onnx.training",
    "com.microsoft",
];

/// TensorFlow ops that run Python: a SavedModel or GraphDef using them executes code on load.
const TF_CODE_OPS: &[&str] = &["PyFunc", "PyFuncStateless", "EagerPyFunc"];
/// TensorFlow ops that read or write files at a path given in the graph.
const TF_FILE_OPS: &[&str] = &["ReadFile", "WriteFile", "MatchingFiles"];

/// Nesting followed into ONNX graphs (subgraphs of If/Loop nodes sit in attributes).
const MAX_DEPTH: usize = 16;
/// Strings read to be checked; longer ones are skipped.
const MAX_STRING: u64 = 4096;

#[derive(Debug)]
enum WalkError {
    Io(io::Error),
    Bad(String),
}

impl From<io::Error> for WalkError {
    fn from(e: io::Error) -> Self {
        WalkError::Io(e)
    }
}

type Walk<T> = Result<T, WalkError>;

struct Pb<'a> {
    reader: Counting<&'a mut dyn Read>,
}

impl Pb<'_> {
    fn pos(&self) -> u64 {
        self.reader.count
    }

    fn byte(&mut self) -> Walk<Option<u8>> {
        let mut b = [0u8; 1];
        match self.reader.read(&mut b)? {
            0 => Ok(None),
            _ => Ok(Some(b[0])),
        }
    }

    fn varint(&mut self) -> Walk<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = self
                .byte()?
                .ok_or_else(|| WalkError::Bad("the stream ends inside a varint".into()))?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WalkError::Bad("a varint longer than 10 bytes".into()))
    }

    /// The next field's (number, wire type) within a message ending at `end`, or `None` at its end.
    fn field(&mut self, end: Option<u64>) -> Walk<Option<(u64, u8)>> {
        if end.is_some_and(|end| self.pos() >= end) {
            return Ok(None);
        }
        let first = if end.is_none() {
            match self.byte()? {
                None => return Ok(None),
                Some(b) => b,
            }
        } else {
            self.byte()?
                .ok_or_else(|| WalkError::Bad("the stream ends inside a message".into()))?
        };
        let mut tag = u64::from(first & 0x7f);
        if first & 0x80 != 0 {
            tag |= self.varint()? << 7;
        }
        let (number, wire) = (tag >> 3, (tag & 7) as u8);
        if number == 0 || !matches!(wire, 0 | 1 | 2 | 5) {
            return Err(WalkError::Bad(format!(
                "invalid field tag {tag} at {}",
                self.pos()
            )));
        }
        Ok(Some((number, wire)))
    }

    /// The end offset of a length-delimited field, checked against its enclosing message.
    fn len_end(&mut self, end: Option<u64>) -> Walk<u64> {
        let len = self.varint()?;
        let field_end = self
            .pos()
            .checked_add(len)
            .ok_or_else(|| WalkError::Bad("a length overflows".into()))?;
        if end.is_some_and(|end| field_end > end) {
            return Err(WalkError::Bad(format!(
                "a field of {len} bytes runs past the end of its message"
            )));
        }
        Ok(field_end)
    }

    fn skip_to(&mut self, target: u64) -> Walk<()> {
        let n = target.saturating_sub(self.pos());
        let skipped = io::copy(&mut (&mut self.reader).take(n), &mut io::sink())?;
        if skipped < n {
            return Err(WalkError::Bad("the stream ends inside a field".into()));
        }
        Ok(())
    }

    fn skip_value(&mut self, wire: u8, end: Option<u64>) -> Walk<()> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.skip_to(self.pos() + 8),
            5 => self.skip_to(self.pos() + 4),
            _ => {
                let field_end = self.len_end(end)?;
                self.skip_to(field_end)
            }
        }
    }

    /// A length-delimited string field (read if short, skipped otherwise).
    fn string(&mut self, end: Option<u64>) -> Walk<Option<String>> {
        let field_end = self.len_end(end)?;
        let len = field_end - self.pos();
        if len > MAX_STRING {
            self.skip_to(field_end)?;
            return Ok(None);
        }
        let mut data = vec![0u8; len as usize];
        self.reader
            .read_exact(&mut data)
            .map_err(|_| WalkError::Bad("the stream ends inside a string".into()))?;
        Ok(Some(String::from_utf8_lossy(&data).into_owned()))
    }

    /// Walks a message to `end` calling `each(pb, number, wire)` per field; `each` returns true if
    /// it consumed the value, false to have it skipped.
    fn message(
        &mut self,
        end: Option<u64>,
        each: &mut dyn FnMut(&mut Self, u64, u8) -> Walk<bool>,
    ) -> Walk<Vec<u64>> {
        let mut numbers = Vec::new();
        while let Some((number, wire)) = self.field(end)? {
            if !numbers.contains(&number) && numbers.len() < 64 {
                numbers.push(number);
            }
            if !each(self, number, wire)? {
                self.skip_value(wire, end)?;
            }
        }
        if end.is_some_and(|end| self.pos() != end) {
            return Err(WalkError::Bad(
                "a message's fields overrun its length".into(),
            ));
        }
        Ok(numbers)
    }
}

/// What the ONNX walk found.
#[derive(Default)]
struct Onnx {
    ir_version: Option<u64>,
    domains: Vec<String>,
    external: Vec<String>,
}

fn onnx_graph(pb: &mut Pb<'_>, end: u64, depth: usize, found: &mut Onnx) -> Walk<()> {
    if depth > MAX_DEPTH {
        return pb.skip_to(end);
    }
    pb.message(Some(end), &mut |pb, number, wire| match (number, wire) {
        // node: NodeProto { domain = 7, attribute = 5 (AttributeProto { g = 6, graphs = 11 }) }
        (1, 2) => {
            let node_end = pb.len_end(Some(end))?;
            pb.message(
                Some(node_end),
                &mut |pb, number, wire| match (number, wire) {
                    (7, 2) => {
                        if let Some(domain) = pb.string(Some(node_end))? {
                            found.domains.push(domain);
                        }
                        Ok(true)
                    }
                    (5, 2) => {
                        let attr_end = pb.len_end(Some(node_end))?;
                        pb.message(
                            Some(attr_end),
                            &mut |pb, number, wire| match (number, wire) {
                                (6 | 11, 2) => {
                                    let graph_end = pb.len_end(Some(attr_end))?;
                                    onnx_graph(pb, graph_end, depth + 1, found)?;
                                    Ok(true)
                                }
                                _ => Ok(false),
                            },
                        )?;
                        Ok(true)
                    }
                    _ => Ok(false),
                },
            )?;
            Ok(true)
        }
        // initializer: TensorProto { external_data = 13 (StringStringEntryProto { key = 1, value = 2 }) }
        (5, 2) => {
            let tensor_end = pb.len_end(Some(end))?;
            pb.message(
                Some(tensor_end),
                &mut |pb, number, wire| match (number, wire) {
                    (13, 2) => {
                        let entry_end = pb.len_end(Some(tensor_end))?;
                        let (mut key, mut value) = (None, None);
                        pb.message(
                            Some(entry_end),
                            &mut |pb, number, wire| match (number, wire) {
                                (1, 2) => {
                                    key = pb.string(Some(entry_end))?;
                                    Ok(true)
                                }
                                (2, 2) => {
                                    value = pb.string(Some(entry_end))?;
                                    Ok(true)
                                }
                                _ => Ok(false),
                            },
                        )?;
                        if key.as_deref() == Some("location") {
                            if let Some(location) = value {
                                found.external.push(location);
                            }
                        }
                        Ok(true)
                    }
                    _ => Ok(false),
                },
            )?;
            Ok(true)
        }
        _ => Ok(false),
    })?;
    Ok(())
}

fn onnx_model(pb: &mut Pb<'_>, found: &mut Onnx) -> Walk<Vec<u64>> {
    pb.message(None, &mut |pb, number, wire| match (number, wire) {
        (1, 0) => {
            found.ir_version = Some(pb.varint()?);
            Ok(true)
        }
        // opset_import: OperatorSetIdProto { domain = 1 }
        (8, 2) => {
            let opset_end = pb.len_end(None)?;
            pb.message(
                Some(opset_end),
                &mut |pb, number, wire| match (number, wire) {
                    (1, 2) => {
                        if let Some(domain) = pb.string(Some(opset_end))? {
                            found.domains.push(domain);
                        }
                        Ok(true)
                    }
                    _ => Ok(false),
                },
            )?;
            Ok(true)
        }
        (7, 2) => {
            let graph_end = pb.len_end(None)?;
            onnx_graph(pb, graph_end, 0, found)?;
            Ok(true)
        }
        // functions: FunctionProto { node = 3, domain = 10 }: their nodes' domains count too.
        (25, 2) => {
            let function_end = pb.len_end(None)?;
            pb.message(
                Some(function_end),
                &mut |pb, number, wire| match (number, wire) {
                    (3, 2) => {
                        let node_end = pb.len_end(Some(function_end))?;
                        pb.message(
                            Some(node_end),
                            &mut |pb, number, wire| match (number, wire) {
                                (7, 2) => {
                                    if let Some(domain) = pb.string(Some(node_end))? {
                                        found.domains.push(domain);
                                    }
                                    Ok(true)
                                }
                                _ => Ok(false),
                            },
                        )?;
                        Ok(true)
                    }
                    _ => Ok(false),
                },
            )?;
            Ok(true)
        }
        _ => Ok(false),
    })
}

/// Which top-level field numbers each schema has.
const ONNX_FIELDS: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26];
const SAVED_MODEL_FIELDS: &[u64] = &[1, 2];
const GRAPH_DEF_FIELDS: &[u64] = &[1, 2, 3, 4];

/// Scans a protobuf candidate. `Err(why)` if it does not walk cleanly as one of the schemas (so
/// it is not one: there is no magic to say otherwise).
pub(crate) fn scan(
    ctx: &Ctx<'_>,
    trail: &Trail,
    reader: &mut dyn BufRead,
    hint: ProtoHint,
) -> Result<Scanned, String> {
    let op_patterns: Vec<Vec<u8>> = TF_CODE_OPS
        .iter()
        .chain(TF_FILE_OPS)
        .map(|op| op_field(op))
        .collect();
    let mut patterns: Vec<&[u8]> = op_patterns.iter().map(Vec::as_slice).collect();
    patterns.extend_from_slice(LAMBDA_PATTERNS);
    let mut searcher = Searcher::new(&patterns);
    let mut onnx = Onnx::default();
    let walked = {
        let mut tap: Tap<'_, &mut dyn BufRead> = Tap {
            inner: reader,
            searcher: &mut searcher,
        };
        let mut pb = Pb {
            reader: Counting::new(&mut tap as &mut dyn Read),
        };
        match hint {
            ProtoHint::VersionFirst | ProtoHint::MetaGraphsFirst | ProtoHint::NodesFirst => {
                onnx_model(&mut pb, &mut onnx)
            }
        }
    };
    let numbers = match walked {
        Ok(numbers) => numbers,
        Err(_) if ctx.stopped() => return Ok(Scanned::new("protobuf", State::Stopped)),
        Err(WalkError::Io(e)) => return Err(format!("reading it failed: {e}")),
        Err(WalkError::Bad(why)) => return Err(why),
    };
    let subset = |allowed: &[u64]| numbers.iter().all(|n| allowed.contains(n));
    let format = if hint == ProtoHint::VersionFirst && numbers.contains(&7) && subset(ONNX_FIELDS) {
        "ONNX"
    } else if hint != ProtoHint::NodesFirst && numbers.contains(&2) && subset(SAVED_MODEL_FIELDS) {
        "TensorFlow SavedModel"
    } else if hint == ProtoHint::NodesFirst && subset(GRAPH_DEF_FIELDS) {
        "TensorFlow GraphDef"
    } else {
        return Err(format!(
            "its top-level fields {numbers:?} match no known model schema"
        ));
    };

    if format == "ONNX" {
        if onnx.ir_version.is_none() {
            ctx.report(
                crate::rules::UNPARSEABLE.code,
                Severity::Suspicious,
                trail,
                0,
                "ONNX model without an ir_version: runtimes refuse it",
            );
        }
        let mut reported = Vec::new();
        for domain in &onnx.domains {
            if !KNOWN_DOMAINS.contains(&domain.as_str()) && !reported.contains(domain) {
                reported.push(domain.clone());
                ctx.report(
                    crate::rules::ONNX_CUSTOM_OP.code,
                    Severity::Suspicious,
                    trail,
                    0,
                    format!("operator domain {domain:?} is not a standard one: running the model needs a custom-op library, native code from outside the model"),
                );
            }
        }
        for location in &onnx.external {
            let escapes = location.starts_with('/')
                || location.starts_with('\\')
                || location.as_bytes().get(1) == Some(&b':')
                || location.split(['/', '\\']).any(|part| part == "..");
            if escapes {
                ctx.report(
                    crate::rules::ONNX_EXTERNAL_DATA.code,
                    Severity::Suspicious,
                    trail,
                    0,
                    format!("a tensor's external data is read from {location:?}, outside the model's directory"),
                );
            }
        }
    }
    // Op names are matched as the op field (NodeDef field 2) encodes them, so a doc string that
    // merely mentions one does not count.
    for (index, offset) in &searcher.hits {
        let Some(op) = TF_CODE_OPS.iter().chain(TF_FILE_OPS).nth(*index) else {
            crate::keras::lambda_finding(ctx, trail, *offset, " in an embedded Keras config");
            continue;
        };
        if format == "ONNX" {
            continue;
        }
        if TF_CODE_OPS.contains(op) {
            ctx.report(
                crate::rules::TF_CODE_OP.code,
                Severity::Dangerous,
                trail,
                *offset,
                format!("TensorFlow op {op}: it calls a Python function when the graph runs"),
            );
        } else {
            ctx.report(
                crate::rules::TF_FILE_OP.code,
                Severity::Suspicious,
                trail,
                *offset,
                format!("TensorFlow op {op}: it reads or writes files at a path the graph chooses"),
            );
        }
    }
    Ok(Scanned::new(format, State::Parsed))
}

/// How a NodeDef's `op` field (2, length-delimited) encodes `op`.
fn op_field(op: &str) -> Vec<u8> {
    let mut out = vec![0x12, op.len() as u8];
    out.extend_from_slice(op.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{scan_bytes, ScanOptions};

    fn field(number: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3 | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    fn node(name: &str, op: &str) -> Vec<u8> {
        [field(1, name.as_bytes()), field(2, op.as_bytes())].concat()
    }

    #[test]
    fn saved_model_with_pyfunc() {
        let graph = [
            field(1, &node("c", "Const")),
            field(1, &node("bad", "PyFunc")),
        ]
        .concat();
        let saved = field(2, &field(2, &graph));
        let outcome = scan_bytes("saved_model.pb", &saved, &ScanOptions::default());
        assert_eq!(outcome.files[0].format, "TensorFlow SavedModel");
        let rules: Vec<_> = outcome
            .findings
            .iter()
            .map(|f| (f.rule, f.severity))
            .collect();
        assert_eq!(
            rules,
            [(crate::rules::TF_CODE_OP.code, Severity::Dangerous)]
        );
    }

    #[test]
    fn onnx_with_custom_domain_and_escaping_external_data() {
        let opset = field(8, &[field(1, b"evil.ops"), vec![0x10, 1]].concat());
        let external = field(
            13,
            &[field(1, b"location"), field(2, b"../../etc/passwd")].concat(),
        );
        let graph = field(
            7,
            &[field(1, &field(7, b"evil.ops")), field(5, &external)].concat(),
        );
        let model = [vec![0x08, 0x08], field(2, b"pytorch"), graph, opset].concat();
        let outcome = scan_bytes("m.onnx", &model, &ScanOptions::default());
        assert_eq!(outcome.files[0].format, "ONNX");
        let rules: Vec<_> = outcome.findings.iter().map(|f| f.rule).collect();
        assert_eq!(
            rules,
            [
                crate::rules::ONNX_CUSTOM_OP.code,
                crate::rules::ONNX_EXTERNAL_DATA.code
            ]
        );
    }

    #[test]
    fn plain_onnx_is_clean_and_garbage_is_not_onnx() {
        let model = [
            vec![0x08, 0x07],
            field(7, &field(1, &field(4, b"Relu"))),
            field(8, &[vec![0x10, 13]].concat()),
        ]
        .concat();
        let outcome = scan_bytes("m.onnx", &model, &ScanOptions::default());
        assert_eq!(outcome.files[0].format, "ONNX");
        assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);
        let garbage = [vec![0x08, 0x07, 0x12, 0x7f], vec![1; 10]].concat();
        let outcome = scan_bytes("m.onnx", &garbage, &ScanOptions::default());
        assert_eq!(outcome.files[0].format, "unrecognised");
        assert_eq!(outcome.findings[0].severity, Severity::Info);
    }
}
