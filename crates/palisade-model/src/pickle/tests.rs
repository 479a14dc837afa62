//! Scanner tests: streams written by Python (see `fixtures.rs`) and streams assembled opcode by
//! opcode below. Nothing here is ever unpickled.

use std::io::{BufReader, Read};

use rstest::rstest;

use super::fixtures::*;
use super::*;
use crate::finding::Severity;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn location() -> Location {
    Location {
        file: "model.pkl".into(),
        members: vec![],
        offset: 0,
    }
}

fn scan_with(data: &[u8], limits: &Limits) -> (Vec<Finding>, Result<Summary, PickleError>) {
    let mut out = Vec::new();
    let mut reader: &[u8] = data;
    let result = scan_stream(
        &mut reader,
        &location(),
        &Policy::default(),
        limits,
        &mut out,
    );
    (out, result)
}

fn scan(data: &[u8]) -> (Vec<Finding>, Result<Summary, PickleError>) {
    scan_with(data, &Limits::default())
}

/// Scans a stream that must parse, returning its findings and summary.
fn scan_ok(data: &[u8]) -> (Vec<Finding>, Summary) {
    let (findings, result) = scan(data);
    match result {
        Ok(summary) => (findings, summary),
        Err(e) => panic!("scan failed: {e}; findings: {findings:#?}"),
    }
}

/// The globals of the Dangerous findings.
fn dangerous(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Dangerous)
        .map(|f| f.global.clone().unwrap_or_else(|| format!("<{}>", f.rule)))
        .collect()
}

fn rules(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule).collect()
}

/// Assembles a pickle opcode by opcode.
#[derive(Default, Clone)]
struct P(Vec<u8>);

impl P {
    fn new() -> Self {
        P::default()
    }
    fn op(mut self, op: u8) -> Self {
        self.0.push(op);
        self
    }
    fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn proto(self, n: u8) -> Self {
        self.op(0x80).raw(&[n])
    }
    fn frame(self, len: u64) -> Self {
        self.op(0x95).raw(&len.to_le_bytes())
    }
    /// SHORT_BINUNICODE
    fn s(self, text: &str) -> Self {
        let n = u8::try_from(text.len()).unwrap();
        self.op(0x8c).raw(&[n]).raw(text.as_bytes())
    }
    /// SHORT_BINBYTES or BINBYTES
    fn bytes(self, data: &[u8]) -> Self {
        match u8::try_from(data.len()) {
            Ok(n) => self.op(b'C').raw(&[n]).raw(data),
            Err(_) => self
                .op(b'B')
                .raw(&u32::try_from(data.len()).unwrap().to_le_bytes())
                .raw(data),
        }
    }
    fn global(self, module: &str, name: &str) -> Self {
        self.op(b'c').raw(format!("{module}\n{name}\n").as_bytes())
    }
    fn stack_global(self) -> Self {
        self.op(0x93)
    }
    fn memoize(self) -> Self {
        self.op(0x94)
    }
    fn binput(self, i: u8) -> Self {
        self.op(b'q').raw(&[i])
    }
    fn binget(self, i: u8) -> Self {
        self.op(b'h').raw(&[i])
    }
    fn int(self, n: i32) -> Self {
        self.op(b'J').raw(&n.to_le_bytes())
    }
    fn tuple1(self) -> Self {
        self.op(0x85)
    }
    fn reduce(self) -> Self {
        self.op(b'R')
    }
    fn stop(self) -> Self {
        self.op(b'.')
    }
    /// `os.system("echo hi")`, by GLOBAL.
    fn system(self) -> Self {
        self.global("os", "system").s("echo hi").tuple1().reduce()
    }
    /// A joblib `NumpyArrayWrapper` and its BUILD, as joblib's pickler writes them (protocol 2+).
    fn wrapper(self, dtype: &str, shape: &[i32], aligned: bool) -> Self {
        let mut p = self
            .global("joblib.numpy_pickle", "NumpyArrayWrapper")
            .memoize()
            .op(b')')
            .op(0x81)
            .memoize()
            .op(b'}')
            .memoize()
            .op(b'(')
            .s("subclass")
            .global("numpy", "ndarray")
            .s("shape")
            .op(b'(');
        for &d in shape {
            p = p.int(d);
        }
        p = p
            .op(b't')
            .s("order")
            .s("C")
            .s("dtype")
            .global("numpy", "dtype")
            .s(dtype)
            .op(0x89)
            .op(0x88)
            .op(0x87)
            .reduce()
            .memoize()
            .op(b'(')
            .int(3)
            .s("<")
            .op(b'N')
            .op(b'N')
            .op(b'N')
            .int(flexible_elsize(dtype))
            .int(-1)
            .int(if dtype.starts_with('O') { 63 } else { 0 })
            .op(b't')
            .op(b'b')
            .s("allow_mmap")
            .op(0x88);
        if aligned {
            p = p.s("numpy_array_alignment_bytes").int(16);
        }
        p.op(b'u').op(b'b')
    }
    fn build(self) -> Vec<u8> {
        self.0
    }
}

/// numpy's state `elsize` for flexible dtypes (bytes per item), -1 for the others.
fn flexible_elsize(dtype: &str) -> i32 {
    let n = |d: &str| d[1..].parse::<i32>().unwrap();
    match dtype.as_bytes()[0] {
        b'U' => 4 * n(dtype),
        b'S' | b'V' => n(dtype),
        _ => -1,
    }
}

// ---- protocols -----------------------------------------------------------------------------

#[rstest]
#[case(0, P0_BENIGN, P0_SYSTEM)]
#[case(1, P1_BENIGN, P1_SYSTEM)]
#[case(2, P2_BENIGN, P2_SYSTEM)]
#[case(3, P3_BENIGN, P3_SYSTEM)]
#[case(4, P4_BENIGN, P4_SYSTEM)]
#[case(5, P5_BENIGN, P5_SYSTEM)]
fn every_protocol(#[case] protocol: u8, #[case] benign: &str, #[case] system: &str) {
    let (findings, summary) = scan_ok(&hex(benign));
    assert!(findings.is_empty(), "protocol {protocol}: {findings:#?}");
    assert_eq!(summary.pickles, 1);
    assert!(
        summary.globals.iter().all(|g| {
            [
                "collections.OrderedDict",
                "builtins.set",
                "__builtin__.set",
                "builtins.frozenset",
                "__builtin__.frozenset",
                "_codecs.encode",
                "builtins.bytearray",
                "__builtin__.bytearray",
            ]
            .contains(&g.as_str())
        }),
        "protocol {protocol}: {:?}",
        summary.globals
    );

    let (findings, summary) = scan_ok(&hex(system));
    assert_eq!(
        dangerous(&findings),
        ["posix.system"],
        "protocol {protocol}"
    );
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, RULE_DANGEROUS);
    assert!(
        f.message
            .contains("executes a shell command when the pickle is loaded"),
        "{}",
        f.message
    );
    // The offset is the GLOBAL/STACK_GLOBAL opcode's.
    let data = hex(system);
    let op = data[f.location.offset as usize];
    assert!(
        op == b'c' || op == 0x93,
        "protocol {protocol}: opcode {op:#x} at {}",
        f.location.offset
    );
    assert!(summary.globals.contains(&"posix.system".to_string()));
}

// ---- memo tricks around STACK_GLOBAL ---------------------------------------------------------

#[rstest]
#[case::binput_binget(P::new().proto(4).s("os").binput(1).op(b'0').s("system").binput(2).op(b'0')
    .binget(1).binget(2).stack_global())]
#[case::memoize_text_get(P::new().proto(4).s("os").memoize().op(b'0').s("system").memoize().op(b'0')
    .raw(b"g0\ng1\n").stack_global())]
#[case::long_binput(P::new().proto(4).s("os").op(b'r').raw(&70000u32.to_le_bytes())
    .s("system").op(b'j').raw(&70000u32.to_le_bytes()).op(b'0')
    .op(b'j').raw(&70000u32.to_le_bytes()).op(b'0').stack_global())]
#[case::protocol0_put_get(P::new().raw(b"Vos\np2\n0Vsystem\np3\n0g2\ng3\n").stack_global())]
#[case::dup_and_pop(P::new().proto(4).s("os").s("system").op(b'2').op(b'0').stack_global())]
#[case::overwritten_memo(P::new().proto(4).s("collections").binput(0).op(b'0').s("os").binput(0)
    .op(b'0').binget(0).s("system").stack_global())]
#[case::short_binstring(P::new().proto(2).op(b'U').raw(b"\x02os").op(b'T').raw(&6i32.to_le_bytes())
    .raw(b"system").stack_global())]
#[case::escaped_string(P::new().raw(b"S'\\x6fs'\nS\"sys\\164em\"\n").stack_global())]
#[case::escaped_unicode(P::new().raw(b"V\\u006fs\nVsys\\u0074em\n").stack_global())]
#[case::binunicode(P::new().op(b'X').raw(&2u32.to_le_bytes()).raw(b"os")
    .op(0x8d).raw(&6u64.to_le_bytes()).raw(b"system").stack_global())]
#[case::dotted_walk(P::new().proto(4).s("torch.serialization").s("os.system").stack_global())]
#[case::ufunc_resolver(P::new().proto(2).global("numpy.core", "_ufunc_reconstruct").s("os").s("system")
    .op(0x86).reduce())]
