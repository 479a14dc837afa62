//! GGUF (llama.cpp): a header, typed key-value metadata, tensor descriptions, then aligned tensor
//! data. No code runs on load, but every length in the header is attacker-chosen and llama.cpp's
//! parser has had memory-safety bugs over exactly those, so the header is walked with bounds and
//! anything a careful loader would refuse is reported. The chat template is Jinja that Python
//! loaders render; template-injection payloads in it are reported too.

use std::io::{self, BufRead, Read};

use crate::finding::Severity;
use crate::scan::{self, Ctx, Scanned, State, Trail};
use crate::stream::{self, Counting};

/// Keys and tensor names longer than this are not names.
const MAX_NAME: u64 = 1 << 16;
/// String values read to be checked (longer ones are skipped unchecked).
const MAX_CHECKED_STRING: u64 = 1 << 20;
/// ggml tensors have at most four dimensions.
const MAX_DIMS: u32 = 4;
/// Counts are capped at this when the stream's length is unknown.
const MAX_COUNT: u64 = 1 << 24;

/// Jinja server-side template injection: reaching Python internals from a template.
const TEMPLATE_PATTERNS: &[&str] = &[
    "__class__",
    "__globals__",
    "__subclasses__",
    "__builtins__",
    "__import__",
    "__mro__",
    "__init__",
    "os.popen",
    "subprocess",
    "eval(",
    "exec(",
];

/// (elements per block, bytes per block) of each ggml type id, `None` for ids that are unassigned
/// or retired.
fn ggml_block(kind: u32) -> Option<(u64, u64)> {
    Some(match kind {
        0 => (1, 4),
        1 => (1, 2),
        2 => (32, 18),
        3 => (32, 20),
        6 => (32, 22),
        7 => (32, 24),
        8 => (32, 34),
        9 => (32, 36),
        10 => (256, 84),
        11 => (256, 110),
        12 => (256, 144),
        13 => (256, 176),
        14 => (256, 210),
        15 => (256, 292),
        16 => (256, 66),
        17 => (256, 74),
        18 => (256, 98),
        19 => (256, 50),
        20 => (32, 18),
        21 => (256, 110),
        22 => (256, 82),
        23 => (256, 136),
        24 => (1, 1),
        25 => (1, 2),
        26 => (1, 4),
        27 | 28 => (1, 8),
        29 => (256, 56),
        30 => (1, 2),
        34 => (256, 54),
        35 => (256, 66),
        39 => (32, 17),
        _ => return None,
    })
}

#[derive(Debug)]
enum GgufError {
    Io(io::Error),
    Bad(u64, String),
}

impl From<io::Error> for GgufError {
    fn from(e: io::Error) -> Self {
        GgufError::Io(e)
    }
}

struct Walker<'a, 'r> {
    reader: Counting<&'a mut (dyn BufRead + 'r)>,
    len: Option<u64>,
    version: u32,
}

impl Walker<'_, '_> {
    fn pos(&self) -> u64 {
        self.reader.count
    }

