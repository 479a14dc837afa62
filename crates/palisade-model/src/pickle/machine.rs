//! The opcode loop: a streaming parser of every opcode of protocols 0-5 driving a small abstract
//! machine (stack, marks, memo of [`Value`]s), which names each global the pickle imports, what it
//! calls, and where joblib hides array bytes between the opcodes.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::rc::Rc;

use super::input::Input;
use super::numpy::{apply_dtype_state, dtype_from_args, ArrayPlan, WrapperAttrs};
use super::text;
use super::text::TextEncoding;
use super::value::{Blob, Decoding, GlobalRef, Map, Special, Value};
use super::{Limits, Summary};
use crate::finding::{Finding, Location, Severity};
use crate::policy::{normalize, Policy, Verdict};

pub const RULE_DANGEROUS: &str = crate::rules::DANGEROUS_GLOBAL.code;
pub const RULE_UNKNOWN: &str = crate::rules::UNKNOWN_GLOBAL.code;
pub const RULE_UNRESOLVED: &str = crate::rules::UNRESOLVED_GLOBAL.code;
pub const RULE_MUTATION: &str = crate::rules::GLOBAL_MUTATION.code;
pub const RULE_INDIRECT: &str = crate::rules::INDIRECT_CALL.code;
pub const RULE_EXTENSION: &str = crate::rules::EXTENSION_CODE.code;
pub const RULE_ARRAY: &str = crate::rules::UNPARSED_ARRAY.code;
pub const RULE_AMBIGUOUS_ARRAY: &str = crate::rules::AMBIGUOUS_ARRAY.code;
pub const RULE_NESTED: &str = crate::rules::NESTED_PICKLE.code;
pub const RULE_UNKNOWN_CALL: &str = crate::rules::UNKNOWN_CALL.code;

/// Findings kept per stream; a hostile stream could otherwise make millions.
const MAX_FINDINGS: usize = 1000;
/// Distinct globals cached and listed in the summary.
const MAX_GLOBALS: usize = 4096;
/// Embedded pickles whose findings are held until the pickle shows whether it loads them.
const MAX_NESTED_HELD: usize = 256;
/// Findings held per embedded pickle.
const MAX_NESTED_FINDINGS: usize = 64;
/// joblib arrays deferred to the end of a frame.
const MAX_PENDING_ARRAYS: usize = 4096;
/// Stack items the speculative (plain `pickle.load`) reading of joblib array bytes starts from.
const SPECULATIVE_STACK: usize = 256;
/// Payload bytes kept per pickle (strings, bytes) before only short strings are kept.
const KEPT_BUDGET: u64 = 64 << 20;
/// The longest payload kept once the budget is spent: room for any module or attribute name.
const KEPT_AFTER_BUDGET: u64 = 256;
/// Longest path cached and listed in the summary.
const MAX_GLOBAL_PATH: usize = 1024;
/// Longest INT/LONG/FLOAT/GET/PUT text argument looked at (longer numbers are just big).
const NUMBER_TEXT: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailKind {
    /// Not a valid pickle (truncated, unknown opcode, bad argument, stack underflow, ...).
    Format,
    /// Over a configured limit: the pickle may be valid, the scan did not finish.
    Limit,
    /// The reader failed.
    Io,
}

#[derive(Debug)]
pub(super) struct Fail {
    pub offset: u64,
    pub message: String,
    pub kind: FailKind,
}

/// State shared by every machine scanning one stream.
pub(super) struct Shared<'a> {
    pub policy: &'a Policy,
    pub limits: &'a Limits,
    pub summary: Summary,
    globals: HashMap<Box<str>, Rc<GlobalRef>>,
    key: String,
    reported: HashSet<(&'static str, Rc<str>, usize)>,
    findings: usize,
    scratch: Vec<u8>,
    contexts: usize,
    /// What is left of the current pickle's [`KEPT_BUDGET`].
    kept_left: u64,
}

impl<'a> Shared<'a> {
    pub(super) fn new(policy: &'a Policy, limits: &'a Limits) -> Self {
        Shared {
            policy,
            limits,
            summary: Summary::default(),
            globals: HashMap::new(),
            key: String::new(),
            reported: HashSet::new(),
            findings: 0,
            scratch: Vec::new(),
            contexts: 0,
            kept_left: KEPT_BUDGET,
        }
    }

    pub(super) fn context(&mut self, location: Location, origin: u64) -> Rc<Ctx> {
        self.contexts += 1;
        Rc::new(Ctx {
            location,
            origin,
            id: self.contexts,
        })
    }

    /// The classified global `module.name`, cached: the same few globals recur all through a
    /// pickle.
    fn global(&mut self, module: &str, name: &str) -> Rc<GlobalRef> {
        // Length-prefixed: names may contain any character, so no separator is unambiguous.
        self.key.clear();
        let _ = write!(self.key, "{}:", module.len());
        self.key.push_str(module);
        self.key.push_str(name);
        if let Some(g) = self.globals.get(self.key.as_str()) {
            return g.clone();
        }
        let class = self.policy.check(module, name);
        let path: Rc<str> = Rc::from(format!("{module}.{name}"));
        let special = match Special::of(&path) {
            Special::None => {
                let (m, n) = normalize(module, name);
                Special::of(&format!("{m}.{n}"))
            }
            s => s,
        };
        let g = Rc::new(GlobalRef {
            path: path.clone(),
            name_at: module.len() + 1,
            verdict: class.verdict,
            reason: class.reason,
            loader: class.loader,
            special,
        });
        if self.globals.len() < MAX_GLOBALS && path.len() <= MAX_GLOBAL_PATH {
            self.globals.insert(self.key.as_str().into(), g.clone());
            self.summary.globals.push(path.to_string());
        } else {
            self.summary.globals_omitted += 1;
        }
        g
    }
}

/// Where a machine's findings are: the location of its stream, and the input offset that is
/// offset 0 of that stream.
#[derive(Debug)]
pub(super) struct Ctx {
    location: Location,
    origin: u64,
    id: usize,
}

impl Ctx {
    fn offset_of(&self, at: u64) -> u64 {
        self.location.offset + at.saturating_sub(self.origin)
    }

    fn nested(&self, sh: &mut Shared, member: String, origin: u64) -> Rc<Ctx> {
        let mut location = self.location.clone();
        location.members.push(member);
        location.offset = 0;
        sh.context(location, origin)
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Mode {
    /// Follow joblib's array bytes after a NumpyArrayWrapper's BUILD (the top-level stream only:
    /// pickles loaded by pickle.loads or inside object arrays are read by plain unpicklers).
    pub joblib: bool,
    /// Reading bytes joblib treats as array data the way a plain `pickle.load` would: tolerant of
    /// a stack it cannot see, and reporting only globals that are certainly dangerous.
    pub speculative: bool,
    pub depth: usize,
}

/// How a pickle ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum End {
    Stop,
    /// No opcode at all: the stream (or view) was empty.
    Empty,
}

/// The memo: dense for the usual 0, 1, 2, ... keys, a map for the rest.
#[derive(Debug, Default)]
pub(super) struct Memo {
    dense: Vec<Option<Value>>,
    sparse: HashMap<u64, Value>,
    count: usize,
}

impl Memo {
    fn get(&self, key: u64) -> Option<&Value> {
        match usize::try_from(key).ok().and_then(|k| self.dense.get(k)) {
            Some(slot) => slot.as_ref(),
            None => self.sparse.get(&key),
        }
    }

    /// Stores `value`; true if the key is new.
    fn put(&mut self, key: u64, value: Value) -> bool {
        let k = usize::try_from(key).unwrap_or(usize::MAX);
        if k < self.dense.len() {
            let new = self.dense[k].is_none();
            self.dense[k] = Some(value);
            self.count += usize::from(new);
            return new;
        }
        if k <= self.dense.len() + 1024 && self.sparse.is_empty() {
            self.dense.resize_with(k + 1, || None);
            self.dense[k] = Some(value);
            self.count += 1;
            return true;
        }
        let new = self.sparse.insert(key, value).is_none();
        self.count += usize::from(new);
        new
    }

    fn clear(&mut self) {
        self.dense.clear();
        self.sparse.clear();
        self.count = 0;
    }
}

/// A pickle found inside a bytes value, scanned as it was read.
#[derive(Debug)]
struct NestedScan {
    findings: Vec<Finding>,
    member: Location,
    emitted: bool,
}

pub(super) struct Machine<'m> {
    ctx: Rc<Ctx>,
    mode: Mode,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: Memo,
    /// For the speculative reading of joblib array bytes: the memo it continues from.
    parent_memo: Option<&'m Memo>,
    /// Where the current FRAME ends (0: none), for joblib's placement of array bytes.
    frame_end: u64,
    /// Arrays whose wrapper was built mid-frame: joblib reads them after the frame.
    pending: Vec<ArrayPlan>,
    pending_limit: u64,
    nested: Vec<NestedScan>,
    /// Memo writes (for the speculative reading: did the array bytes change the memo?).
    memo_writes: u64,
    /// The memo reached `Limits::max_memo`; later entries are not tracked.
    memo_saturated: bool,
    /// `builtins.getattr` put on the stack (GLOBAL, STACK_GLOBAL, GET, DUP) but not yet
    /// reported: the global, where it first appeared, how often it was pushed, and how many of
    /// those were consumed as `getattr(instance, "method")` (a pickled bound method). Any other
    /// use is reported at the end of the pickle.
    getattr: Option<(Rc<GlobalRef>, u64)>,
    getattr_pushed: u64,
    getattr_bound: u64,
}