fn stack_global_operands_are_followed(#[case] p: P) {
    let data = p.tuple1().op(b'N').stop().build();
    // Whatever the trick, the global that runs is named.
    let (findings, _) = scan(&data);
    let names = dangerous(&findings);
    assert!(
        names
            .iter()
            .any(|g| g == "os.system" || g == "torch.serialization.os.system"),
        "{names:?} {findings:#?}"
    );
}

#[test]
fn the_memo_decides_not_the_last_string_pushed() {
    // "collections" is pushed right before STACK_GLOBAL, but the module comes from the memo.
    let data = P::new()
        .proto(4)
        .s("posix")
        .memoize()
        .op(b'0')
        .s("collections")
        .op(b'0')
        .binget(0)
        .s("system")
        .stack_global()
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    assert_eq!(dangerous(&findings), ["posix.system"]);
}

#[rstest]
#[case::int_operand(P::new().proto(4).int(42).s("system"))]
#[case::none_operand(P::new().proto(4).s("os").op(b'N'))]
#[case::call_result(P::new().proto(4).global("builtins", "str").s("os").tuple1().reduce().s("system"))]
// rot13 turns text into other text: the operand is not the constant it looks like.
#[case::codec_result(P::new().proto(2).global("_codecs", "encode").s("bf").s("rot13").op(0x86).reduce()
    .s("system"))]
#[case::global_operand(P::new().proto(4).global("collections", "OrderedDict").s("x"))]
fn unresolved_stack_global_is_dangerous(#[case] p: P) {
    let data = p.stack_global().stop().build();
    let (findings, _) = scan_ok(&data);
    assert!(rules(&findings).contains(&RULE_UNRESOLVED), "{findings:#?}");
    let f = findings.iter().find(|f| f.rule == RULE_UNRESOLVED).unwrap();
    assert_eq!(f.severity, Severity::Dangerous);
    assert!(f.message.contains("cannot be verified"));
}

#[test]
fn too_long_global_names_cannot_be_verified() {
    let limits = Limits {
        max_kept_bytes: 8,
        ..Limits::default()
    };
    let data = P::new().global("os", "a_very_long_name").stop().build();
    let (findings, result) = scan_with(&data, &limits);
    result.unwrap();
    assert_eq!(dangerous(&findings), [format!("<{RULE_UNRESOLVED}>")]);
}

// ---- frames, stacked pickles, trailing bytes ---------------------------------------------------

#[test]
fn opcodes_may_straddle_frames() {
    // The first frame ends inside SHORT_BINUNICODE "posix": frames are only length prefixes,
    // and CPython's C unpickler reads straight on.
    let data = P::new()
        .proto(4)
        .frame(3)
        .s("posix")
        .frame(9)
        .s("system")
        .stack_global()
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    assert_eq!(dangerous(&findings), ["posix.system"]);
}

#[test]
fn stacked_pickles_payload_in_the_second() {
    let data = P::new()
        .proto(4)
        .op(b'}')
        .s("weights")
        .s("safe")
        .op(b's')
        .stop()
        .proto(4)
        .s("builtins")
        .s("eval")
        .stack_global()
        .s("1+1")
        .tuple1()
        .reduce()
        .stop()
        .build();
    let (findings, summary) = scan_ok(&data);
    assert_eq!(dangerous(&findings), ["builtins.eval"]);
    assert_eq!(summary.pickles, 2);
    assert_eq!(summary.trailing_bytes, 0);
}

#[test]
fn trailing_garbage_ends_the_scan_without_error() {
    let mut data = P::new().proto(2).op(b'N').stop().build();
    data.extend_from_slice(b"\n\n\t\t");
    let (findings, summary) = scan_ok(&data);
    assert!(findings.is_empty());
    assert_eq!((summary.pickles, summary.trailing_bytes), (1, 4));

    // Bytes that start like an opcode but do not form a pickle (a legacy PyTorch storage
    // header): reported in the summary, not as an error.
    let mut data = P::new().proto(2).op(b'N').stop().build();
    data.extend_from_slice(&[b'K', 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    let (_, summary) = scan_ok(&data);
    assert_eq!(summary.trailing_bytes, 11);
    assert!(summary.trailing_error.is_some());
}

#[test]
fn a_broken_second_pickle_still_reports_what_it_named() {
    let data = P::new()
        .proto(2)
        .op(b'N')
        .stop()
        .proto(2)
        .global("os", "system")
        .raw(&[0xff, 0xff])
        .build();
    let (findings, result) = scan(&data);
    assert_eq!(dangerous(&findings), ["os.system"]);
    assert!(result
        .unwrap()
        .trailing_error
        .unwrap()
        .contains("unknown opcode"));
}

// ---- joblib ------------------------------------------------------------------------------------

#[rstest]
#[case::logreg(LOGREG_JOBLIB, 4)]
#[case::tree_pipeline(TREE_PIPELINE_JOBLIB, 7)]
#[case::mixed(MIXED_JOBLIB, 4)]
#[case::protocol2(P2_JOBLIB, 1)]
#[case::protocol0(P0_JOBLIB, 1)]
fn real_joblib_files_are_clean(#[case] file: &str, #[case] arrays: u64) {
    let (findings, summary) = scan_ok(&hex(file));
    assert!(findings.is_empty(), "{findings:#?}");
    assert_eq!(summary.arrays, arrays);
    assert_eq!(summary.pickles, 1);
    assert_eq!(summary.trailing_bytes, 0);
}

#[rstest]
#[case::pipeline_protocol2(TREE_PIPELINE_P2_PKL)]
#[case::pipeline_protocol5(TREE_PIPELINE_P5_PKL)]
fn real_sklearn_pickles_are_clean(#[case] file: &str) {
    let (findings, summary) = scan_ok(&hex(file));
    assert!(findings.is_empty(), "{findings:#?}");
    assert!(summary
        .globals
        .contains(&"sklearn.tree._tree.Tree".to_string()));
}

#[test]
fn joblib_object_array_is_a_nested_pickle() {
    let (_, summary) = scan_ok(&hex(MIXED_JOBLIB));
    assert_eq!(summary.nested_pickles, 1);
}

/// Raw array bytes that would derail a parser that read them as opcodes: `N.` stops a pickle.
const DECOY: &[u8] = b"N.N.N.N.N.N.N.N.";

#[rstest]
#[case::aligned(true)]
#[case::unaligned(false)]
fn payload_after_a_joblib_array_is_found(#[case] aligned: bool) {
    let mut p = P::new().proto(4).wrapper("u1", &[16], aligned);
    if aligned {
        p = p.raw(&[3, 0xff, 0xff, 0xff]);
    }
    let data = p.raw(DECOY).stop().proto(4).system().stop().build();
    let (findings, summary) = scan_ok(&data);
    assert_eq!(dangerous(&findings), ["os.system"], "{findings:#?}");
    assert_eq!(
        (summary.pickles, summary.arrays, summary.array_bytes),
        (2, 1, 16)
    );
    assert_eq!(summary.trailing_bytes, 0);
}

#[rstest]
#[case::protocol2_shape_2x4_f2("f2", &[2, 4], 16)]
#[case::zero_d("f8", &[], 8)]
#[case::empty("i4", &[0, 5], 0)]
#[case::complex("c16", &[1], 16)]
#[case::unicode("U2", &[2], 16)]
#[case::bool("b1", &[16], 16)]
fn array_byte_counts(#[case] dtype: &str, #[case] shape: &[i32], #[case] nbytes: usize) {
    let data = P::new()
        .proto(2)
        .wrapper(dtype, shape, false)
        .raw(&DECOY.repeat(2)[..nbytes])
        .op(b'0')
        .system()
        .stop()
        .build();
    let (findings, summary) = scan_ok(&data);
    assert_eq!(dangerous(&findings), ["os.system"], "{dtype}");
    assert_eq!(summary.array_bytes, nbytes as u64, "{dtype}");
}

#[test]
fn wrapper_built_mid_frame_reads_its_array_after_the_frame() {
    // joblib's unpickler holds the whole frame, so the array comes from the file after it, and
    // the rest of the frame is parsed afterwards.
    let inner = P::new()
        .wrapper("u1", &[8], false)
        .op(b'0')
        .system()
        .stop()
        .build();
    let data = P::new()
        .proto(4)
        .frame(inner.len() as u64)
        .raw(&inner)
        .raw(&DECOY[..8])
        .proto(4)
        .global("posix", "system")
        .stop()
        .build();
    let (findings, summary) = scan_ok(&data);
    let mut names = dangerous(&findings);
    names.sort();
    assert_eq!(names, ["os.system", "posix.system"], "{findings:#?}");
    assert_eq!((summary.arrays, summary.array_bytes), (1, 8));
}

#[test]
fn object_array_nested_pickle_with_payload() {
    let data = P::new()
        .proto(4)
        .wrapper("O8", &[1], true)
        .proto(2)
        .system()
        .stop()
        .op(b'0')
        .op(b'N')
        .stop()
        .build();
    let (findings, summary) = scan_ok(&data);
    assert_eq!(dangerous(&findings), ["os.system"]);
    assert_eq!(
        (summary.arrays, summary.nested_pickles, summary.pickles),
        (1, 1, 1)
    );
}

#[test]
fn array_bytes_hiding_opcodes_are_read_as_a_plain_loader_would() {
    // joblib skips these 12 bytes; pickle.load of the same file would import os.system.
    let data = P::new()
        .proto(2)
        .wrapper("u1", &[12], false)
        .raw(b"cos\nsystem\n0")
        .stop()
        .build();
    let (findings, summary) = scan_ok(&data);
    assert_eq!(dangerous(&findings), ["os.system"]);
    assert!(findings[0].message.contains("joblib reads as array data"));
    assert_eq!(summary.array_bytes, 12);
}

#[test]
fn array_bytes_that_rewrite_the_memo_are_ambiguous() {
    let data = P::new()
        .proto(2)
        .wrapper("u1", &[2], false)
        .raw(b"N\x94")
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    assert_eq!(rules(&findings), [RULE_AMBIGUOUS_ARRAY]);
    assert_eq!(findings[0].severity, Severity::Suspicious);
}

#[rstest]
#[case::unknown_code(P::new().proto(2).wrapper("x9", &[4], false))]
#[case::no_shape(P::new().proto(2).global("joblib.numpy_pickle", "NumpyArrayWrapper").op(b')').op(0x81)
    .op(b'}').s("dtype").global("numpy", "dtype").s("f8").tuple1().reduce().op(b's').op(b'b'))]