    fn bad<T>(&self, message: impl Into<String>) -> Result<T, GgufError> {
        Err(GgufError::Bad(self.pos(), message.into()))
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], GgufError> {
        let mut b = [0u8; N];
        match self.reader.read_exact(&mut b) {
            Ok(()) => Ok(b),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.bad("the file ends inside the header")
            }
            Err(e) => Err(e.into()),
        }
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes::<4>()?))
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes::<8>()?))
    }

    /// A count or length: 32-bit in version 1, 64-bit after.
    fn size(&mut self) -> Result<u64, GgufError> {
        if self.version == 1 {
            Ok(u64::from(self.u32()?))
        } else {
            self.u64()
        }
    }

    /// Whether `n` more bytes can follow (always true when the length is unknown).
    fn fits(&self, n: u64) -> bool {
        self.len
            .is_none_or(|len| n <= len.saturating_sub(self.pos()))
    }

    fn skip(&mut self, n: u64) -> Result<(), GgufError> {
        if !self.fits(n) {
            return self.bad(format!(
                "a value of {n} bytes runs past the end of the file"
            ));
        }
        let skipped = io::copy(&mut (&mut self.reader).take(n), &mut io::sink())?;
        if skipped < n {
            return self.bad("the file ends inside a value");
        }
        Ok(())
    }

    /// A string: returned if at most `keep` bytes, skipped otherwise.
    fn string(&mut self, keep: u64) -> Result<Option<String>, GgufError> {
        let n = self.size()?;
        if n > keep {
            self.skip(n)?;
            return Ok(None);
        }
        if !self.fits(n) {
            return self.bad(format!(
                "a string of {n} bytes runs past the end of the file"
            ));
        }
        let data = stream::read_up_to(&mut self.reader, n as usize)?;
        if (data.len() as u64) < n {
            return self.bad("the file ends inside a string");
        }
        Ok(Some(String::from_utf8_lossy(&data).into_owned()))
    }

    fn name(&mut self, what: &str) -> Result<String, GgufError> {
        match self.string(MAX_NAME)? {
            Some(name) => Ok(name),
            None => self.bad(format!("a {what} longer than {MAX_NAME} bytes")),
        }
    }

    /// Skips (or, for strings, returns) one value of type `kind`.
    fn value(&mut self, kind: u32, depth: usize) -> Result<Option<String>, GgufError> {
        let fixed = match kind {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            8 => return self.string(MAX_CHECKED_STRING),
            9 => {
                let element = self.u32()?;
                let count = self.size()?;
                if depth >= 2 {
                    return self.bad("arrays nested more than two deep");
                }
                match element {
                    8 | 9 => {
                        // Each element takes at least its 4- or 8-byte length.
                        if !self.fits(count.saturating_mul(4)) {
                            return self.bad(format!(
                                "an array of {count} elements runs past the end of the file"
                            ));
                        }
                        for _ in 0..count {
                            if element == 8 {
                                let n = self.size()?;
                                self.skip(n)?;
                            } else {
                                self.value(9, depth + 1)?;
                            }
                        }
                    }
                    0..=7 | 10..=12 => {
                        let size = match element {
                            0 | 1 | 7 => 1,
                            2 | 3 => 2,
                            4..=6 => 4,
                            _ => 8,
                        };
                        let Some(total) = count.checked_mul(size) else {
                            return self.bad(format!("an array of {count} elements overflows"));
                        };
                        self.skip(total)?;
                    }
                    other => return self.bad(format!("unknown array element type {other}")),
                }
                return Ok(None);
            }
            other => return self.bad(format!("unknown value type {other}")),
        };
        self.skip(fixed)?;
        Ok(None)
    }
}

fn damaged(ctx: &Ctx<'_>, trail: &Trail, offset: u64, message: String) -> Scanned {
    let message = format!("GGUF header: {message}; a careful loader refuses the file");
    ctx.damaged("GGUF", trail, offset, message)
}

/// Scans a GGUF stream.
pub(crate) fn scan(
    ctx: &Ctx<'_>,
    trail: &Trail,
    reader: &mut dyn BufRead,
    len: Option<u64>,
) -> Scanned {
    let mut walker = Walker {
        reader: Counting::new(reader),
        len,
        version: 0,
    };
    match walk(ctx, trail, &mut walker) {
        Ok(format) => Scanned::new(format, State::Parsed),
        Err(GgufError::Bad(offset, message)) => damaged(ctx, trail, offset, message),
        Err(GgufError::Io(e)) => {
            let failed =
                scan::stream_failure(ctx, trail, walker.pos(), &e, "reading the GGUF file");
            Scanned::new("GGUF", failed.state)
        }
    }
}