type R<T> = Result<T, Fail>;

impl<'m> Machine<'m> {
    pub(super) fn new(ctx: Rc<Ctx>, mode: Mode, parent_memo: Option<&'m Memo>) -> Self {
        Machine {
            ctx,
            mode,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Memo::default(),
            parent_memo,
            frame_end: 0,
            pending: Vec::new(),
            pending_limit: u64::MAX,
            nested: Vec::new(),
            memo_writes: 0,
            memo_saturated: false,
            getattr: None,
            getattr_pushed: 0,
            getattr_bound: 0,
        }
    }

    /// Forget the last pickle: each pickle in a stream gets a fresh unpickler.
    pub(super) fn reset(&mut self) {
        self.stack.clear();
        self.marks.clear();
        self.memo.clear();
        self.parent_memo = None;
        self.frame_end = 0;
        self.pending.clear();
        self.nested.clear();
        self.getattr = None;
        self.getattr_pushed = 0;
        self.getattr_bound = 0;
    }

    fn fail(&self, at: u64, kind: FailKind, message: impl Into<String>) -> Fail {
        Fail {
            offset: self.ctx.offset_of(at),
            message: message.into(),
            kind,
        }
    }

    fn format(&self, at: u64, message: impl Into<String>) -> Fail {
        self.fail(at, FailKind::Format, message)
    }

    #[cold]
    fn io(&self, at: u64, e: std::io::Error) -> Fail {
        self.fail(at, FailKind::Io, format!("reading the stream failed: {e}"))
    }

    #[cold]
    fn truncated(&self, at: u64, what: &str) -> Fail {
        self.format(
            at,
            format!("the pickle is truncated: the stream ends inside {what}"),
        )
    }