fn unreadable_arrays_are_reported(#[case] p: P) {
    let data = p.stop().build();
    let (findings, _) = scan(&data);
    assert_eq!(rules(&findings), [RULE_ARRAY], "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Suspicious);
}

#[test]
fn truncated_array_data_is_an_error() {
    let data = P::new()
        .proto(2)
        .wrapper("f8", &[100], false)
        .raw(&[0; 10])
        .build();
    let (_, result) = scan(&data);
    assert!(result.unwrap_err().message.contains("joblib array data"));
}

#[test]
fn a_plain_pickle_of_a_wrapper_in_bytes_is_not_skipped() {
    // Inside pickle.loads there is no joblib: the bytes after the BUILD are opcodes.
    let inner = P::new()
        .proto(2)
        .wrapper("u1", &[11], false)
        .raw(b"cos\nsystem\n")
        .stop()
        .build();
    let data = P::new()
        .proto(4)
        .global("pickle", "loads")
        .bytes(&inner)
        .tuple1()
        .reduce()
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    let nested = findings
        .iter()
        .find(|f| f.global.as_deref() == Some("os.system"))
        .expect("the nested os.system");
    assert!(!nested.message.contains("array data"), "{}", nested.message);
}

// ---- nested pickles ----------------------------------------------------------------------------

fn inner_system() -> Vec<u8> {
    P::new().proto(4).system().stop().build()
}

#[test]
fn nested_pickle_passed_to_loads() {
    let outer = P::new().proto(4).global("pickle", "loads");
    let payload_at = outer.0.len() + 2;
    let data = outer
        .bytes(&inner_system())
        .tuple1()
        .reduce()
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    let mut names = dangerous(&findings);
    names.sort();
    assert_eq!(names, ["os.system", "pickle.loads"]);
    let nested = findings
        .iter()
        .find(|f| f.global.as_deref() == Some("os.system"))
        .unwrap();
    assert_eq!(
        nested.location.members,
        [format!("nested pickle at offset {payload_at}")]
    );
    assert_eq!(
        nested.location.offset, 2,
        "the GLOBAL inside the nested pickle"
    );
}

#[test]
fn nested_pickle_too_long_to_keep_is_scanned_in_place() {
    let limits = Limits {
        max_kept_bytes: 8,
        ..Limits::default()
    };
    let data = P::new()
        .proto(4)
        .global("_pickle", "loads")
        .bytes(&inner_system())
        .tuple1()
        .reduce()
        .stop()
        .build();
    let (findings, result) = scan_with(&data, &limits);
    result.unwrap();
    let mut names = dangerous(&findings);
    names.sort();
    assert_eq!(names, ["_pickle.loads", "os.system"]);
}

#[test]
fn nested_pickle_in_a_latin1_string() {
    // Protocol 2 writes bytes as _codecs.encode(text, 'latin1').
    let inner = inner_system();
    let text: String = inner.iter().map(|&b| char::from(b)).collect();
    let mut p = P::new()
        .proto(2)
        .global("pickle", "loads")
        .global("_codecs", "encode");
    p = p
        .op(b'X')
        .raw(&u32::try_from(text.len()).unwrap().to_le_bytes())
        .raw(text.as_bytes());
    let data = p
        .s("latin1")
        .op(0x86)
        .reduce()
        .tuple1()
        .reduce()
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    let nested = findings
        .iter()
        .find(|f| f.global.as_deref() == Some("os.system"));
    assert!(nested.is_some(), "{findings:#?}");
}

#[test]
fn embedded_but_not_loaded_pickle_is_suspicious() {
    let data = P::new()
        .proto(4)
        .op(b'}')
        .s("blob")
        .bytes(&inner_system())
        .op(b's')
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    assert_eq!(rules(&findings), [RULE_NESTED]);
    assert_eq!(findings[0].severity, Severity::Suspicious);
    assert_eq!(findings[0].global.as_deref(), Some("os.system"));
}

#[test]
fn nesting_depth_is_bounded() {
    let mut blob = inner_system();
    for _ in 0..4 {
        blob = P::new()
            .proto(4)
            .global("pickle", "loads")
            .bytes(&blob)
            .tuple1()
            .reduce()
            .stop()
            .build();
    }
    let deep = Limits {
        max_nesting: 2,
        ..Limits::default()
    };
    let (findings, _) = scan_with(&blob, &deep);
    assert!(!dangerous(&findings).contains(&"os.system".to_string()));
    let (findings, _) = scan(&blob);
    assert!(dangerous(&findings).contains(&"os.system".to_string()));
}

// ---- errors --------------------------------------------------------------------------------------

#[test]
fn truncated_after_a_payload_reports_both() {
    let data = P::new().proto(4).system().s("more").build();
    let cut = &data[..data.len() - 2];
    let (findings, result) = scan(cut);
    assert_eq!(dangerous(&findings), ["os.system"]);
    let err = result.unwrap_err();
    assert!(err.message.contains("truncated"), "{err}");
    assert_eq!(
        err.offset,
        (data.len() - 6) as u64,
        "the offset of the cut opcode"
    );
}

#[rstest]
#[case::binbytes8_huge(P::new().proto(4).op(0x8e).raw(&(1u64 << 62).to_le_bytes()), "truncated")]
#[case::binbytes8_beyond_max(P::new().proto(4).op(0x8e).raw(&u64::MAX.to_le_bytes()), "maximum")]
#[case::binunicode8_beyond_max(P::new().proto(4).op(0x8d).raw(&(1u64 << 63).to_le_bytes()), "maximum")]
#[case::bytearray8_huge(P::new().proto(5).op(0x96).raw(&(1u64 << 40).to_le_bytes()), "truncated")]
#[case::binunicode_huge(P::new().proto(3).op(b'X').raw(&u32::MAX.to_le_bytes()), "truncated")]
#[case::long4_huge(P::new().proto(2).op(0x8b).raw(&i32::MAX.to_le_bytes()), "truncated")]
#[case::long4_negative(P::new().proto(2).op(0x8b).raw(&(-1i32).to_le_bytes()), "negative")]
#[case::binstring_negative(P::new().op(b'T').raw(&(-5i32).to_le_bytes()), "negative")]
#[case::frame_huge(P::new().proto(4).frame(u64::MAX), "FRAME")]
#[case::unknown_opcode(P::new().proto(2).op(b'N').op(0xff), "unknown opcode 0xff")]
#[case::bad_utf8(P::new().proto(4).op(0x8c).raw(&[2, 0xff, 0xfe]), "UTF-8")]
#[case::bad_global_utf8(P::new().raw(b"cos\n\xffsystem\n"), "UTF-8")]
#[case::underflow(P::new().proto(2).reduce(), "underflow")]
#[case::underflow_below_mark(P::new().proto(2).op(b'N').op(b'(').reduce(), "underflow")]
#[case::no_mark(P::new().proto(2).op(b't'), "MARK")]
#[case::missing_memo(P::new().proto(2).binget(7), "memo key 7")]
#[case::negative_put(P::new().op(b'N').raw(b"p-1\n"), "negative")]
#[case::bad_int(P::new().raw(b"I12x\n"), "INT")]
#[case::unquoted_string(P::new().raw(b"Sabc\n"), "quoted")]
#[case::protocol_6(P::new().proto(6), "protocol 6")]
#[case::odd_dict(P::new().op(b'(').op(b'N').op(b'd'), "odd")]
#[case::ext_zero(P::new().op(0x82).raw(&[0]), "EXT")]
#[case::no_stop(P::new().proto(2).op(b'N'), "no STOP")]
fn broken_streams_are_errors(#[case] p: P, #[case] what: &str) {
    let (_, result) = scan(&p.build());
    let err = result.unwrap_err();
    assert!(err.message.contains(what), "{what}: {err}");
}

#[test]
fn empty_stream_is_an_error() {
    assert!(scan(b"").1.is_err());
}

#[test]
fn a_full_memo_stops_tracking_and_what_it_hides_is_unresolvable() {
    let limits = Limits {
        max_memo: 2,
        ..Limits::default()
    };
    // Two entries fill the memo; "os" and "system" go in untracked and come back unknown.
    let p = P::new()
        .proto(4)
        .op(b'N')
        .memoize()
        .memoize()
        .s("os")
        .memoize()
        .op(b'0')
        .s("system")
        .memoize()
        .op(b'0')
        .raw(b"h\x02h\x03")
        .stack_global()
        .stop();
    let (findings, result) = scan_with(&p.build(), &limits);
    assert!(result.is_ok(), "{result:?}");
    assert!(
        findings
            .iter()
            .any(|f| f.rule == RULE_UNRESOLVED && f.severity == Severity::Dangerous),
        "{findings:?}"
    );
}

#[rstest]
#[case::stack(Limits { max_stack: 4, ..Limits::default() }, P::new().proto(4).op(b'N').op(b'N').op(b'N')
    .op(b'N').op(b'N'))]