fn walk(ctx: &Ctx<'_>, trail: &Trail, w: &mut Walker<'_, '_>) -> Result<String, GgufError> {
    w.bytes::<4>()?;
    w.version = w.u32()?;
    if !(1..=3).contains(&w.version) {
        return w.bad(format!("unknown version {}", w.version));
    }
    let tensors = w.size()?;
    let kvs = w.size()?;
    // A key-value pair takes at least 13 bytes, a tensor description at least 24.
    let (max_kvs, max_tensors) = match w.len {
        Some(len) => (len / 13, len / 24),
        None => (MAX_COUNT, MAX_COUNT),
    };
    if kvs > max_kvs || tensors > max_tensors {
        return w.bad(format!(
            "{tensors} tensors and {kvs} metadata entries cannot fit in the file"
        ));
    }
    let mut alignment = 32u64;
    for _ in 0..kvs {
        let at = w.pos();
        let key = w.name("key")?;
        let kind = w.u32()?;
        if key == "general.alignment" && kind == 4 {
            let value = u64::from(w.u32()?);
            if value == 0 || !value.is_power_of_two() {
                return w.bad(format!("general.alignment {value} is not a power of two"));
            }
            alignment = value;
            continue;
        }
        let value = w.value(kind, 0)?;
        if let (Some(text), true) = (value, key.contains("chat_template")) {
            let lower = text.to_ascii_lowercase();
            if let Some(pattern) = TEMPLATE_PATTERNS.iter().find(|p| lower.contains(*p)) {
                ctx.report(
                    crate::rules::SUSPICIOUS_METADATA.code,
                    Severity::Suspicious,
                    trail,
                    at,
                    format!("the chat template {key:?} contains {pattern:?}: Jinja template injection runs code in Python loaders that render it"),
                );
            }
        }
    }
    let mut extents: Vec<(u64, Option<u64>, String)> = Vec::new();
    for _ in 0..tensors {
        let name = w.name("tensor name")?;
        let dims = w.u32()?;
        if dims > MAX_DIMS {
            return w.bad(format!(
                "tensor {name:?} has {dims} dimensions (ggml allows {MAX_DIMS})"
            ));
        }
        let mut shape = Vec::with_capacity(dims as usize);
        for _ in 0..dims {
            shape.push(w.size()?);
        }
        let kind = w.u32()?;
        let offset = w.u64()?;
        if offset % alignment != 0 {
            return w.bad(format!(
                "tensor {name:?} at offset {offset} is not aligned to {alignment}"
            ));
        }
        let size = match ggml_block(kind) {
            Some((block, bytes)) => {
                let first = shape.first().copied().unwrap_or(1);
                if first % block != 0 {
                    return w.bad(format!("tensor {name:?}: {first} elements per row is not a whole number of type-{kind} blocks"));
                }
                let rows = shape
                    .iter()
                    .skip(1)
                    .try_fold(1u64, |acc, d| acc.checked_mul(*d));
                match rows.and_then(|rows| (first / block).checked_mul(bytes)?.checked_mul(rows)) {
                    Some(size) => Some(size),
                    None => return w.bad(format!("tensor {name:?}: its size overflows")),
                }
            }
            // A type newer than this table: its size cannot be checked, only its offset.
            None => None,
        };
        extents.push((offset, size, name));
    }
    let header_end = w.pos();
    let data_start = header_end.div_ceil(alignment).saturating_mul(alignment);
    let total = match w.len {
        Some(len) => len,
        None => header_end + stream::drain(&mut w.reader)?,
    };
    let data_len = total.saturating_sub(data_start);
    for (offset, size, name) in &extents {
        let end = offset.saturating_add(size.unwrap_or(0));
        if end > data_len || (*offset >= data_len && size.unwrap_or(1) > 0) {
            return Err(GgufError::Bad(
                data_start,
                format!("tensor {name:?} ({offset}..{end}) lies outside the {data_len}-byte data section"),
            ));
        }
    }
    Ok(format!("GGUF v{}", w.version))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scan::{scan_bytes, ScanOptions};

    fn gguf_string(out: &mut Vec<u8>, text: &str) {
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }

    /// A GGUF v3 file with one string KV, one u32 array KV and one F32 tensor of `elements`.
    pub(crate) fn gguf_file(template: &str, elements: u64, data: usize) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(&2u64.to_le_bytes());
        gguf_string(&mut out, "tokenizer.chat_template");
        out.extend_from_slice(&8u32.to_le_bytes());
        gguf_string(&mut out, template);
        gguf_string(&mut out, "tokenizer.ggml.token_type");
        out.extend_from_slice(&9u32.to_le_bytes());
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&3u64.to_le_bytes());
        for v in [1u32, 2, 3] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        gguf_string(&mut out, "w");
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&elements.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        while !out.len().is_multiple_of(32) {
            out.push(0);
        }
        out.extend(std::iter::repeat_n(0u8, data));
        out
    }

    #[test]
    fn valid_file() {
        let outcome = scan_bytes(
            "m.gguf",
            &gguf_file("{{ messages }}", 4, 16),
            &ScanOptions::default(),
        );
        assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);
        assert_eq!(outcome.files[0].format, "GGUF v3");
    }

    #[test]
    fn tensor_past_the_end_and_hostile_counts() {
        let outcome = scan_bytes("m.gguf", &gguf_file("x", 8, 16), &ScanOptions::default());
        assert_eq!(outcome.findings[0].rule, crate::rules::UNPARSEABLE.code);
        let mut hostile = b"GGUF".to_vec();
        hostile.extend_from_slice(&3u32.to_le_bytes());
        hostile.extend_from_slice(&u64::MAX.to_le_bytes());
        hostile.extend_from_slice(&u64::MAX.to_le_bytes());
        let outcome = scan_bytes("m.gguf", &hostile, &ScanOptions::default());
        assert_eq!(outcome.findings[0].rule, crate::rules::UNPARSEABLE.code);
        assert_eq!(outcome.findings[0].severity, Severity::Suspicious);
    }

    #[test]
    fn template_injection() {
        let file = gguf_file("{{ ''.__class__.__mro__[1].__subclasses__() }}", 4, 16);
        let outcome = scan_bytes("m.gguf", &file, &ScanOptions::default());
        assert_eq!(outcome.findings.len(), 1);
        assert_eq!(
            outcome.findings[0].rule,
            crate::rules::SUSPICIOUS_METADATA.code
        );
    }
}