    /// Records a finding (once per rule, global and stream).
    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        rule: &'static str,
        severity: Severity,
        global: Option<&Rc<str>>,
        message: String,
    ) {
        emit(
            sh,
            out,
            &self.ctx,
            self.mode.speculative,
            at,
            rule,
            severity,
            global,
            message,
        );
    }

    fn report_global(&self, sh: &mut Shared, out: &mut Vec<Finding>, at: u64, g: &GlobalRef) {
        match g.verdict {
            Verdict::Allowed => {}
            Verdict::Dangerous => self.report(
                sh,
                out,
                at,
                RULE_DANGEROUS,
                Severity::Dangerous,
                Some(&g.path),
                format!("{} {} when the pickle is loaded", g.path, g.reason),
            ),
            Verdict::Unknown => self.report(
                sh,
                out,
                at,
                RULE_UNKNOWN,
                Severity::Suspicious,
                Some(&g.path),
                format!(
                    "{} {}: loading the pickle imports it and may call it with arguments the file \
                     chooses",
                    g.path, g.reason
                ),
            ),
        }
    }

    // ---- the stack --------------------------------------------------------------------------

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    #[inline(always)]
    fn push(&mut self, at: u64, limits: &Limits, v: Value) -> R<()> {
        if self.stack.len() >= limits.max_stack {
            return Err(self.stack_limit(at, limits));
        }
        self.stack.push(v);
        Ok(())
    }

    #[cold]
    fn stack_limit(&self, at: u64, limits: &Limits) -> Fail {
        self.fail(
            at,
            FailKind::Limit,
            format!(
                "the pickle's stack grows past the limit of {} items",
                limits.max_stack
            ),
        )
    }

    #[inline]
    fn pop(&mut self, at: u64) -> R<Value> {
        if self.stack.len() > self.fence() {
            if let Some(v) = self.stack.pop() {
                return Ok(v);
            }
        }
        if self.mode.speculative && self.marks.is_empty() {
            return Ok(Value::Unknown);
        }
        Err(self.format(
            at,
            "stack underflow: an opcode takes more values than the stack has",
        ))
    }

    fn top(&mut self, at: u64) -> R<&mut Value> {
        if self.stack.len() <= self.fence() {
            if !(self.mode.speculative && self.marks.is_empty()) {
                return Err(self.format(
                    at,
                    "stack underflow: an opcode needs a value the stack does not have",
                ));
            }
            self.stack.push(Value::Unknown);
        }
        let last = self.stack.len() - 1;
        Ok(&mut self.stack[last])
    }

    fn pop_mark(&mut self, at: u64) -> R<usize> {
        self.marks
            .pop()
            .ok_or_else(|| self.format(at, "an opcode needs a MARK but none is open"))
    }

    /// The object a SETITEMS/APPENDS/ADDITEMS (whose mark started at `mark`) updates.
    fn mark_target(&mut self, at: u64, mark: usize) -> R<usize> {
        if mark > self.fence() {
            return Ok(mark - 1);
        }
        if self.mode.speculative && self.marks.is_empty() {
            self.stack.insert(mark, Value::Unknown);
            return Ok(mark);
        }
        Err(self.format(at, "stack underflow: nothing below the MARK to update"))
    }

    // ---- the memo ---------------------------------------------------------------------------

    fn memo_get(&self, at: u64, key: u64) -> R<Value> {
        let found = self
            .memo
            .get(key)
            .or_else(|| self.parent_memo.and_then(|p| p.get(key)))
            .cloned();
        if found.is_none() && self.memo_saturated {
            // Not tracked since the memo reached its limit: unknown, so a STACK_GLOBAL built
            // from it is unresolvable (and reported as such), never assumed harmless.
            return Ok(Value::Unknown);
        }
        found.ok_or_else(|| {
            self.format(
                at,
                format!("memo key {key} was never stored (GET of a missing entry)"),
            )
        })
    }

    fn memo_put(&mut self, at: u64, limits: &Limits, key: u64, value: Value) -> R<()> {
        self.memo_writes += 1;
        // Past the limit new entries are not tracked (memory stays bounded; large benign models
        // memoize millions of objects); reading one back yields an unknown value.
        if self.memo.count >= limits.max_memo && self.memo.get(key).is_none() {
            let _ = at;
            self.memo_saturated = true;
            return Ok(());
        }
        self.memo.put(key, value);
        Ok(())
    }

    fn memo_len(&self) -> u64 {
        (self.memo.count + self.parent_memo.map_or(0, |p| p.count)) as u64
    }

    // ---- arguments --------------------------------------------------------------------------

    #[inline(always)]
    fn arg<const N: usize>(&self, inp: &mut Input, at: u64) -> R<[u8; N]> {
        match inp.array::<N>() {
            Ok(Some(a)) => Ok(a),
            Ok(None) => Err(self.truncated(at, "an opcode's argument")),
            Err(e) => Err(self.io(at, e)),
        }
    }

    /// A newline-terminated argument into `sh.scratch` (at most `keep` bytes of it); returns its
    /// full length.
    fn line(&self, inp: &mut Input, sh: &mut Shared, at: u64, keep: usize) -> R<u64> {
        match inp.line(keep, &mut sh.scratch) {
            Ok((len, true)) => Ok(len),
            Ok((_, false)) => Err(self.truncated(at, "a text argument (no newline)")),
            Err(e) => Err(self.io(at, e)),
        }
    }

    fn line_int(&self, inp: &mut Input, sh: &mut Shared, at: u64, what: &str) -> R<Option<i64>> {
        let len = self.line(inp, sh, at, NUMBER_TEXT)?;
        if len > NUMBER_TEXT as u64 {
            return Ok(None);
        }
        text::parse_int(&sh.scratch).map_err(|()| self.format(at, format!("bad {what} argument")))
    }

    fn memo_key(&self, inp: &mut Input, sh: &mut Shared, at: u64, what: &str) -> R<u64> {
        match self.line_int(inp, sh, at, what)? {
            Some(k) if k >= 0 => Ok(k as u64),
            Some(_) => Err(self.format(at, format!("negative {what} argument"))),
            None => Err(self.format(at, format!("{what} argument out of range"))),
        }
    }

    /// A module or attribute name line of GLOBAL/INST. `None` if too long to keep.
    fn name_line(&self, inp: &mut Input, sh: &mut Shared, at: u64) -> R<Option<String>> {
        let keep = sh.limits.max_kept_bytes;
        let len = self.line(inp, sh, at, keep)?;
        if len == 0 {
            return Err(self.format(at, "GLOBAL/INST with an empty module or name"));
        }
        if len > keep as u64 {
            return Ok(None);
        }
        match std::str::from_utf8(&sh.scratch) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(self.format(at, "a GLOBAL/INST name is not valid UTF-8")),
        }
    }

    /// A payload of `len` bytes: kept if short, scanned if it is itself a pickle.
    fn payload(
        &mut self,
        inp: &mut Input,
        sh: &mut Shared,
        at: u64,
        len: u64,
        kind: Payload,
    ) -> R<Value> {
        let data_at = inp.offset();
        // Once a pickle has kept its budget of payload bytes, only short strings (module and
        // attribute names) are kept: memo entries could otherwise pin the whole file in memory.
        let max = if sh.kept_left > 0 {
            sh.limits.max_kept_bytes as u64
        } else {
            (sh.limits.max_kept_bytes as u64).min(KEPT_AFTER_BUDGET)
        };
        if len <= max {
            sh.kept_left = sh.kept_left.saturating_sub(len);
            let mut owned = Vec::new();
            // Short payloads are decoded straight from the input buffer.
            let data: &[u8] = if len <= inp.capacity() as u64 {
                match inp.take(len as usize).map_err(|e| self.io(at, e))? {
                    Some(data) => data,
                    None => return Err(self.truncated(at, "a string or bytes payload")),
                }
            } else {
                let got = inp
                    .chunks(len, |c| {
                        owned.extend_from_slice(c);
                        true
                    })
                    .map_err(|e| self.io(at, e))?;
                if got < len {
                    return Err(self.truncated(at, "a string or bytes payload"));
                }
                &owned
            };
            // A pickle hidden as base64 or hex text in a string or bytes value: scanned like an
            // embedded one (reported if it has findings and is never decoded and loaded).
            if let Some((encoding, decoded)) = text::hidden_pickle(data, sh.limits.max_kept_bytes) {
                if !self.mode.speculative && !looks_like_pickle(data) {
                    let member = self.hidden_member(encoding, data_at);
                    self.scan_decoded(sh, member, &decoded);
                }
            }
            return Ok(match kind {
                Payload::Utf8 => match text::utf8_surrogatepass(data) {
                    Some(s) => Value::from_str(&s),
                    None => return Err(self.format(at, "a unicode string is not valid UTF-8")),
                },
                Payload::Latin1 => Value::from_str(&text::latin1_decode(data)),
                Payload::Bytes => {
                    let nested = if looks_like_pickle(data) {
                        self.scan_nested_slice(sh, data_at, data)
                    } else {
                        None
                    };
                    Value::Bytes(Rc::new(Blob {
                        len,
                        data: Some(data.into()),
                        nested,
                        at: data_at,
                    }))
                }
            });
        }
        // Too long to keep: scan it in place if it is a pickle, then skip what is left.
        let mut nested = None;
        let mut utf8 = text::Utf8Stream::default();
        match kind {
            Payload::Bytes => {
                let head = inp.peek(2).map_err(|e| self.io(at, e))?;
                if looks_like_pickle(head) {
                    nested = self.scan_nested_inline(inp, sh, data_at, len);
                }
            }
            Payload::Utf8 => {
                let mut valid = true;
                let got = inp
                    .chunks(len, |c| {
                        valid = utf8.feed(c);
                        valid
                    })
                    .map_err(|e| self.io(at, e))?;
                if !valid {
                    return Err(self.format(at, "a unicode string is not valid UTF-8"));
                }
                if got < len {
                    return Err(self.truncated(at, "a string payload"));
                }
                if !utf8.finish() {
                    return Err(self.format(at, "a unicode string is not valid UTF-8"));
                }
            }
            Payload::Latin1 => {}
        }
        let done = inp.offset() - data_at;
        let skipped = inp.skip(len - done).map_err(|e| self.io(at, e))?;
        if done + skipped < len {
            return Err(self.truncated(at, "a string or bytes payload"));
        }
        Ok(match kind {
            Payload::Bytes => Value::Bytes(Rc::new(Blob {
                len,
                data: None,
                nested,
                at: data_at,
            })),
            Payload::Utf8 | Payload::Latin1 => Value::LongStr(len),
        })
    }

    /// LONG1/LONG4 bytes: a little-endian two's complement integer.
    fn long_bytes(&mut self, inp: &mut Input, at: u64, n: u64) -> R<Value> {
        if n <= 8 {
            let mut raw = [0u8; 8];
            let mut filled = 0usize;
            let got = inp
                .chunks(n, |c| {
                    raw[filled..filled + c.len()].copy_from_slice(c);
                    filled += c.len();
                    true
                })
                .map_err(|e| self.io(at, e))?;
            if got < n {
                return Err(self.truncated(at, "a LONG argument"));
            }
            if n == 0 {
                return Ok(Value::Int(0));
            }
            let negative = raw[n as usize - 1] & 0x80 != 0;
            if negative {
                raw[n as usize..].fill(0xff);
            }
            return Ok(Value::Int(i64::from_le_bytes(raw)));
        }
        let skipped = inp.skip(n).map_err(|e| self.io(at, e))?;
        if skipped < n {
            return Err(self.truncated(at, "a LONG argument"));
        }
        Ok(Value::BigInt)
    }

    // ---- nested pickles ---------------------------------------------------------------------

    /// Scans a kept payload that looks like a pickle; its findings are held until this pickle
    /// shows whether it loads the payload.
    fn scan_nested_slice(&mut self, sh: &mut Shared, data_at: u64, data: &[u8]) -> Option<usize> {
        if self.mode.speculative || self.mode.depth + 1 > sh.limits.max_nesting {
            return None;
        }
        let mut findings = Vec::new();
        let member = self.nested_member(data_at);
        let ctx = self.ctx.nested(sh, member, 0);
        let location = ctx.location.clone();
        scan_slice(sh, &mut findings, ctx, self.mode.depth + 1, data);
        self.hold_nested(findings, location)
    }

    /// Scans a payload too long to keep in place, as it streams by.
    fn scan_nested_inline(
        &mut self,
        inp: &mut Input,
        sh: &mut Shared,
        data_at: u64,
        len: u64,
    ) -> Option<usize> {
        if self.mode.speculative || self.mode.depth + 1 > sh.limits.max_nesting {
            return None;
        }
        let member = self.nested_member(data_at);
        let ctx = self.ctx.nested(sh, member, data_at);
        let location = ctx.location.clone();
        let saved = inp.limit();
        inp.set_limit(data_at.saturating_add(len).min(saved));
        let mut findings = Vec::new();
        {
            let mut inner = Machine::new(
                ctx,
                Mode {
                    joblib: false,
                    speculative: false,
                    depth: self.mode.depth + 1,
                },
                None,
            );
            let _ = inner.run_pickle(inp, sh, &mut findings);
            inner.finish(sh, &mut findings);
            sh.summary.nested_pickles += 1;
        }
        inp.set_limit(saved);
        self.hold_nested(findings, location)
    }

    fn nested_member(&self, data_at: u64) -> String {
        format!("nested pickle at offset {}", self.ctx.offset_of(data_at))
    }

    /// The member name of a pickle decoded from text at `data_at` (`u64::MAX`: a string that
    /// reached a decoder with no offset of its own).
    fn hidden_member(&self, encoding: TextEncoding, data_at: u64) -> String {
        if data_at == u64::MAX {
            format!("{} pickle in a string argument", encoding.name())
        } else {
            format!(
                "{} pickle at offset {}",
                encoding.name(),
                self.ctx.offset_of(data_at)
            )
        }
    }

    /// Scans a pickle decoded from base64 or hex text; its findings are held like those of an
    /// embedded pickle, until this pickle shows whether it loads the decoded bytes.
    fn scan_decoded(&mut self, sh: &mut Shared, member: String, data: &[u8]) -> Option<usize> {
        if self.mode.speculative || self.mode.depth + 1 > sh.limits.max_nesting {
            return None;
        }
        let mut findings = Vec::new();
        let ctx = self.ctx.nested(sh, member, 0);
        let location = ctx.location.clone();
        scan_slice(sh, &mut findings, ctx, self.mode.depth + 1, data);
        self.hold_nested(findings, location)
    }

    /// `base64.b64decode(text)`, `binascii.unhexlify(text)`, `codecs.decode(text, "hex")`, ...:
    /// the decoded bytes, bounded by the kept limit (the text itself was kept, so it is short),
    /// scanned as a pickle if they start like one, so a loader they are handed to is followed.
    fn decode_call(&mut self, sh: &mut Shared, decoding: Decoding, args: &Value) -> Value {
        let items = args.items().unwrap_or(&[]);
        // `b64decode(s, altchars)`: the second argument names the characters for 62 and 63.
        let altchars = || -> Option<[u8; 2]> {
            match items.get(1)? {
                Value::Bytes(blob) => blob.data.as_deref()?.try_into().ok(),
                v => v.as_str()?.as_bytes().try_into().ok(),
            }
        };
        let mut alt = None;
        let encoding = match decoding {
            Decoding::Base64 => {
                alt = altchars();
                TextEncoding::Base64
            }
            Decoding::Base64UrlSafe => {
                alt = text::URL_SAFE;
                TextEncoding::Base64
            }
            Decoding::Hex => TextEncoding::Hex,
            Decoding::Codec => {
                let name = items
                    .get(1)
                    .and_then(Value::as_str)
                    .map(|e| e.to_ascii_lowercase().replace(['-', ' '], "_"));
                match name.as_deref() {
                    Some("base64" | "base_64" | "base64_codec") => TextEncoding::Base64,
                    Some("hex" | "hex_codec") => TextEncoding::Hex,
                    _ => return Value::Unknown,
                }
            }
        };
        let (source, at): (Cow<[u8]>, u64) = match items.first() {
            Some(Value::Bytes(blob)) => match &blob.data {
                Some(data) => (Cow::Borrowed(&data[..]), blob.at),
                None => return Value::Unknown,
            },
            Some(v) => match v.as_str() {
                Some(s) => (text::latin1_encode(s), u64::MAX),
                None => return Value::Unknown,
            },
            None => return Value::Unknown,
        };
        let max = sh.limits.max_kept_bytes;
        let decoded = match encoding {
            TextEncoding::Base64 => text::decode_base64(&source, alt, max),
            TextEncoding::Hex => text::decode_hex(&source, max),
        };
        let Some(decoded) = decoded else {
            return Value::Unknown;
        };
        let nested = if looks_like_pickle(&decoded) {
            let member = self.hidden_member(encoding, at);
            self.scan_decoded(sh, member, &decoded)
        } else {
            None
        };
        Value::Bytes(Rc::new(Blob {
            len: decoded.len() as u64,
            data: Some(decoded.into_boxed_slice()),
            nested,
            at,
        }))
    }

    fn hold_nested(&mut self, findings: Vec<Finding>, member: Location) -> Option<usize> {
        if self.nested.len() >= MAX_NESTED_HELD {
            return None;
        }
        let mut findings = findings;
        findings.truncate(MAX_NESTED_FINDINGS);
        self.nested.push(NestedScan {
            findings,
            member,
            emitted: false,
        });
        Some(self.nested.len() - 1)
    }

    /// A loader (`pickle.loads`, `torch.load`, ...) is called: the bytes and strings handed to
    /// it are pickles to scan, and their findings count in full.
    fn loader_args(&mut self, sh: &mut Shared, out: &mut Vec<Finding>, args: &Value) {
        if self.mode.speculative {
            return;
        }
        let Some(items) = args.items() else {
            return;
        };
        for item in items {
            match item {
                Value::Bytes(blob) => {
                    if let Some(i) = blob.nested {
                        if let Some(scan) = self.nested.get_mut(i) {
                            if !scan.emitted {
                                scan.emitted = true;
                                out.extend(scan.findings.iter().cloned());
                            }
                        }
                    } else if let Some(data) = &blob.data {
                        self.scan_loaded(sh, out, blob.at, data);
                    }
                }
                Value::InlineStr { .. } | Value::Str(_) => {
                    if let Some(s) = item.as_str() {
                        let bytes = text::latin1_encode(s);
                        // Strings have no offset of their own here; the call site names them.
                        self.scan_loaded(sh, out, u64::MAX, &bytes);
                    }
                }
                _ => {}
            }
        }
    }

    /// Scans bytes a loader is given, reporting straight away.
    fn scan_loaded(&mut self, sh: &mut Shared, out: &mut Vec<Finding>, data_at: u64, data: &[u8]) {
        if self.mode.depth + 1 > sh.limits.max_nesting || data.is_empty() {
            return;
        }
        let member = if data_at == u64::MAX {
            "nested pickle in a string argument".to_string()
        } else {
            self.nested_member(data_at)
        };
        let ctx = self.ctx.nested(sh, member, 0);
        scan_slice(sh, out, ctx, self.mode.depth + 1, data);
    }

    /// End of a pickle: embedded pickles it never loaded still deserve a look, as whatever reads
    /// the value later might load them.
    pub(super) fn finish(&mut self, sh: &mut Shared, out: &mut Vec<Finding>) {
        if let Some((g, at)) = self.getattr.take() {
            if self.getattr_pushed > self.getattr_bound {
                self.report_global(sh, out, at, &g);
            }
        }
        self.getattr_pushed = 0;
        self.getattr_bound = 0;
        let held = std::mem::take(&mut self.nested);
        for scan in held {
            if scan.emitted {
                continue;
            }
            let worst = scan
                .findings
                .iter()
                .filter(|f| f.severity >= Severity::Suspicious)
                .max_by_key(|f| f.severity);
            let Some(worst) = worst else {
                continue;
            };
            let what = match &worst.global {
                Some(g) => format!("references {g} ({})", worst.severity),
                None => format!("has a {} finding ({})", worst.severity, worst.rule),
            };
            let global: Option<Rc<str>> = worst.global.as_deref().map(Rc::from);
            let ctx = Ctx {
                location: scan.member.clone(),
                origin: 0,
                id: self.ctx.id,
            };
            emit(
                sh,
                out,
                &ctx,
                false,
                0,
                RULE_NESTED,
                Severity::Suspicious,
                global.as_ref(),
                format!(
                    "a bytes value holds an embedded pickle that {what}; this pickle does not \
                     load it, but code that unpickles the value would run it"
                ),
            );
        }
    }

    // ---- calls ------------------------------------------------------------------------------

    /// A global named by GLOBAL/INST/STACK_GLOBAL (or a resolver's arguments): classified and
    /// reported.
    fn reference(
        &mut self,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        module: Option<&str>,
        name: Option<&str>,
    ) -> Value {
        let (Some(module), Some(name)) = (module, name) else {
            self.report(
                sh,
                out,
                at,
                RULE_UNRESOLVED,
                Severity::Dangerous,
                None,
                format!(
                    "a global's module or name is longer than {} bytes and cannot be verified",
                    sh.limits.max_kept_bytes
                ),
            );
            return Value::Unknown;
        };
        let g = sh.global(module, name);
        let v = Value::Global(g);
        if !self.note_getattr(&v, at) {
            if let Value::Global(g) = &v {
                self.report_global(sh, out, at, g);
            }
        }
        v
    }

    /// Counts a `builtins.getattr` put on the stack, whose verdict waits for its use (see
    /// [`Machine::getattr`]); false for any other value. The speculative reading of array bytes
    /// does not wait: there, getattr is reported at once.
    fn note_getattr(&mut self, v: &Value, at: u64) -> bool {
        let Value::Global(g) = v else {
            return false;
        };
        if g.special != Special::Getattr || self.mode.speculative {
            return false;
        }
        if self.getattr.is_none() {
            self.getattr = Some((g.clone(), at));
        }
        self.getattr_pushed += 1;
        true
    }

    /// A call of an Unknown global (REDUCE, INST, OBJ, NEWOBJ, or a reconstructor instantiating
    /// it): loading the file runs it, so it fails the default gate unless allowed.
    fn check_called(
        &self,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        g: &GlobalRef,
        how: &str,
    ) {
        if g.verdict != Verdict::Unknown {
            return;
        }
        if how.starts_with("instantiates") && is_main_class(&g.path) {
            // NEWOBJ (or a reconstructor) of a class of the loading program's own script: only
            // `cls.__new__` and `__setstate__` of code the operator ships run, and models saved
            // from a notebook or script name their classes so. It stays suspicious (RULE_UNKNOWN);
            // calling a `__main__` name (REDUCE, INST, OBJ) still fails the gate.
            return;
        }
        self.report(
            sh,
            out,
            at,
            RULE_UNKNOWN_CALL,
            Severity::Dangerous,
            Some(&g.path),
            format!(
                "{} {}, and the pickle {how}: loading the file runs it with arguments the file \
                 chooses (allow it with --allow-global or models.allowedGlobals only if it is a \
                 class you trust to hold data)",
                g.path, g.reason
            ),
        );
    }

    fn stack_global(
        &mut self,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        module: Value,
        name: Value,
    ) -> Value {
        if let (Some(m), Some(n)) = (module.as_str(), name.as_str()) {
            return self.reference(sh, out, at, Some(m), Some(n));
        }
        if module.is_str() && name.is_str() {
            return self.reference(sh, out, at, None, None);
        }
        if !self.mode.speculative {
            self.report(
                sh,
                out,
                at,
                RULE_UNRESOLVED,
                Severity::Dangerous,
                None,
                format!(
                    "STACK_GLOBAL takes its module and name from values that are not constant \
                     strings ({} and {}), so the global it imports cannot be verified",
                    describe(&module),
                    describe(&name)
                ),
            );
        }
        Value::Unknown
    }

    /// REDUCE (and INST/OBJ, which call their class): `func(*args)`.
    fn call(
        &mut self,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        func: Value,
        args: Value,
    ) -> Value {
        let Value::Global(g) = func else {
            // Not a named global: nothing vouches for what runs, so it fails the gate like a
            // call of an unknown global.
            self.report(
                sh,
                out,
                at,
                RULE_INDIRECT,
                Severity::Dangerous,
                None,
                format!(
                    "the pickle calls {} rather than a named global, so what runs cannot be \
                     checked against the allowlist",
                    describe(&func)
                ),
            );
            return Value::Unknown;
        };
        if g.special == Special::Getattr && !self.mode.speculative {
            if let Some([Value::Global(owner), attr]) = args.items() {
                if let Some(attr) = attr.as_str() {
                    // getattr(Class, "name") is how protocols 0-3 write the dotted global
                    // `module.Class.name` (protocol 4 names it directly): it gets that verdict.
                    self.getattr_bound += 1;
                    let module = owner.path[..owner.name_at.saturating_sub(1)].to_string();
                    let name = format!("{}.{attr}", &owner.path[owner.name_at..]);
                    return self.reference(sh, out, at, Some(&module), Some(&name));
                }
            }
            if bound_method_args(&args) {
                self.getattr_bound += 1;
            } else {
                self.report_global(sh, out, at, &g);
            }
            // A bound method: calling it later is an indirect call.
            return Value::Unknown;
        }
        self.check_called(sh, out, at, &g, "calls it");
        if g.loader {
            self.loader_args(sh, out, &args);
        }
        for &i in instantiated_args(&g) {
            if let Some(Value::Global(cls)) = args.items().and_then(|a| a.get(i)) {
                let how = format!("instantiates it through {}", g.path);
                self.check_called(sh, out, at, cls, &how);
            }
        }
        let first = args.items().and_then(|a| a.first());
        match g.special {
            Special::Dtype => Value::Dtype(Rc::new(Cell::new(dtype_from_args(&args)))),
            Special::ArrayWrapper => Value::Wrapper(Rc::default()),
            Special::Reconstructor => match first {
                Some(Value::Global(cls)) => instance_of(cls, &Value::tuple(&[])),
                _ => Value::Unknown,
            },
            Special::ToBytes => to_bytes(&args),
            Special::Resolver => {
                let items = args.items().unwrap_or(&[]);
                match (items.first(), items.get(1)) {
                    (Some(m), Some(n)) => self.stack_global(sh, out, at, m.clone(), n.clone()),
                    _ => Value::Unknown,
                }
            }
            Special::Decoder(decoding) => self.decode_call(sh, decoding, &args),
            Special::Getattr | Special::Instantiator | Special::None => Value::Object(g),
        }
    }

    /// NEWOBJ/NEWOBJ_EX: `cls.__new__(cls, *args)`.
    fn new_object(
        &mut self,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        cls: Value,
        args: Value,
    ) -> Value {
        match cls {
            Value::Global(g) => {
                self.check_called(sh, out, at, &g, "instantiates it (NEWOBJ)");
                instance_of(&g, &args)
            }
            other => self.call(sh, out, at, other, args),
        }
    }

    /// An update of `target` (SETITEM(S), APPEND(S), ADDITEMS, BUILD): on a global itself that
    /// rewrites a module or class for the whole process.
    fn check_mutation(
        &self,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        target: &Value,
        op: &str,
    ) {
        if let Value::Global(g) = target {
            self.report(
                sh,
                out,
                at,
                RULE_MUTATION,
                Severity::Dangerous,
                Some(&g.path),
                format!(
                    "{op} modifies {} itself (a module, class or function), which changes it for \
                     everything the process imports or unpickles afterwards",
                    g.path
                ),
            );
        }
    }

    fn build(
        &mut self,
        inp: &mut Input,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        state: Value,
    ) -> R<()> {
        let target = self.top(at)?.clone();
        self.check_mutation(sh, out, at, &target, "BUILD");
        match target {
            Value::Dtype(cell) => cell.set(apply_dtype_state(cell.get(), &state)),
            Value::Wrapper(w) => {
                if let Ok(mut attrs) = w.try_borrow_mut() {
                    attrs.update(&state);
                }
                if self.mode.joblib {
                    let plan = w
                        .try_borrow()
                        .map(|a| a.plan())
                        .unwrap_or(Err("the array wrapper could not be read"));
                    // joblib's load_build replaces the wrapper with the array it reads.
                    if let Some(top) = self.stack.last_mut() {
                        *top = Value::Unknown;
                    }
                    self.joblib_array(inp, sh, out, at, plan)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    // ---- joblib -----------------------------------------------------------------------------

    fn joblib_array(
        &mut self,
        inp: &mut Input,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        plan: Result<(ArrayPlan, bool), &'static str>,
    ) -> R<()> {
        let (plan, odd) = match plan {
            Ok(p) => p,
            Err(why) => {
                self.report(
                    sh,
                    out,
                    at,
                    RULE_ARRAY,
                    Severity::Suspicious,
                    None,
                    format!(
                        "joblib writes array data right after this NumpyArrayWrapper, but {why}; \
                         the bytes that follow are scanned as pickle opcodes instead, which is \
                         not how joblib reads them"
                    ),
                );
                return Ok(());
            }
        };
        if odd {
            self.report(
                sh,
                out,
                at,
                RULE_ARRAY,
                Severity::Suspicious,
                None,
                "the array's dtype state sets the has-objects flag against its type; numpy \
                 versions disagree on whether joblib then reads raw bytes or a nested pickle \
                 (this scan follows numpy 2)"
                    .to_string(),
            );
        }
        if self.frame_end > inp.offset() {
            // joblib's unpickler has read the whole frame already, so it reads the array from
            // the file after the frame, then goes on with the rest of the frame.
            if self.pending.len() >= MAX_PENDING_ARRAYS {
                return Err(self.fail(at, FailKind::Limit, "too many joblib arrays in one frame"));
            }
            if self.pending.is_empty() {
                self.pending_limit = inp.limit();
                inp.set_limit(self.frame_end.min(self.pending_limit));
            }
            self.pending.push(plan);
            return Ok(());
        }
        self.read_array(inp, sh, out, at, plan)
    }

    /// STOP inside a frame whose arrays are still to come: joblib's unpickler has the rest of the
    /// frame in memory and never reads it, while a plain loader of stacked pickles would take it
    /// for the next pickle; it is scanned as such, then the arrays after the frame are skipped.
    fn finish_frame(&mut self, inp: &mut Input, sh: &mut Shared, out: &mut Vec<Finding>) -> R<()> {
        let mut rest = Machine::new(
            self.ctx.clone(),
            Mode {
                joblib: false,
                speculative: false,
                depth: self.mode.depth + 1,
            },
            None,
        );
        while let Ok(End::Stop) = rest.run_pickle(inp, sh, out) {
            rest.finish(sh, out);
            rest.reset();
        }
        rest.finish(sh, out);
        // Whatever did not parse up to the frame's end is not read by joblib either.
        let left = self.frame_end.saturating_sub(inp.offset());
        inp.skip(left).map_err(|e| self.io(self.frame_end, e))?;
        self.run_pending(inp, sh, out)
    }

    fn run_pending(&mut self, inp: &mut Input, sh: &mut Shared, out: &mut Vec<Finding>) -> R<()> {
        inp.set_limit(self.pending_limit);
        let at = inp.offset();
        for plan in std::mem::take(&mut self.pending) {
            self.read_array(inp, sh, out, at, plan)?;
        }
        Ok(())
    }

    fn read_array(
        &mut self,
        inp: &mut Input,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        at: u64,
        plan: ArrayPlan,
    ) -> R<()> {
        let start = inp.offset();
        match plan {
            ArrayPlan::Pickle => {
                if self.mode.depth + 1 > sh.limits.max_nesting {
                    return Err(self.fail(at, FailKind::Limit, "pickles nested too deeply"));
                }
                let mut inner = Machine::new(
                    self.ctx.clone(),
                    Mode {
                        joblib: false,
                        speculative: false,
                        depth: self.mode.depth + 1,
                    },
                    None,
                );
                let end = inner.run_pickle(inp, sh, out);
                inner.finish(sh, out);
                match end? {
                    End::Stop => {
                        sh.summary.nested_pickles += 1;
                        sh.summary.arrays += 1;
                    }
                    End::Empty => return Err(self.truncated(start, "a joblib object array")),
                }
            }
            ArrayPlan::Raw { aligned, nbytes } => {
                let pad = if aligned {
                    match inp.peek(1).map_err(|e| self.io(start, e))?.first() {
                        Some(&p) => 1 + u64::from(p),
                        None => return Err(self.truncated(start, "joblib array padding")),
                    }
                } else {
                    0
                };
                let region = pad.saturating_add(nbytes);
                self.speculate(inp, sh, out, start, region);
                let done = inp.offset() - start;
                let skipped = inp.skip(region - done).map_err(|e| self.io(start, e))?;
                if done + skipped < region {
                    return Err(self.format(
                        start,
                        format!(
                            "the stream ends inside joblib array data ({} of {region} bytes)",
                            done + skipped
                        ),
                    ));
                }
                sh.summary.arrays += 1;
                sh.summary.array_bytes += nbytes;
            }
        }
        Ok(())
    }

    /// Reads joblib's array bytes the way a plain `pickle.load` of the same file would (as
    /// opcodes continuing this pickle), so a payload disguised as array data is still seen.
    fn speculate(
        &mut self,
        inp: &mut Input,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        start: u64,
        region: u64,
    ) {
        if region == 0 || self.mode.speculative {
            return;
        }
        let saved = inp.limit();
        let end = start.saturating_add(region).min(saved);
        inp.set_limit(end);
        let clean;
        let writes;
        {
            let mut spec = Machine::new(
                self.ctx.clone(),
                Mode {
                    joblib: false,
                    speculative: true,
                    depth: self.mode.depth + 1,
                },
                Some(&self.memo),
            );
            let keep = self.stack.len().saturating_sub(SPECULATIVE_STACK);
            spec.stack.extend(self.stack[keep..].iter().cloned());
            spec.marks
                .extend(self.marks.iter().filter(|&&m| m >= keep).map(|m| m - keep));
            loop {
                match spec.run_pickle(inp, sh, out) {
                    Ok(End::Stop) => spec.reset(),
                    Ok(End::Empty) => {
                        clean = true;
                        break;
                    }
                    Err(_) => {
                        clean = inp.offset() >= end && inp.at_limit();
                        break;
                    }
                }
            }
            writes = spec.memo_writes;
        }
        inp.set_limit(saved);
        if clean && writes > 0 {
            self.report(
                sh,
                out,
                start,
                RULE_AMBIGUOUS_ARRAY,
                Severity::Suspicious,
                None,
                format!(
                    "the {region} bytes joblib reads as array data here also parse as pickle \
                     opcodes that write the memo; a plain pickle.load of this file would run \
                     them and could resolve later globals differently from joblib"
                ),
            );
        }
    }

    // ---- the loop ---------------------------------------------------------------------------

    /// Runs one pickle, through its STOP.
    pub(super) fn run_pickle(
        &mut self,
        inp: &mut Input,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
    ) -> R<End> {
        let mut count = 0u64;
        let result = self.opcodes(inp, sh, out, &mut count);
        sh.summary.opcodes += count;
        result
    }

    /// The opcode loop proper; `count` counts the opcodes read (kept in a local, not in the
    /// summary, on the hot path).
    fn opcodes(
        &mut self,
        inp: &mut Input,
        sh: &mut Shared,
        out: &mut Vec<Finding>,
        count: &mut u64,
    ) -> R<End> {
        let limits = sh.limits;
        loop {
            let at = inp.offset();
            let op = match inp.next() {
                Ok(Some(op)) => op,
                Ok(None) => {
                    if !self.pending.is_empty() && inp.at_limit() {
                        self.run_pending(inp, sh, out)?;
                        continue;
                    }
                    if *count == 0 {
                        return Ok(End::Empty);
                    }
                    return Err(self.truncated(at, "the pickle (no STOP opcode)"));
                }
                Err(e) => return Err(self.io(at, e)),
            };
            *count += 1;
            match op {
                // STOP
                b'.' => {
                    self.pop(at)?;
                    if !self.pending.is_empty() {
                        self.finish_frame(inp, sh, out)?;
                    }
                    return Ok(End::Stop);
                }
                // MARK
                b'(' => {
                    if self.marks.len() >= limits.max_stack {
                        return Err(self.fail(at, FailKind::Limit, "too many open MARKs"));
                    }
                    self.marks.push(self.stack.len());
                }
                // NONE, NEWTRUE, NEWFALSE
                b'N' => self.push(at, limits, Value::None)?,
                0x88 => self.push(at, limits, Value::Bool(true))?,
                0x89 => self.push(at, limits, Value::Bool(false))?,
                // INT
                b'I' => {
                    let len = self.line(inp, sh, at, NUMBER_TEXT)?;
                    let v = if sh.scratch == b"00" {
                        Value::Bool(false)
                    } else if sh.scratch == b"01" {
                        Value::Bool(true)
                    } else if len > NUMBER_TEXT as u64 {
                        Value::BigInt
                    } else {
                        match text::parse_int(&sh.scratch) {
                            Ok(Some(i)) => Value::Int(i),
                            Ok(None) => Value::BigInt,
                            Err(()) => return Err(self.format(at, "bad INT argument")),
                        }
                    };
                    self.push(at, limits, v)?;
                }
                // LONG
                b'L' => {
                    let len = self.line(inp, sh, at, NUMBER_TEXT)?;
                    let v = if len > NUMBER_TEXT as u64 {
                        Value::BigInt
                    } else {
                        let t = sh.scratch.strip_suffix(b"L").unwrap_or(&sh.scratch);
                        match text::parse_int(t) {
                            Ok(Some(i)) => Value::Int(i),
                            Ok(None) => Value::BigInt,
                            Err(()) => return Err(self.format(at, "bad LONG argument")),
                        }
                    };
                    self.push(at, limits, v)?;
                }
                // FLOAT
                b'F' => {
                    let len = self.line(inp, sh, at, NUMBER_TEXT)?;
                    if len <= NUMBER_TEXT as u64 && !text::is_float(&sh.scratch) {
                        return Err(self.format(at, "bad FLOAT argument"));
                    }
                    self.push(at, limits, Value::Float)?;
                }
                // BININT, BININT1, BININT2
                b'J' => {
                    let a = self.arg::<4>(inp, at)?;
                    self.push(at, limits, Value::Int(i64::from(i32::from_le_bytes(a))))?;
                }
                b'K' => {
                    let [a] = self.arg::<1>(inp, at)?;
                    self.push(at, limits, Value::Int(i64::from(a)))?;
                }
                b'M' => {
                    let a = self.arg::<2>(inp, at)?;
                    self.push(at, limits, Value::Int(i64::from(u16::from_le_bytes(a))))?;
                }
                // LONG1, LONG4
                0x8A => {
                    let [n] = self.arg::<1>(inp, at)?;
                    let v = self.long_bytes(inp, at, u64::from(n))?;
                    self.push(at, limits, v)?;
                }
                0x8B => {
                    let n = i32::from_le_bytes(self.arg::<4>(inp, at)?);
                    let n = u64::try_from(n)
                        .map_err(|_| self.format(at, "LONG4 with a negative byte count"))?;
                    let v = self.long_bytes(inp, at, n)?;
                    self.push(at, limits, v)?;
                }
                // BINFLOAT
                b'G' => {
                    self.arg::<8>(inp, at)?;
                    self.push(at, limits, Value::Float)?;
                }
                // STRING
                b'S' => {
                    let keep = sh.limits.max_kept_bytes.saturating_add(2);
                    let len = self.line(inp, sh, at, keep)?;
                    let v = if len > keep as u64 {
                        Value::LongStr(len)
                    } else {
                        let raw = &sh.scratch;
                        let quoted = raw.len() >= 2
                            && raw[0] == raw[raw.len() - 1]
                            && (raw[0] == b'"' || raw[0] == b'\'');
                        if !quoted {
                            return Err(
                                self.format(at, "the STRING opcode argument must be quoted")
                            );
                        }
                        match text::escape_decode(&raw[1..raw.len() - 1]) {
                            Some(bytes) => Value::from_str(&text::latin1_decode(&bytes)),
                            None => return Err(self.format(at, "bad escape in a STRING argument")),
                        }
                    };
                    self.push(at, limits, v)?;
                }
                // BINSTRING, SHORT_BINSTRING (Python 2 str)
                b'T' => {
                    let n = i32::from_le_bytes(self.arg::<4>(inp, at)?);
                    let n = u64::try_from(n)
                        .map_err(|_| self.format(at, "BINSTRING with a negative byte count"))?;
                    let v = self.payload(inp, sh, at, n, Payload::Latin1)?;
                    self.push(at, limits, v)?;
                }
                b'U' => {
                    let [n] = self.arg::<1>(inp, at)?;
                    let v = self.payload(inp, sh, at, u64::from(n), Payload::Latin1)?;
                    self.push(at, limits, v)?;
                }
                // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                b'B' => {
                    let n = u32::from_le_bytes(self.arg::<4>(inp, at)?);
                    let v = self.payload(inp, sh, at, u64::from(n), Payload::Bytes)?;
                    self.push(at, limits, v)?;
                }
                b'C' => {
                    let [n] = self.arg::<1>(inp, at)?;
                    let v = self.payload(inp, sh, at, u64::from(n), Payload::Bytes)?;
                    self.push(at, limits, v)?;
                }
                0x8E | 0x96 => {
                    let n = u64::from_le_bytes(self.arg::<8>(inp, at)?);
                    if n > i64::MAX as u64 {
                        return Err(self.format(at, "a bytes length beyond the maximum size"));
                    }
                    let v = self.payload(inp, sh, at, n, Payload::Bytes)?;
                    self.push(at, limits, v)?;
                }
                // UNICODE
                b'V' => {
                    let keep = sh.limits.max_kept_bytes;
                    let len = self.line(inp, sh, at, keep)?;
                    let v = if len > keep as u64 {
                        Value::LongStr(len)
                    } else {
                        match text::raw_unicode_escape_decode(&sh.scratch) {
                            Some(s) => Value::from_str(&s),
                            None => return Err(self.format(at, "bad escape in a UNICODE argument")),
                        }
                    };
                    self.push(at, limits, v)?;
                }
                // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                b'X' => {
                    let n = u32::from_le_bytes(self.arg::<4>(inp, at)?);
                    let v = self.payload(inp, sh, at, u64::from(n), Payload::Utf8)?;
                    self.push(at, limits, v)?;
                }
                0x8C => {
                    let [n] = self.arg::<1>(inp, at)?;
                    let v = self.payload(inp, sh, at, u64::from(n), Payload::Utf8)?;
                    self.push(at, limits, v)?;
                }
                0x8D => {
                    let n = u64::from_le_bytes(self.arg::<8>(inp, at)?);
                    if n > i64::MAX as u64 {
                        return Err(self.format(at, "a string length beyond the maximum size"));
                    }
                    let v = self.payload(inp, sh, at, n, Payload::Utf8)?;
                    self.push(at, limits, v)?;
                }
                // NEXT_BUFFER, READONLY_BUFFER (out-of-band data of protocol 5)
                0x97 => self.push(at, limits, Value::Unknown)?,
                0x98 => {
                    self.top(at)?;
                }
                // EMPTY_LIST, EMPTY_TUPLE, EMPTY_DICT, EMPTY_SET
                b']' => self.push(at, limits, Value::List)?,
                b')' => self.push(at, limits, Value::tuple(&[]))?,
                b'}' => self.push(at, limits, Value::Dict(Rc::default()))?,
                0x8F => self.push(at, limits, Value::Set)?,
                // LIST, FROZENSET
                b'l' | 0x91 => {
                    let k = self.pop_mark(at)?;
                    self.stack.truncate(k);
                    let v = if op == b'l' { Value::List } else { Value::Set };
                    self.push(at, limits, v)?;
                }
                // TUPLE
                b't' => {
                    let k = self.pop_mark(at)?;
                    let t = Value::tuple(&self.stack[k..]);
                    self.stack.truncate(k);
                    self.push(at, limits, t)?;
                }
                // TUPLE1, TUPLE2, TUPLE3
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < self.fence() + n {
                        if !(self.mode.speculative && self.marks.is_empty()) {
                            return Err(self.format(at, "stack underflow: TUPLEn without n values"));
                        }
                        while self.stack.len() < n {
                            self.stack.insert(0, Value::Unknown);
                        }
                    }
                    let k = self.stack.len() - n;
                    let t = Value::tuple(&self.stack[k..]);
                    self.stack.truncate(k);
                    self.stack.push(t);
                }
                // DICT
                b'd' => {
                    let k = self.pop_mark(at)?;
                    if (self.stack.len() - k) & 1 == 1 {
                        return Err(self.format(at, "DICT with an odd number of items"));
                    }
                    let mut map = Map::default();
                    for pair in self.stack[k..].chunks_exact(2) {
                        map.insert(pair[0].clone(), pair[1].clone());
                    }
                    self.stack.truncate(k);
                    self.push(at, limits, Value::Dict(Rc::new(RefCell::new(map))))?;
                }
                // SETITEM
                b's' => {
                    let value = self.pop(at)?;
                    let key = self.pop(at)?;
                    let target = self.top(at)?.clone();
                    self.check_mutation(sh, out, at, &target, "SETITEM");
                    if let Value::Dict(map) = target {
                        if let Ok(mut m) = map.try_borrow_mut() {
                            m.insert(key, value);
                        }
                    }
                }
                // SETITEMS
                b'u' => {
                    let k = self.pop_mark(at)?;
                    let t = self.mark_target(at, k)?;
                    let k = t + 1;
                    let target = self.stack[t].clone();
                    self.check_mutation(sh, out, at, &target, "SETITEMS");
                    let odd = (self.stack.len() - k) & 1 == 1;
                    if let Value::Dict(map) = &target {
                        if let Ok(mut m) = map.try_borrow_mut() {
                            for pair in self.stack[k..].chunks_exact(2) {
                                m.insert(pair[0].clone(), pair[1].clone());
                            }
                        }
                    }
                    self.stack.truncate(k);
                    if odd {
                        return Err(self.format(at, "SETITEMS with an odd number of items"));
                    }
                }
                // APPEND
                b'a' => {
                    self.pop(at)?;
                    let target = self.top(at)?.clone();
                    self.check_mutation(sh, out, at, &target, "APPEND");
                }
                // APPENDS, ADDITEMS
                b'e' | 0x90 => {
                    let k = self.pop_mark(at)?;
                    let t = self.mark_target(at, k)?;
                    let target = self.stack[t].clone();
                    let what = if op == b'e' { "APPENDS" } else { "ADDITEMS" };
                    self.check_mutation(sh, out, at, &target, what);
                    self.stack.truncate(t + 1);
                }
                // POP
                b'0' => {
                    if self.marks.last() == Some(&self.stack.len()) {
                        self.marks.pop();
                    } else {
                        self.pop(at)?;
                    }
                }
                // POP_MARK
                b'1' => {
                    let k = self.pop_mark(at)?;
                    self.stack.truncate(k);
                }
                // DUP
                b'2' => {
                    let v = self.top(at)?.clone();
                    self.note_getattr(&v, at);
                    self.push(at, limits, v)?;
                }
                // GET, BINGET, LONG_BINGET
                b'g' => {
                    let key = self.memo_key(inp, sh, at, "GET")?;
                    let v = self.memo_get(at, key)?;
                    self.note_getattr(&v, at);
                    self.push(at, limits, v)?;
                }
                b'h' => {
                    let [key] = self.arg::<1>(inp, at)?;
                    let v = self.memo_get(at, u64::from(key))?;
                    self.note_getattr(&v, at);
                    self.push(at, limits, v)?;
                }
                b'j' => {
                    let key = u32::from_le_bytes(self.arg::<4>(inp, at)?);
                    let v = self.memo_get(at, u64::from(key))?;
                    self.note_getattr(&v, at);
                    self.push(at, limits, v)?;
                }
                // PUT, BINPUT, LONG_BINPUT, MEMOIZE
                b'p' => {
                    let key = self.memo_key(inp, sh, at, "PUT")?;
                    let v = self.top(at)?.clone();
                    self.memo_put(at, limits, key, v)?;
                }
                b'q' => {
                    let [key] = self.arg::<1>(inp, at)?;
                    let v = self.top(at)?.clone();
                    self.memo_put(at, limits, u64::from(key), v)?;
                }
                b'r' => {
                    let key = u32::from_le_bytes(self.arg::<4>(inp, at)?);
                    let v = self.top(at)?.clone();
                    self.memo_put(at, limits, u64::from(key), v)?;
                }
                0x94 => {
                    let key = self.memo_len();
                    let v = self.top(at)?.clone();
                    self.memo_put(at, limits, key, v)?;
                }
                // EXT1, EXT2, EXT4
                0x82..=0x84 => {
                    let code = match op {
                        0x82 => i64::from(self.arg::<1>(inp, at)?[0]),
                        0x83 => i64::from(u16::from_le_bytes(self.arg::<2>(inp, at)?)),
                        _ => i64::from(i32::from_le_bytes(self.arg::<4>(inp, at)?)),
                    };
                    if code <= 0 {
                        return Err(self.format(at, "EXT specifies a code <= 0"));
                    }
                    self.report(
                        sh,
                        out,
                        at,
                        RULE_EXTENSION,
                        Severity::Suspicious,
                        None,
                        format!(
                            "EXT opcode with extension code {code}: the global comes from the \
                             loading process's copyreg registry and cannot be checked here"
                        ),
                    );
                    self.push(at, limits, Value::Unknown)?;
                }
                // GLOBAL
                b'c' => {
                    let module = self.name_line(inp, sh, at)?;
                    let name = self.name_line(inp, sh, at)?;
                    let v = self.reference(sh, out, at, module.as_deref(), name.as_deref());
                    self.push(at, limits, v)?;
                }
                // STACK_GLOBAL
                0x93 => {
                    let name = self.pop(at)?;
                    let module = self.pop(at)?;
                    let v = self.stack_global(sh, out, at, module, name);
                    self.push(at, limits, v)?;
                }
                // INST
                b'i' => {
                    let module = self.name_line(inp, sh, at)?;
                    let name = self.name_line(inp, sh, at)?;
                    let cls = self.reference(sh, out, at, module.as_deref(), name.as_deref());
                    let k = self.pop_mark(at)?;
                    let args = Value::tuple(&self.stack[k..]);
                    self.stack.truncate(k);
                    let v = self.call(sh, out, at, cls, args);
                    self.push(at, limits, v)?;
                }
                // OBJ
                b'o' => {
                    let k = self.pop_mark(at)?;
                    if self.stack.len() <= k {
                        return Err(self.format(at, "OBJ without a class"));
                    }
                    let cls = self.stack[k].clone();
                    let args = Value::tuple(&self.stack[k + 1..]);
                    self.stack.truncate(k);
                    let v = self.call(sh, out, at, cls, args);
                    self.push(at, limits, v)?;
                }
                // REDUCE
                b'R' => {
                    let args = self.pop(at)?;
                    let func = self.pop(at)?;
                    let v = self.call(sh, out, at, func, args);
                    self.push(at, limits, v)?;
                }
                // NEWOBJ, NEWOBJ_EX
                0x81 => {
                    let args = self.pop(at)?;
                    let cls = self.pop(at)?;
                    let v = self.new_object(sh, out, at, cls, args);
                    self.push(at, limits, v)?;
                }
                0x92 => {
                    self.pop(at)?;
                    let args = self.pop(at)?;
                    let cls = self.pop(at)?;
                    let v = self.new_object(sh, out, at, cls, args);
                    self.push(at, limits, v)?;
                }
                // BUILD
                b'b' => {
                    let state = self.pop(at)?;
                    self.build(inp, sh, out, at, state)?;
                }
                // PERSID, BINPERSID: PyTorch's storages; the loader's persistent_load decides.
                b'P' => {
                    let len = self.line(inp, sh, at, 256)?;
                    if len <= 256 && !sh.scratch.is_ascii() {
                        return Err(self.format(at, "a protocol-0 persistent ID is not ASCII"));
                    }
                    sh.summary.persistent_ids += 1;
                    self.push(at, limits, Value::Unknown)?;
                }
                b'Q' => {
                    self.pop(at)?;
                    sh.summary.persistent_ids += 1;
                    self.push(at, limits, Value::Unknown)?;
                }
                // PROTO
                0x80 => {
                    let [v] = self.arg::<1>(inp, at)?;
                    if v > 5 {
                        return Err(self.format(at, format!("unsupported pickle protocol {v}")));
                    }
                }
                // FRAME: only a length prefix; opcodes may straddle frames.
                0x95 => {
                    let n = u64::from_le_bytes(self.arg::<8>(inp, at)?);
                    if n > i64::MAX as u64 {
                        return Err(self.format(at, "FRAME length beyond the maximum size"));
                    }
                    self.frame_end = inp.offset().saturating_add(n);
                }
                other => {
                    return Err(self.format(at, format!("unknown opcode 0x{other:02x}")));
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Payload {
    /// BINUNICODE: UTF-8 (with surrogatepass).
    Utf8,
    /// BINSTRING: a Python 2 str, read as Latin-1.
    Latin1,
    Bytes,
}

/// Records a finding (once per rule, global and stream), at input offset `at` of `ctx`.
#[allow(clippy::too_many_arguments)]
fn emit(
    sh: &mut Shared,
    out: &mut Vec<Finding>,
    ctx: &Ctx,
    speculative: bool,
    at: u64,
    rule: &'static str,
    severity: Severity,
    global: Option<&Rc<str>>,
    message: String,
) {
    if speculative
        && !(severity == Severity::Dangerous && (rule == RULE_DANGEROUS || rule == RULE_MUTATION))
    {
        // Array bytes read as opcodes are mostly noise: only a named dangerous global in them is
        // worth a finding.
        return;
    }
    let key = (
        rule,
        global.cloned().unwrap_or_else(|| Rc::from("")),
        ctx.id,
    );
    if sh.reported.contains(&key) {
        return;
    }
    if sh.findings >= MAX_FINDINGS {
        sh.summary.findings_suppressed += 1;
        return;
    }
    sh.reported.insert(key);
    sh.findings += 1;
    let message = if speculative {
        format!(
            "{message} (in bytes that joblib reads as array data; a plain pickle.load of this \
             file runs them as opcodes)"
        )
    } else {
        message
    };
    let mut location = ctx.location.clone();
    location.offset = ctx.offset_of(at);
    out.push(Finding {
        rule,
        severity,
        location,
        global: global.map(|g| g.to_string()),
        message,
    });
}

/// `cls.__new__(cls, ...)` / `copyreg._reconstructor(cls, ...)`: an instance of `cls`.
fn instance_of(cls: &Rc<GlobalRef>, args: &Value) -> Value {
    match cls.special {
        Special::ArrayWrapper => Value::Wrapper(Rc::new(RefCell::new(WrapperAttrs::default()))),
        Special::Dtype => Value::Dtype(Rc::new(Cell::new(dtype_from_args(args)))),
        _ => Value::Object(cls.clone()),
    }
}

/// `__main__.ClassName`: one CamelCase identifier, a class of the script that saved the model.
fn is_main_class(path: &str) -> bool {
    path.strip_prefix("__main__.").is_some_and(|name| {
        let mut bytes = name.bytes();
        matches!(bytes.next(), Some(b'A'..=b'Z'))
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// `getattr(obj, "name")` as Python pickles a bound method: an instance built by this pickle from
/// an allowed class, and a constant attribute name that is no dunder (no `__class__`,
/// `__globals__`, ... walk out of the object).
fn bound_method_args(args: &Value) -> bool {
    match args.items() {
        Some([Value::Object(owner), name]) => {
            owner.verdict == Verdict::Allowed
                && name
                    .as_str()
                    .is_some_and(|n| !n.is_empty() && !n.starts_with("__"))
        }
        _ => false,
    }
}

/// The arguments an allowed reconstructor instantiates: `copyreg._reconstructor(cls, base,
/// state)` calls `base.__new__(cls)` (and `base.__init__`), `copyreg.__newobj__(cls, ...)`,
/// pandas' `_new_Index(cls, d)`, Cython's `__pyx_unpickle_X(cls, ...)`, numpy's
/// `_reconstruct(subtype, ...)` and `_mareconstruct(subtype, baseclass, ...)`.
fn instantiated_args(g: &GlobalRef) -> &'static [usize] {
    let two = g.path.ends_with("._reconstructor") || g.path.ends_with("._mareconstruct");
    match g.special {
        Special::Reconstructor | Special::Instantiator if two => &[0, 1],
        Special::Reconstructor | Special::Instantiator => &[0],
        _ => &[],
    }
}

/// `_codecs.encode(text, encoding)`, `bytes(...)`, `bytearray(...)`: only the encodings that keep
/// the bytes knowable are followed (`rot13` and friends turn text into other text).
fn to_bytes(args: &Value) -> Value {
    let items = args.items().unwrap_or(&[]);
    let encoding = items
        .get(1)
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let plain = matches!(
        encoding.as_deref(),
        None | Some("latin1" | "latin-1" | "latin_1" | "iso-8859-1" | "iso8859-1" | "l1" | "ascii")
            | Some("utf-8" | "utf8" | "utf_8")
    );
    match items.first() {
        Some(Value::Bytes(b)) if items.len() == 1 => Value::Bytes(b.clone()),
        Some(v) if plain && v.as_str().is_some() => {
            let s = v.as_str().unwrap_or_default();
            let data: Box<[u8]> = if matches!(encoding.as_deref(), Some("utf-8" | "utf8" | "utf_8"))
            {
                s.as_bytes().into()
            } else {
                text::latin1_encode(s).into_owned().into_boxed_slice()
            };
            Value::Bytes(Rc::new(Blob {
                len: data.len() as u64,
                data: Some(data),
                nested: None,
                at: u64::MAX,
            }))
        }
        _ => Value::Unknown,
    }
}

/// Whether bytes start like a pickle of protocol 2-5 (`\x80` + protocol).
fn looks_like_pickle(head: &[u8]) -> bool {
    matches!(head, [0x80, 2..=5, ..])
}

fn describe(v: &Value) -> String {
    match v {
        Value::Unknown => "a value the scanner cannot follow".into(),
        Value::None => "None".into(),
        Value::Bool(_) => "a bool".into(),
        Value::Int(_) | Value::BigInt => "an integer".into(),
        Value::Float => "a float".into(),
        Value::InlineStr { .. } | Value::Str(_) => "a string".into(),
        Value::LongStr(len) => format!("a string of {len} bytes"),
        Value::Bytes(b) => format!("{} bytes", b.len),
        Value::Tuple(_) | Value::BigTuple => "a tuple".into(),
        Value::List => "a list".into(),
        Value::Set => "a set".into(),
        Value::Dict(_) | Value::FrozenDict(_) => "a dict".into(),
        Value::Global(g) => format!("the global {}", g.path),
        Value::Object(g) => format!("the result of calling {}", g.path),
        Value::Dtype(_) => "a numpy dtype".into(),
        Value::Wrapper(_) => "a joblib array wrapper".into(),
    }
}

/// Scans one pickle held in memory (a payload), appending its findings to `out`.
fn scan_slice(sh: &mut Shared, out: &mut Vec<Finding>, ctx: Rc<Ctx>, depth: usize, data: &[u8]) {
    let mut src: &[u8] = data;
    let mut inp = Input::with_capacity(&mut src, data.len());
    let mut inner = Machine::new(
        ctx,
        Mode {
            joblib: false,
            speculative: false,
            depth,
        },
        None,
    );
    // A broken embedded pickle makes its loader raise there; what came before is reported.
    let _ = inner.run_pickle(&mut inp, sh, out);
    inner.finish(sh, out);
    sh.summary.nested_pickles += 1;
}

/// The top level of a stream: pickle after pickle, as joblib, legacy PyTorch and attackers stack
/// them, until the stream ends or something that is not a pickle follows one.
pub(super) fn scan_top(
    inp: &mut Input,
    sh: &mut Shared,
    out: &mut Vec<Finding>,
    ctx: Rc<Ctx>,
) -> Result<(), Fail> {
    let mut m = Machine::new(
        ctx,
        Mode {
            joblib: true,
            speculative: false,
            depth: 0,
        },
        None,
    );
    let mut first = true;
    loop {
        let start = inp.offset();
        if !first {
            match inp.peek(1).map_err(|e| m.io(start, e))?.first() {
                None => return Ok(()),
                Some(&b) if !is_opcode(b) => {
                    drain_trailing(inp, sh, start).map_err(|e| m.io(start, e))?;
                    return Ok(());
                }
                Some(_) => {}
            }
        }
        m.reset();
        sh.kept_left = KEPT_BUDGET;
        let end = m.run_pickle(inp, sh, out);
        m.finish(sh, out);
        match end {
            Ok(End::Stop) => sh.summary.pickles += 1,
            Ok(End::Empty) if first => {
                return Err(Fail {
                    offset: m.ctx.offset_of(start),
                    message: "the stream is empty: no pickle".into(),
                    kind: FailKind::Format,
                })
            }
            Ok(End::Empty) => return Ok(()),
            Err(e) if first || e.kind != FailKind::Format => return Err(e),
            Err(e) => {
                // After a complete pickle, bytes that do not parse are data that follows it
                // (legacy PyTorch storages, padding): a loader would stop at the same point,
                // and whatever the bytes named before breaking has been reported.
                sh.summary.trailing_error = Some(e.message);
                drain_trailing(inp, sh, start).map_err(|e| m.io(start, e))?;
                return Ok(());
            }
        }
        first = false;
    }
}

/// Counts (and consumes) the rest of the stream from `start` as trailing bytes.
fn drain_trailing(inp: &mut Input, sh: &mut Shared, start: u64) -> std::io::Result<()> {
    while inp.skip(u64::MAX)? > 0 {}
    sh.summary.trailing_bytes = inp.offset() - start;
    Ok(())
}

/// The first byte of a valid opcode.
pub(super) fn is_opcode(b: u8) -> bool {
    matches!(
        b,
        b'(' | b'.'
            | b'0'
            | b'1'
            | b'2'
            | b'B'
            | b'C'
            | b'F'
            | b'G'
            | b'I'
            | b'J'
            | b'K'
            | b'L'
            | b'M'
            | b'N'
            | b'P'
            | b'Q'
            | b'R'
            | b'S'
            | b'T'
            | b'U'
            | b'V'
            | b'X'
            | b'a'
            | b'b'
            | b'c'
            | b'd'
            | b'e'
            | b'g'
            | b'h'
            | b'i'
            | b'j'
            | b'l'
            | b'o'
            | b'p'
            | b'q'
            | b'r'
            | b's'
            | b't'
            | b'u'
            | b'}'
            | b')'
            | b']'
            | 0x80..=0x98
    )
}