fn limits_are_errors(#[case] limits: Limits, #[case] p: P) {
    let (_, result) = scan_with(&p.stop().build(), &limits);
    assert!(result.unwrap_err().message.contains("limit"));
}

#[test]
fn limit_errors_after_a_first_pickle_are_still_errors() {
    let limits = Limits {
        max_stack: 2,
        ..Limits::default()
    };
    let data = P::new()
        .proto(4)
        .op(b'N')
        .stop()
        .op(b'N')
        .op(b'N')
        .op(b'N')
        .stop()
        .build();
    assert!(scan_with(&data, &limits).1.is_err());
}

// ---- other opcodes and rules ---------------------------------------------------------------------

#[test]
fn extension_codes_are_suspicious() {
    let data = P::new()
        .proto(2)
        .op(0x82)
        .raw(&[1])
        .op(b')')
        .reduce()
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    assert!(rules(&findings).contains(&RULE_EXTENSION));
    assert!(findings
        .iter()
        .filter(|f| f.rule == RULE_EXTENSION)
        .all(|f| f.severity == Severity::Suspicious));
    // Calling what the extension code names is calling something nobody vouched for.
    assert_eq!(dangerous(&findings), ["<model/indirect-call>"]);
}

#[test]
fn persistent_ids_are_not_findings() {
    let data = P::new()
        .proto(2)
        .raw(b"P0\n")
        .s("storage")
        .op(b'Q')
        .op(0x86)
        .stop()
        .build();
    let (findings, summary) = scan_ok(&data);
    assert!(findings.is_empty());
    assert_eq!(summary.persistent_ids, 2);
}

#[rstest]
#[case::build(P::new().proto(4).s("torch").s("_utils").stack_global().op(b'}').s("_rebuild_tensor")
    .s("builtins").op(b's').op(b'b'))]
#[case::setitem(P::new().proto(2).global("collections", "OrderedDict").s("k").s("v").op(b's'))]
#[case::appends(P::new().proto(2).global("collections", "OrderedDict").op(b'(').op(b'N').op(b'e'))]
fn mutating_a_global_is_dangerous(#[case] p: P) {
    let (findings, _) = scan_ok(&p.stop().build());
    assert!(rules(&findings).contains(&RULE_MUTATION), "{findings:#?}");
}

#[test]
fn inst_and_obj_call_their_class() {
    let inst = P::new()
        .op(b'(')
        .s("id")
        .raw(b"ios\nsystem\n")
        .stop()
        .build();
    let (findings, _) = scan_ok(&inst);
    assert_eq!(dangerous(&findings), ["os.system"]);
    let obj = P::new()
        .op(b'(')
        .global("subprocess", "Popen")
        .s("id")
        .op(b'o')
        .stop()
        .build();
    let (findings, _) = scan_ok(&obj);
    assert_eq!(dangerous(&findings), ["subprocess.Popen"]);
}

#[test]
fn hardening_02_calling_a_call_result_fails_the_gate() {
    let data = P::new()
        .proto(2)
        .global("functools", "partial")
        .global("builtins", "print")
        .tuple1()
        .reduce()
        .s("x")
        .tuple1()
        .reduce()
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    assert!(rules(&findings).contains(&RULE_INDIRECT));
    assert!(rules(&findings).contains(&RULE_UNKNOWN));
    // functools.partial is called (unknown), and so is its result (indirect): both fail the
    // default gate; builtins.print is only referenced and stays suspicious.
    assert_eq!(
        dangerous(&findings),
        ["functools.partial", "<model/indirect-call>"]
    );
}

#[test]
fn findings_name_their_location() {
    let mut out = Vec::new();
    let loc = Location {
        file: "model.zip".into(),
        members: vec!["archive/data.pkl".into()],
        offset: 100,
    };
    let data = P::new().proto(2).op(b'N').op(b'0').system().stop().build();
    let mut reader: &[u8] = &data;
    scan_stream(
        &mut reader,
        &loc,
        &Policy::default(),
        &Limits::default(),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].location.file, "model.zip");
    assert_eq!(out[0].location.members, ["archive/data.pkl"]);
    assert_eq!(out[0].location.offset, 104);
    assert_eq!(out[0].global.as_deref(), Some("os.system"));
}

#[test]
fn repeated_globals_are_reported_once() {
    let mut p = P::new().proto(2);
    for _ in 0..50 {
        p = p.system().op(b'0');
    }
    let (findings, _) = scan_ok(&p.op(b'N').stop().build());
    assert_eq!(findings.len(), 1);
}

#[test]
fn extra_allowed_globals_are_not_reported() {
    let data = P::new()
        .proto(4)
        .s("__main__")
        .s("Net")
        .stack_global()
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    assert_eq!(rules(&findings), [RULE_UNKNOWN]);
    let policy = Policy {
        extra_allowed: vec!["__main__.Net".into()],
    };
    let mut out = Vec::new();
    let mut reader: &[u8] = &data;
    scan_stream(
        &mut reader,
        &location(),
        &policy,
        &Limits::default(),
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
}

/// One stream using every opcode of protocols 0-5 (all 68 in pickletools).
fn kitchen_sink() -> Vec<u8> {
    P::new()
        .proto(5) // PROTO
        .frame(0) // FRAME
        .op(b'(') // MARK
        .raw(b"I1\nI01\nL5L\nF1.5\n") // INT, INT (bool), LONG, FLOAT
        .int(-7) // BININT
        .op(b'K')
        .raw(&[1]) // BININT1
        .op(b'M')
        .raw(&[1, 2]) // BININT2
        .op(0x8a)
        .raw(&[2, 0xff, 0x7f]) // LONG1
        .op(0x8b)
        .raw(&[9, 0, 0, 0])
        .raw(&[1; 9]) // LONG4
        .raw(b"S'x'\n") // STRING
        .op(b'T')
        .raw(&[1, 0, 0, 0, b'y']) // BINSTRING
        .op(b'U')
        .raw(&[1, b'z']) // SHORT_BINSTRING
        .op(b'B')
        .raw(&[1, 0, 0, 0, 1]) // BINBYTES
        .op(b'C')
        .raw(&[1, 2]) // SHORT_BINBYTES
        .op(0x8e)
        .raw(&1u64.to_le_bytes())
        .raw(&[3]) // BINBYTES8
        .op(0x96)
        .raw(&1u64.to_le_bytes())
        .raw(&[4]) // BYTEARRAY8
        .op(b'N')
        .op(0x88)
        .op(0x89) // NONE, NEWTRUE, NEWFALSE
        .raw(b"Vu\n") // UNICODE
        .s("s") // SHORT_BINUNICODE
        .op(b'X')
        .raw(&[1, 0, 0, 0, b'x']) // BINUNICODE
        .op(0x8d)
        .raw(&1u64.to_le_bytes())
        .raw(b"w") // BINUNICODE8
        .op(b'G')
        .raw(&1.5f64.to_be_bytes()) // BINFLOAT
        .op(0x97)
        .op(0x98) // NEXT_BUFFER, READONLY_BUFFER
        .op(b'l') // LIST
        .op(b']')
        .op(b'N')
        .op(b'a') // EMPTY_LIST, APPEND
        .op(b'(')
        .op(b'N')
        .op(b'e') // APPENDS
        .op(b')')
        .op(b'(')
        .op(b't') // EMPTY_TUPLE, TUPLE
        .op(0x85)
        .op(0x86)
        .op(b'N')
        .op(0x87) // TUPLE1, TUPLE2, TUPLE3
        .op(b'}')
        .s("k")
        .op(b'N')
        .op(b's') // EMPTY_DICT, SETITEM
        .op(b'(')
        .s("j")
        .op(b'N')
        .op(b'u') // SETITEMS
        .op(b'(')
        .op(b'd') // DICT
        .op(0x8f)
        .op(b'(')
        .op(b'N')
        .op(0x90) // EMPTY_SET, ADDITEMS
        .op(b'(')
        .op(0x91) // FROZENSET
        .op(b'0') // POP
        .op(b'(')
        .op(b'N')
        .op(b'1') // POP_MARK
        .op(b'2') // DUP
        .raw(b"p0\n")
        .binput(1)
        .op(b'r')
        .raw(&[2, 0, 0, 0])
        .memoize() // PUT, BINPUT, LONG_BINPUT, MEMOIZE
        .raw(b"g0\n")
        .binget(1)
        .op(b'j')
        .raw(&[2, 0, 0, 0]) // GET, BINGET, LONG_BINGET
        .op(0x83)
        .raw(&[1, 0])
        .op(0x84)
        .raw(&[1, 0, 0, 0])
        .op(0x82)
        .raw(&[1]) // EXT2, EXT4, EXT1
        .global("collections", "OrderedDict") // GLOBAL
        .s("collections")
        .s("Counter")
        .stack_global() // STACK_GLOBAL
        .op(b')')
        .reduce() // REDUCE
        .op(b'}')
        .op(b'b') // BUILD
        .op(b'(')
        .raw(b"icollections\nOrderedDict\n") // INST
        .op(b'(')
        .global("collections", "deque")
        .op(b'o') // OBJ
        .global("collections", "OrderedDict")
        .op(b')')
        .op(0x81) // NEWOBJ
        .global("collections", "OrderedDict")
        .op(b')')
        .op(b'}')
        .op(0x92) // NEWOBJ_EX
        .raw(b"P1\n")
        .op(b'Q') // PERSID, BINPERSID
        .stop() // STOP
        .build()
}

#[test]
fn every_opcode_parses() {
    let data = kitchen_sink();
    let (findings, summary) = scan_ok(&data);
    // The three EXT opcodes (one finding) are all there is to report.
    assert_eq!(rules(&findings), [RULE_EXTENSION], "{findings:#?}");
    assert_eq!(summary.pickles, 1);
    // As counted by CPython's pickletools.genops on the same bytes.
    assert_eq!(summary.opcodes, KITCHEN_SINK_OPCODES);
    assert_eq!(summary.persistent_ids, 2);
}

const KITCHEN_SINK_OPCODES: u64 = 97;

#[test]
fn the_opcode_table_is_complete() {
    // pickletools' 68 opcodes of protocols 0-5.
    let all = [
        b'(', b'.', b'0', b'1', b'2', b'B', b'C', b'F', b'G', b'I', b'J', b'K', b'L', b'M', b'N',
        b'P', b'Q', b'R', b'S', b'T', b'U', b'V', b'X', b'a', b'b', b'c', b'd', b'}', b'e', b'g',
        b'h', b'i', b'j', b'l', b']', b'o', b'p', b'q', b'r', b's', b't', b')', b'u', 0x80, 0x81,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90,
        0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
    ];
    let distinct: std::collections::BTreeSet<u8> = all.iter().copied().collect();
    assert_eq!(distinct.len(), 68);
    for op in 0..=255u8 {
        assert_eq!(machine::is_opcode(op), distinct.contains(&op), "{op:#04x}");
    }
}

/// A reader that serves `len` bytes of `fill` after a header, without holding them.
struct Generated {
    header: std::io::Cursor<Vec<u8>>,
    left: u64,
    fill: u8,
    trailer: std::io::Cursor<Vec<u8>>,
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.header.read(out)?;
        if n > 0 {
            return Ok(n);
        }
        if self.left > 0 {
            let n = (out.len() as u64).min(self.left) as usize;
            out[..n].fill(self.fill);
            self.left -= n as u64;
            return Ok(n);
        }
        self.trailer.read(out)
    }
}

#[test]
fn huge_payloads_stream_through_without_being_kept() {
    let len: u64 = 256 << 20;
    let reader = Generated {
        header: std::io::Cursor::new(P::new().proto(4).op(0x8e).raw(&len.to_le_bytes()).build()),
        left: len,
        fill: b'c',
        trailer: std::io::Cursor::new(P::new().op(b'0').system().stop().build()),
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut out = Vec::new();
    let summary = scan_stream(
        &mut reader,
        &location(),
        &Policy::default(),
        &Limits::default(),
        &mut out,
    )
    .unwrap();
    assert_eq!(dangerous(&out), ["os.system"]);
    assert_eq!(summary.pickles, 1);
}

#[test]
fn a_long_flat_pickle_scans_quickly() {
    // 3 million opcodes: a list of a million ints with memoized strings in between.
    let mut p = P::new().proto(4).op(b']').op(b'(');
    for i in 0..1_000_000u32 {
        p = p.int(i as i32);
        if i % 1000 == 999 {
            p = p.op(b'e').op(b'(');
        }
    }
    let data = p.op(b'e').stop().build();
    let started = std::time::Instant::now();
    let (findings, summary) = scan_ok(&data);
    assert!(findings.is_empty());
    assert!(summary.opcodes > 1_000_000);
    // Generous even for an unoptimized build; the release build is far faster.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A small deterministic generator for the mutation test.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_streams_never_panic() {
    // Flipped, inserted and deleted bytes in real and synthetic pickles: every outcome must be a
    // result, never a panic, an overflow or a hang.
    let seeds = [
        hex(P4_SYSTEM),
        hex(P0_SYSTEM),
        hex(LOGREG_JOBLIB),
        hex(MIXED_JOBLIB),
        hex(TREE_PIPELINE_P2_PKL),
        kitchen_sink(),
        P::new()
            .proto(4)
            .wrapper("u1", &[16], true)
            .raw(&[3, 0xff, 0xff, 0xff])
            .raw(DECOY)
            .stop()
            .build(),
    ];
    let limits = Limits {
        max_kept_bytes: 64,
        max_memo: 64,
        max_stack: 64,
        max_nesting: 3,
    };
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for seed in &seeds {
        for _ in 0..1500 {
            let mut data = seed.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(data.len());
                match rng.below(4) {
                    0 => data[at] = rng.next() as u8,
                    1 => data.insert(at, rng.next() as u8),
                    2 if data.len() > 1 => {
                        data.remove(at);
                    }
                    _ => data[at] ^= 1 << rng.below(8),
                }
            }
            let _ = scan_with(&data, &limits);
            let _ = scan(&data);
        }
    }
}

#[test]
fn kept_payloads_have_a_budget_names_survive_it() {
    // 72 MB of long strings, each popped: past the per-pickle budget only short strings are kept,
    // which is still every module and attribute name.
    let chunk = "a".repeat(60_000);
    let mut p = P::new().proto(4);
    for _ in 0..1200 {
        p = p
            .op(b'X')
            .raw(&60_000u32.to_le_bytes())
            .raw(chunk.as_bytes())
            .op(b'0');
    }
    let long_module = format!("pkg.{}", "m".repeat(300));
    let data = p
        .s("sklearn.ensemble._hist_gradient_boosting.gradient_boosting")
        .s("os")
        .s("system")
        .stack_global()
        .op(b'0')
        .op(b'X')
        .raw(&u32::try_from(long_module.len()).unwrap().to_le_bytes())
        .raw(long_module.as_bytes())
        .s("x")
        .stack_global()
        .stop()
        .build();
    let (findings, _) = scan_ok(&data);
    assert_eq!(
        dangerous(&findings),
        ["os.system".to_string(), format!("<{RULE_UNRESOLVED}>")]
    );
}

// ---- hardening round, item 2 (issue 12): denylist gaps, calls of unknown globals, model-library
// classes, pickles hidden as base64 or hex text. Every input is assembled here; nothing is ever
// unpickled. ---------------------------------------------------------------------------------

fn scan_policy(data: &[u8], policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut reader: &[u8] = data;
    scan_stream(
        &mut reader,
        &location(),
        policy,
        &Limits::default(),
        &mut out,
    )
    .unwrap_or_else(|e| panic!("scan failed: {e}; findings: {out:#?}"));
    out
}

/// The findings that fail the default gate (`--fail-on dangerous`).
fn gate(findings: &[Finding]) -> Vec<(&'static str, String)> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Dangerous)
        .map(|f| (f.rule, f.global.clone().unwrap_or_default()))
        .collect()
}

/// `module.name(*args)` by protocol-4 STACK_GLOBAL (names may be dotted paths).
fn call_by_stack_global(module: &str, name: &str, arg: &str) -> Vec<u8> {
    P::new()
        .proto(4)
        .s(module)
        .s(name)
        .stack_global()
        .s(arg)
        .tuple1()
        .reduce()
        .stop()
        .build()
}

#[rstest]
#[case("typing", "_eval_type")]
#[case("typing", "get_type_hints")]
#[case("uuid", "_find_mac_near_keyword")]
#[case("_xxsubinterpreters", "run_string")]
#[case("_testcapi", "run_in_subinterp")]
#[case("dataclasses", "_create_fn")]
fn hardening_02_the_reported_stdlib_callables_are_dangerous(
    #[case] module: &str,
    #[case] name: &str,
) {
    let findings = scan_policy(&call_by_stack_global(module, name, "x"), &Policy::default());
    let path = format!("{module}.{name}");
    assert!(
        gate(&findings).contains(&(RULE_DANGEROUS, path.clone())),
        "{path}: {findings:#?}"
    );
    // By GLOBAL, with a Python-2 style protocol 0 too.
    let p0 = P::new()
        .global(module, name)
        .op(b'(')
        .raw(b"S'x'\n")
        .op(b't')
        .reduce()
        .stop()
        .build();
    assert!(gate(&scan_policy(&p0, &Policy::default())).contains(&(RULE_DANGEROUS, path)));
}

/// An unknown global called every way a pickle can call something.
fn unknown_called_every_way() -> Vec<(&'static str, Vec<u8>)> {
    let g = || P::new().proto(2).global("mylib.models", "Helper");
    vec![
        ("REDUCE", g().s("x").tuple1().reduce().stop().build()),
        (
            "INST",
            P::new()
                .op(b'(')
                .raw(b"S'x'\n")
                .raw(b"imylib.models\nHelper\n")
                .stop()
                .build(),
        ),
        (
            "OBJ",
            P::new()
                .proto(1)
                .op(b'(')
                .global("mylib.models", "Helper")
                .s("x")
                .op(b'o')
                .stop()
                .build(),
        ),
        ("NEWOBJ", g().op(b')').op(0x81).stop().build()),
        (
            "NEWOBJ_EX",
            P::new()
                .proto(4)
                .s("mylib.models")
                .s("Helper")
                .stack_global()
                .op(b')')
                .op(b'}')
                .op(0x92)
                .stop()
                .build(),
        ),
        (
            "copyreg._reconstructor",
            P::new()
                .global("copy_reg", "_reconstructor")
                .op(b'(')
                .raw(b"cmylib.models\nHelper\n")
                .global("__builtin__", "object")
                .op(b'N')
                .op(b't')
                .reduce()
                .stop()
                .build(),
        ),
        (
            "copyreg.__newobj__",
            P::new()
                .proto(2)
                .global("copyreg", "__newobj__")
                .global("mylib.models", "Helper")
                .tuple1()
                .reduce()
                .stop()
                .build(),
        ),
        (
            "Cython __pyx_unpickle",
            P::new()
                .proto(2)
                .global("sklearn.tree._tree", "__pyx_unpickle_Tree")
                .global("mylib.models", "Helper")
                .int(0)
                .op(b'N')
                .op(0x87)
                .reduce()
                .stop()
                .build(),
        ),
        (
            "pandas _new_Index",
            P::new()
                .proto(2)
                .global("pandas.core.indexes.base", "_new_Index")
                .global("mylib.models", "Helper")
                .op(b'}')
                .op(0x86)
                .reduce()
                .stop()
                .build(),
        ),
        (
            "numpy _ufunc_reconstruct, then called",
            P::new()
                .proto(2)
                .global("numpy.core", "_ufunc_reconstruct")
                .s("mylib.models")
                .s("Helper")
                .op(0x86)
                .reduce()
                .s("x")
                .tuple1()
                .reduce()
                .stop()
                .build(),
        ),
    ]
}

#[test]
fn hardening_02_a_call_of_an_unknown_global_fails_the_gate() {
    for (how, data) in unknown_called_every_way() {
        let findings = scan_policy(&data, &Policy::default());
        assert!(
            gate(&findings).contains(&(RULE_UNKNOWN_CALL, "mylib.models.Helper".into())),
            "{how}: {findings:#?}"
        );
        // Allowed by configuration, the same call is clean.
        let policy = Policy {
            extra_allowed: vec!["mylib.models.Helper".into()],
        };
        let allowed = scan_policy(&data, &policy);
        assert!(gate(&allowed).is_empty(), "{how}: {allowed:#?}");
    }
}

#[test]
fn hardening_02_a_main_class_instantiated_stays_suspicious_but_not_called() {
    // NEWOBJ of a class of the saving script (how notebooks pickle their models) runs only that
    // class's __new__: suspicious. Calling a __main__ name runs it: dangerous.
    let newobj = P::new()
        .proto(4)
        .s("__main__")
        .s("MyModel")
        .stack_global()
        .op(b')')
        .op(0x81)
        .stop()
        .build();
    let findings = scan_policy(&newobj, &Policy::default());
    assert_eq!(rules(&findings), [RULE_UNKNOWN], "{findings:#?}");
    let called = call_by_stack_global("__main__", "MyModel", "x");
    let findings = scan_policy(&called, &Policy::default());
    assert!(gate(&findings).contains(&(RULE_UNKNOWN_CALL, "__main__.MyModel".into())));
    let function = P::new()
        .proto(4)
        .s("__main__")
        .s("run_job")
        .stack_global()
        .op(b')')
        .op(0x81)
        .stop()
        .build();
    let findings = scan_policy(&function, &Policy::default());
    assert!(gate(&findings).contains(&(RULE_UNKNOWN_CALL, "__main__.run_job".into())));
}

#[test]
fn hardening_02_an_unknown_global_only_referenced_stays_suspicious() {
    // Stored as a value (a dict entry, an argument of an allowed class), never called.
    let data = P::new()
        .proto(2)
        .op(b'}')
        .s("f")
        .global("mylib.models", "helper")
        .op(b's')
        .global("collections", "OrderedDict")
        .op(b')')
        .reduce()
        .op(b'0')
        .stop()
        .build();
    let findings = scan_policy(&data, &Policy::default());
    assert_eq!(rules(&findings), [RULE_UNKNOWN]);
    assert_eq!(findings[0].severity, Severity::Suspicious);
}

#[test]
fn hardening_02_getattr_only_as_a_pickled_bound_method() {
    // How Python pickles `dist._entropy` of a scipy.stats distribution: getattr(instance of an
    // allowed class, "name"), with getattr memoized and fetched again.
    let obj = || {
        P::new()
            .proto(4)
            .s("scipy.stats._continuous_distns")
            .s("norm_gen")
            .stack_global()
            .op(b')')
            .op(0x81)
            .binput(0)
    };
    let bound = obj()
        .op(b'}')
        .s("_entropy")
        .s("builtins")
        .s("getattr")
        .stack_global()
        .binput(1)
        .binget(0)
        .s("_entropy")
        .op(0x86)
        .reduce()
        .op(b's')
        .s("_cdf")
        .binget(1)
        .binget(0)
        .s("_cdf")
        .op(0x86)
        .reduce()
        .op(b's')
        .op(b'b')
        .stop()
        .build();
    let findings = scan_policy(&bound, &Policy::default());
    assert!(findings.is_empty(), "{findings:#?}");

    let getattr = |receiver: P, name: &str| {
        receiver
            .s("builtins")
            .s("getattr")
            .stack_global()
            .binget(0)
            .s(name)
            .op(0x86)
            .reduce()
            .stop()
            .build()
    };
    let unsafe_uses: Vec<(&str, Vec<u8>)> = vec![
        // A dunder walks out of the object.
        ("dunder", getattr(obj(), "__class__")),
        // On a global, getattr is the dotted name it spells (protocols 0-3 write
        // `module.Class.name` so): `object.__subclasses__` is a dunder walk.
        (
            "global receiver, dunder",
            getattr(
                P::new().proto(4).global("builtins", "object").binput(0),
                "__subclasses__",
            ),
        ),
        // The receiver is an instance of a class nobody allowed.
        (
            "unknown receiver",
            getattr(
                P::new()
                    .proto(4)
                    .global("mylib", "Thing")
                    .op(b')')
                    .op(0x81)
                    .binput(0),
                "run",
            ),
        ),
        // getattr pushed but handed on instead of called.
        (
            "escapes",
            obj()
                .op(b'(')
                .global("builtins", "getattr")
                .op(b'l')
                .stop()
                .build(),
        ),
    ];
    for (what, data) in unsafe_uses {
        let findings = scan_policy(&data, &Policy::default());
        assert!(
            gate(&findings)
                .iter()
                .any(|(rule, g)| *rule == RULE_DANGEROUS
                    && (g == "builtins.getattr" || g == "builtins.object.__subclasses__")),
            "{what}: {findings:#?}"
        );
    }
    // getattr(allowed class, "name") as protocol 2 writes scipy's `interp1d._call_linear_np`:
    // the allowed dotted name, clean; on a denied one, dangerous.
    let on_class = |module: &str, class: &str, attr: &str| {
        P::new()
            .proto(2)
            .global("__builtin__", "getattr")
            .global(module, class)
            .s(attr)
            .op(0x86)
            .reduce()
            .stop()
            .build()
    };
    let clean = on_class(
        "scipy.interpolate._interpolate",
        "interp1d",
        "_call_linear_np",
    );
    assert!(scan_policy(&clean, &Policy::default()).is_empty());
    let denied = on_class("optparse", "Values", "read_file");
    let findings = scan_policy(&denied, &Policy::default());
    assert!(gate(&findings).contains(&(RULE_DANGEROUS, "optparse.Values.read_file".into())));
}

// ---- model-library classes ----------------------------------------------------------------------

/// How a library's pickle uses a global: instantiates a class (NEWOBJ + BUILD), calls a
/// reconstructor with an allowed class (`f(cls, {})`), or calls a plain function (`f()`).
#[derive(Clone, Copy)]
enum Use {
    Class,
    Instantiator,
    Function,
}

/// Exactly the globals real pickles of these libraries name (pickled with pandas 3.1, xgboost
/// 3.2, LightGBM 4.7, CatBoost 1.2, statsmodels 0.15 and scipy 1.17 at protocols 2, 4 and 5;
/// older spellings are exact entries of the allowlist too).
const LIBRARY_GLOBALS: &[(&str, &str, Use)] = &[
    ("pandas", "DataFrame", Use::Class),
    ("pandas", "Series", Use::Class),
    ("pandas", "Index", Use::Class),
    ("pandas", "MultiIndex", Use::Class),
    ("pandas", "RangeIndex", Use::Class),
    ("pandas", "DatetimeIndex", Use::Class),
    ("pandas", "IntervalIndex", Use::Class),
    ("pandas", "Categorical", Use::Class),
    ("pandas", "CategoricalDtype", Use::Class),
    ("pandas", "DatetimeTZDtype", Use::Class),
    ("pandas", "PeriodDtype", Use::Class),
    ("pandas", "SparseDtype", Use::Class),
    ("pandas", "StringDtype", Use::Class),
    ("pandas", "BooleanDtype", Use::Class),
    ("pandas", "Int64Dtype", Use::Class),
    ("pandas", "Interval", Use::Class),
    ("pandas", "Period", Use::Class),
    ("pandas", "NA", Use::Class),
    ("pandas.arrays", "BooleanArray", Use::Class),
    ("pandas.arrays", "DatetimeArray", Use::Class),
    ("pandas.arrays", "FloatingArray", Use::Class),
    ("pandas.arrays", "IntegerArray", Use::Class),
    ("pandas.arrays", "PeriodArray", Use::Class),
    ("pandas.arrays", "SparseArray", Use::Class),
    ("pandas.arrays", "StringArray", Use::Class),
    ("pandas.arrays", "TimedeltaArray", Use::Class),
    (
        "pandas._libs.arrays",
        "__pyx_unpickle_NDArrayBacked",
        Use::Instantiator,
    ),
    ("pandas._libs.internals", "_unpickle_block", Use::Function),
    ("pandas._libs.sparse", "IntIndex", Use::Class),
    (
        "pandas._libs.tslibs.nattype",
        "_nat_unpickle",
        Use::Function,
    ),
    ("pandas._libs.tslibs.offsets", "Day", Use::Class),
    ("pandas._libs.tslibs.offsets", "MonthEnd", Use::Class),
    (
        "pandas._libs.tslibs.timedeltas",
        "_timedelta_unpickle",
        Use::Function,
    ),
    (
        "pandas._libs.tslibs.timestamps",
        "_unpickle_timestamp",
        Use::Function,
    ),
    ("pandas.core.indexes.base", "_new_Index", Use::Instantiator),
    (
        "pandas.core.indexes.datetimes",
        "_new_DatetimeIndex",
        Use::Instantiator,
    ),
    (
        "pandas.core.indexes.interval",
        "_new_IntervalIndex",
        Use::Instantiator,
    ),
    ("pandas.core.internals.managers", "BlockManager", Use::Class),
    (
        "pandas.core.internals.managers",
        "SingleBlockManager",
        Use::Class,
    ),
    ("pandas.core.frame", "DataFrame", Use::Class),
    ("xgboost.core", "Booster", Use::Class),
    ("xgboost.sklearn", "XGBClassifier", Use::Class),
    ("xgboost.sklearn", "XGBRegressor", Use::Class),
    ("xgboost.sklearn", "XGBRanker", Use::Class),
    ("xgboost.sklearn", "XGBRFClassifier", Use::Class),
    ("xgboost.sklearn", "XGBRFRegressor", Use::Class),
    ("lightgbm.basic", "Booster", Use::Class),
    ("lightgbm.sklearn", "LGBMClassifier", Use::Class),
    ("lightgbm.sklearn", "LGBMRegressor", Use::Class),
    ("lightgbm.sklearn", "LGBMRanker", Use::Class),
    ("sklearn.preprocessing._label", "LabelEncoder", Use::Class),
    ("catboost.core", "CatBoost", Use::Class),
    ("catboost.core", "CatBoostClassifier", Use::Class),
    ("catboost.core", "CatBoostRegressor", Use::Class),
    ("catboost.core", "CatBoostRanker", Use::Class),
    ("statsmodels.base.data", "ModelData", Use::Class),
    (
        "statsmodels.base.model",
        "LikelihoodModelResults",
        Use::Class,
    ),
    (
        "statsmodels.discrete.discrete_model",
        "BinaryResultsWrapper",
        Use::Class,
    ),
    ("statsmodels.discrete.discrete_model", "Logit", Use::Class),
    (
        "statsmodels.discrete.discrete_model",
        "LogitResults",
        Use::Class,
    ),
    ("statsmodels.genmod.families.family", "Binomial", Use::Class),
    ("statsmodels.genmod.families.links", "Logit", Use::Class),
    ("statsmodels.genmod.families.links", "logit", Use::Class),
    (
        "statsmodels.genmod.families.varfuncs",
        "Binomial",
        Use::Class,
    ),
    (
        "statsmodels.genmod.generalized_linear_model",
        "GLM",
        Use::Class,
    ),
    (
        "statsmodels.genmod.generalized_linear_model",
        "GLMResults",
        Use::Class,
    ),
    (
        "statsmodels.genmod.generalized_linear_model",
        "GLMResultsWrapper",
        Use::Class,
    ),
    ("statsmodels.regression.linear_model", "OLS", Use::Class),
    ("statsmodels.regression.linear_model", "WLS", Use::Class),
    (
        "statsmodels.regression.linear_model",
        "OLSResults",
        Use::Class,
    ),
    (
        "statsmodels.regression.linear_model",
        "RegressionResults",
        Use::Class,
    ),
    (
        "statsmodels.regression.linear_model",
        "RegressionResultsWrapper",
        Use::Class,
    ),
    ("statsmodels.tools.tools", "Bunch", Use::Class),
    ("statsmodels.tsa.arima.model", "ARIMA", Use::Class),
    ("statsmodels.tsa.arima.model", "ARIMAResults", Use::Class),
    (
        "statsmodels.tsa.arima.model",
        "ARIMAResultsWrapper",
        Use::Class,
    ),
    ("statsmodels.tsa.arima.params", "SARIMAXParams", Use::Class),
    (
        "statsmodels.tsa.arima.specification",
        "SARIMAXSpecification",
        Use::Class,
    ),
    (
        "statsmodels.tsa.base.tsa_model",
        "TimeSeriesModel",
        Use::Class,
    ),
    (
        "statsmodels.tsa.holtwinters.model",
        "ExponentialSmoothing",
        Use::Class,
    ),
    (
        "statsmodels.tsa.holtwinters.results",
        "HoltWintersResults",
        Use::Class,
    ),
    (
        "statsmodels.tsa.holtwinters.results",
        "HoltWintersResultsWrapper",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace._initialization",
        "dInitialization",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace._kalman_filter",
        "sKalmanFilter",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace._kalman_filter",
        "dKalmanFilter",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace._kalman_smoother",
        "cKalmanSmoother",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace._representation",
        "zStatespace",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace._simulation_smoother",
        "dSimulationSmoother",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace.initialization",
        "Initialization",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace.kalman_smoother",
        "SmootherResults",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace.simulation_smoother",
        "SimulationSmoothResults",
        Use::Class,
    ),
    (
        "statsmodels.tsa.statespace.simulation_smoother",
        "SimulationSmoother",
        Use::Class,
    ),
    ("types", "SimpleNamespace", Use::Class),
    (
        "scipy._lib.array_api_compat.numpy._aliases",
        "asarray",
        Use::Function,
    ),
    ("scipy.interpolate._cubic", "CubicSpline", Use::Class),
    ("scipy.interpolate._interpolate", "interp1d", Use::Class),
    (
        "scipy.interpolate._interpolate",
        "interp1d._call_linear_np",
        Use::Function,
    ),
    (
        "scipy.optimize._lbfgsb_py",
        "LbfgsInvHessProduct",
        Use::Class,
    ),
    ("scipy.optimize._optimize", "OptimizeResult", Use::Class),
    ("scipy.sparse._bsr", "bsr_matrix", Use::Class),
    ("scipy.sparse._coo", "coo_matrix", Use::Class),
    ("scipy.sparse._csc", "csc_array", Use::Class),
    ("scipy.sparse._csr", "csr_matrix", Use::Class),
    ("scipy.sparse._dia", "dia_matrix", Use::Class),
    ("scipy.sparse._dok", "dok_matrix", Use::Class),
    ("scipy.sparse._lil", "lil_matrix", Use::Class),
    ("scipy.spatial._ckdtree", "cKDTree", Use::Class),
    ("scipy.spatial._kdtree", "KDTree", Use::Class),
    ("scipy.stats._continuous_distns", "beta_gen", Use::Class),
    ("scipy.stats._continuous_distns", "norm_gen", Use::Class),
    ("scipy.stats._continuous_distns", "t_gen", Use::Class),
    ("scipy.stats._discrete_distns", "poisson_gen", Use::Class),
    (
        "scipy.stats._distn_infrastructure",
        "rv_continuous_frozen",
        Use::Class,
    ),
    (
        "scipy.stats._distn_infrastructure",
        "rv_discrete_frozen",
        Use::Class,
    ),
    ("scipy.stats._kde", "gaussian_kde", Use::Class),
    ("numpy", "vectorize", Use::Class),
];

/// One pickle that uses every global of `globals` the way its library does, at `protocol`
/// (2: GLOBAL and NEWOBJ, 4: STACK_GLOBAL and FRAME-less NEWOBJ).
fn library_pickle(globals: &[(&str, &str, Use)], protocol: u8) -> Vec<u8> {
    let global = |p: P, module: &str, name: &str| {
        if protocol >= 4 {
            p.s(module).s(name).stack_global()
        } else {
            p.global(module, name)
        }
    };
    let mut p = P::new().proto(protocol).op(b']').op(b'(');
    for &(module, name, how) in globals {
        p = match how {
            Use::Class => global(p, module, name)
                .op(b')')
                .op(0x81)
                .op(b'}')
                .s("state")
                .int(1)
                .op(b's')
                .op(b'b'),
            Use::Instantiator => {
                let p = global(p, module, name);
                global(p, "pandas", "Index").op(b'}').op(0x86).reduce()
            }
            Use::Function => global(p, module, name).op(b')').reduce(),
        };
    }
    p.op(b'e').stop().build()
}

#[test]
fn hardening_02_model_library_classes_are_clean() {
    let policy = Policy::default();
    for &(module, name, _) in LIBRARY_GLOBALS {
        assert_eq!(
            policy.classify(module, name),
            crate::policy::Verdict::Allowed,
            "{module}.{name}"
        );
    }
    for protocol in [2, 4] {
        let data = library_pickle(LIBRARY_GLOBALS, protocol);
        let findings = scan_policy(&data, &policy);
        assert!(findings.is_empty(), "protocol {protocol}: {findings:#?}");
    }
}

/// Loaders and code-running functions of the same libraries: never allowed, and a pickle that
/// calls one fails the gate.
const LIBRARY_LOADERS: &[(&str, &str)] = &[
    ("pandas", "read_pickle"),
    ("pandas.io.pickle", "read_pickle"),
    ("pandas", "eval"),
    ("pandas.core.computation.eval", "eval"),
    ("pandas.core.frame", "DataFrame.query"),
    ("pandas.core.frame", "DataFrame.to_pickle"),
    ("xgboost.core", "Booster.load_model"),
    ("xgboost.sklearn", "XGBClassifier.load_model"),
    ("lightgbm.basic", "Booster.model_from_string"),
    ("catboost.core", "CatBoost.load_model"),
    ("catboost.core", "CatBoostClassifier.load_model"),
    ("statsmodels.iolib.smpickle", "load_pickle"),
    (
        "statsmodels.regression.linear_model",
        "RegressionResultsWrapper.load",
    ),
    ("statsmodels.base.model", "LikelihoodModelResults.load"),
    ("scipy.io", "loadmat"),
    ("scipy.io.matlab._mio", "loadmat"),
    ("scipy", "LowLevelCallable"),
];

#[test]
fn hardening_02_model_library_loaders_are_not_clean() {
    let policy = Policy::default();
    for &(module, name) in LIBRARY_LOADERS {
        assert_eq!(
            policy.classify(module, name),
            crate::policy::Verdict::Dangerous,
            "{module}.{name}"
        );
        let findings = scan_policy(&call_by_stack_global(module, name, "model.bin"), &policy);
        assert!(
            !gate(&findings).is_empty(),
            "{module}.{name}: {findings:#?}"
        );
    }
}

// ---- pickles hidden as base64 or hex text ------------------------------------------------------

fn encode_base64(data: &[u8], urlsafe: bool) -> String {
    let alphabet: &[u8] = if urlsafe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.len();
        let v = u32::from(chunk[0]) << 16
            | u32::from(*chunk.get(1).unwrap_or(&0)) << 8
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                out.push(char::from(alphabet[(v >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn encode_hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// `os.system("echo hi")` with bytes whose base64 needs `+` and `/` (so the URL-safe form has
/// `-` and `_`).
fn inner_for_text() -> Vec<u8> {
    let inner = P::new()
        .proto(4)
        .bytes(&[0, 0, 0xfb, 0xff, 0xbf])
        .op(b'0')
        .system()
        .stop()
        .build();
    let standard = encode_base64(&inner, false);
    assert!(standard.contains('+') && standard.contains('/'));
    inner
}

/// BINUNICODE (any length).
fn text(p: P, s: &str) -> P {
    p.op(b'X')
        .raw(&u32::try_from(s.len()).unwrap().to_le_bytes())
        .raw(s.as_bytes())
}

#[test]
fn hardening_02_pickles_decoded_from_base64_or_hex_and_loaded_are_scanned() {
    let inner = inner_for_text();
    let b64 = encode_base64(&inner, false);
    let urlsafe = encode_base64(&inner, true);
    let hex = encode_hex(&inner);
    // (how, decoder module, decoder name, its text argument, a codec argument, text as bytes)
    type Case<'a> = (&'a str, &'a str, &'a str, String, Option<&'a str>, bool);
    let cases: Vec<Case> = vec![
        ("b64decode", "base64", "b64decode", b64.clone(), None, false),
        (
            "urlsafe",
            "base64",
            "urlsafe_b64decode",
            urlsafe.clone(),
            None,
            false,
        ),
        (
            "standard",
            "base64",
            "standard_b64decode",
            b64.clone(),
            None,
            false,
        ),
        (
            "decodebytes of bytes",
            "base64",
            "decodebytes",
            b64.clone(),
            None,
            true,
        ),
        (
            "a2b_base64",
            "binascii",
            "a2b_base64",
            b64.clone(),
            None,
            true,
        ),
        (
            "unhexlify",
            "binascii",
            "unhexlify",
            hex.clone(),
            None,
            false,
        ),
        ("a2b_hex", "binascii", "a2b_hex", hex.clone(), None, true),
        (
            "bytes.fromhex",
            "builtins",
            "bytes.fromhex",
            hex.clone(),
            None,
            false,
        ),
        (
            "b16decode",
            "base64",
            "b16decode",
            hex.to_uppercase(),
            None,
            false,
        ),
        (
            "codecs hex",
            "codecs",
            "decode",
            hex.clone(),
            Some("hex"),
            true,
        ),
        (
            "codecs base64",
            "codecs",
            "decode",
            b64.clone(),
            Some("base64"),
            true,
        ),
        (
            "_codecs hex_codec",
            "_codecs",
            "decode",
            hex.clone(),
            Some("hex_codec"),
            false,
        ),
    ];
    for (how, module, name, arg, codec, as_bytes) in cases {
        let mut p = P::new()
            .proto(4)
            .s("pickle")
            .s("loads")
            .stack_global()
            .s(module)
            .s(name)
            .stack_global();
        p = if as_bytes {
            p.bytes(arg.as_bytes())
        } else {
            text(p, &arg)
        };
        p = match codec {
            Some(c) => p.s(c).op(0x86),
            None => p.tuple1(),
        };
        let data = p.reduce().tuple1().reduce().stop().build();
        let findings = scan_policy(&data, &Policy::default());
        let system = findings
            .iter()
            .find(|f| f.global.as_deref() == Some("os.system") && f.rule == RULE_DANGEROUS)
            .unwrap_or_else(|| panic!("{how}: {findings:#?}"));
        let member = &system.location.members[0];
        assert!(
            member.starts_with("base64 pickle") || member.starts_with("hex pickle"),
            "{how}: {member}"
        );
    }
}

#[test]
fn hardening_02_a_bare_base64_or_hex_pickle_is_reported_as_embedded() {
    let inner = inner_for_text();
    for (encoding, encoded) in [
        ("base64", encode_base64(&inner, false)),
        ("base64", encode_base64(&inner, true)),
        ("hex", encode_hex(&inner)),
    ] {
        for as_bytes in [false, true] {
            let p = P::new().proto(4).op(b'}').s("blob");
            let p = if as_bytes {
                p.bytes(encoded.as_bytes())
            } else {
                text(p, &encoded)
            };
            let findings = scan_policy(&p.op(b's').stop().build(), &Policy::default());
            assert_eq!(rules(&findings), [RULE_NESTED], "{encoding}: {findings:#?}");
            assert_eq!(findings[0].global.as_deref(), Some("os.system"));
            assert!(findings[0].location.members[0].starts_with(encoding));
        }
    }
    // Text that merely starts like one is not a finding, and neither is ordinary text.
    let plain = text(P::new().proto(4), "gASV this is not base64 at all!")
        .op(b'0')
        .s("8004 nope")
        .stop()
        .build();
    assert!(scan_policy(&plain, &Policy::default()).is_empty());
}

#[test]
fn hardening_02_decoding_is_bounded() {
    // A base64 text longer than the kept limit is not decoded (the decoder call itself is still
    // an unknown call, which fails the gate); the limit bounds what is decoded and held.
    let limits = Limits {
        max_kept_bytes: 64,
        ..Limits::default()
    };
    let mut inner = P::new()
        .proto(4)
        .bytes(&[7; 200])
        .op(b'0')
        .system()
        .stop()
        .build();
    inner.truncate(inner.len());
    let encoded = encode_base64(&inner, false);
    let data = text(
        P::new()
            .proto(4)
            .s("pickle")
            .s("loads")
            .stack_global()
            .s("base64")
            .s("b64decode")
            .stack_global(),
        &encoded,
    )
    .tuple1()
    .reduce()
    .tuple1()
    .reduce()
    .stop()
    .build();
    let (findings, result) = scan_with(&data, &limits);
    result.unwrap();
    let gate = gate(&findings);
    assert!(gate.contains(&(RULE_UNKNOWN_CALL, "base64.b64decode".into())));
    assert!(gate.contains(&(RULE_DANGEROUS, "pickle.loads".into())));
    // Nested inside itself to the nesting limit, decoding stops there too.
    let mut blob = inner_for_text();
    for _ in 0..12 {
        let encoded = encode_base64(&blob, false);
        blob = text(P::new().proto(4), &encoded).stop().build();
    }
    let findings = scan_policy(&blob, &Policy::default());
    assert!(findings.len() <= 1, "{findings:#?}");
}
