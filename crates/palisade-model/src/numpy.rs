//! NumPy `.npy`: a magic, a version, a header that is a Python dict literal (`descr`,
//! `fortran_order`, `shape`), then the array. Arrays of objects are stored as a pickle
//! (`np.load(allow_pickle=True)` unpickles it); everything else is raw numbers whose size the
//! header fixes.

use std::io::BufRead;

use crate::finding::Severity;
use crate::scan::{self, Ctx, Hints, Scanned, State, Strength, Trail};
use crate::stream;

/// NumPy itself refuses headers over 10,000 bytes unless told otherwise; past this bound it is not
/// a header.
const MAX_HEADER: u32 = 1 << 20;

/// A Python literal, as far as `.npy` headers use them.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Seq(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 32;

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self
            .text
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.text.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", byte as char, self.pos))
        }
    }

    fn value(&mut self) -> Result<Literal, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        let value = match self.peek() {
            Some(b'{') => self.dict(),
            Some(b'(') => self.seq(b')'),
            Some(b'[') => self.seq(b']'),
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(b'-' | b'0'..=b'9') => self.int(),
            Some(_) => self.word(),
            None => Err("unexpected end of header".into()),
        };
        self.depth -= 1;
        value
    }

    fn dict(&mut self) -> Result<Literal, String> {
        self.expect(b'{')?;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Literal::Dict(items));
            }
            let key = self.value()?;
            self.expect(b':')?;
            let value = self.value()?;
            items.push((key, value));
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' at {}", self.pos)),
            }
        }
    }

    fn seq(&mut self, close: u8) -> Result<Literal, String> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(Literal::Seq(items));
            }
            items.push(self.value()?);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => {
                    return Err(format!(
                        "expected ',' or {:?} at {}",
                        close as char, self.pos
                    ))
                }
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Literal, String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.text.get(self.pos) {
                None => return Err("unterminated string".into()),
                Some(b'\\') => {
                    let escaped = self
                        .text
                        .get(self.pos + 1)
                        .copied()
                        .ok_or("unterminated string")?;
                    out.push(escaped);
                    self.pos += 2;
                }
                Some(&b) if b == quote => {
                    self.pos += 1;
                    return Ok(Literal::Str(String::from_utf8_lossy(&out).into_owned()));
                }
                Some(&b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn int(&mut self) -> Result<Literal, String> {
        let start = self.pos;
        if self.text.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        while self.text.get(self.pos).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        // Python 2 headers wrote longs as `3L`.
        let digits = std::str::from_utf8(&self.text[start..self.pos]).map_err(|e| e.to_string())?;
        if self.text.get(self.pos) == Some(&b'L') {
            self.pos += 1;
        }
        digits
            .parse()
            .map(Literal::Int)
            .map_err(|_| format!("bad integer {digits:?}"))
    }

    fn word(&mut self) -> Result<Literal, String> {
        let start = self.pos;
        while self
            .text
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphabetic())
        {
            self.pos += 1;
        }
        match &self.text[start..self.pos] {
            b"True" => Ok(Literal::Bool(true)),
            b"False" => Ok(Literal::Bool(false)),
            b"None" => Ok(Literal::None),
            other => Err(format!(
                "unexpected {:?} at {start}",
                String::from_utf8_lossy(other)
            )),
        }
    }
}

fn parse_literal(text: &[u8]) -> Result<Literal, String> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    let value = parser.value()?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(format!(
            "unexpected text after the header at {}",
            parser.pos
        ));
    }
    Ok(value)
}

/// What a dtype description says: whether it holds Python objects (so the data is a pickle) and,
/// where it can be worked out, the size of one element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dtype {
    object: bool,
    itemsize: Option<u64>,
}

fn dtype(descr: &Literal) -> Result<Dtype, String> {
    match descr {
        Literal::Str(text) => simple_dtype(text),
        // Structured: [(name, descr) or (name, descr, shape), ...].
        Literal::Seq(fields) => {
            let mut object = false;
            let mut total = Some(0u64);
            for field in fields {
                let Literal::Seq(parts) = field else {
                    return Err("a structured dtype field is not a tuple".into());
                };
                let (inner, shape) = match parts.as_slice() {
                    [_, inner] => (inner, None),
                    [_, inner, shape] => (inner, Some(shape)),
                    _ => return Err("a structured dtype field has the wrong arity".into()),
                };
                let field_type = dtype(inner)?;
                object |= field_type.object;
                let count = match shape {
                    None => Some(1),
                    Some(Literal::Int(n)) => u64::try_from(*n).ok(),
                    Some(Literal::Seq(dims)) => shape_elements(dims),
                    Some(_) => None,
                };
                total = match (total, field_type.itemsize, count) {
                    (Some(t), Some(size), Some(count)) => {
                        size.checked_mul(count).and_then(|s| t.checked_add(s))
                    }
                    _ => None,
                };
            }
            Ok(Dtype {
                object,
                itemsize: total,
            })
        }
        _ => Err("descr is neither a type string nor a field list".into()),
    }
}

fn simple_dtype(text: &str) -> Result<Dtype, String> {
    let body = text.trim_start_matches(['<', '>', '|', '=']);
    let mut chars = body.chars();
    let kind = chars.next().ok_or("empty dtype")?;
    let rest: String = chars.collect();
    // "M8[ns]", "m8[D]": the unit does not change the size.
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let size: Option<u64> = digits.parse().ok();
    let itemsize = match kind {
        'O' => {
            return Ok(Dtype {
                object: true,
                itemsize: Some(8),
            })
        }
        '?' => Some(1),
        'b' | 'i' | 'u' | 'f' | 'c' | 'M' | 'm' | 'S' | 'a' | 'V' => size,
        'U' => size.and_then(|n| n.checked_mul(4)),
        _ => return Err(format!("unknown dtype {text:?}")),
    };
    Ok(Dtype {
        object: false,
        itemsize,
    })
}

fn shape_elements(dims: &[Literal]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, dim| match dim {
        Literal::Int(n) => u64::try_from(*n).ok().and_then(|n| acc.checked_mul(n)),
        _ => None,
    })
}

fn damaged(ctx: &Ctx<'_>, trail: &Trail, offset: u64, message: String) -> Scanned {
    ctx.damaged("NumPy .npy", trail, offset, message)
}

/// Scans a `.npy` stream.
pub(crate) fn scan_npy(
    ctx: &Ctx<'_>,
    trail: &Trail,
    reader: &mut dyn BufRead,
    len: Option<u64>,
    hints: Hints,
) -> Scanned {
    let mut preamble = [0u8; 8];
    if let Err(e) = reader.read_exact(&mut preamble) {
        return scan::stream_failure(ctx, trail, 0, &e, "reading the .npy preamble")
            .named("NumPy .npy");
    }
    let major = preamble[6];
    let header_len = match major {
        1 => {
            let mut b = [0u8; 2];
            reader
                .read_exact(&mut b)
                .map(|_| u32::from(u16::from_le_bytes(b)))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            reader.read_exact(&mut b).map(|_| u32::from_le_bytes(b))
        }
        _ => {
            return damaged(
                ctx,
                trail,
                6,
                format!(".npy format version {major} is unknown: np.load refuses it"),
            )
        }
    };
    let header_len = match header_len {
        Ok(n) => n,
        Err(e) => {
            return scan::stream_failure(ctx, trail, 8, &e, "reading the .npy header length")
                .named("NumPy .npy")
        }
    };
    let preamble_len: u64 = if major == 1 { 10 } else { 12 };
    if header_len > MAX_HEADER {
        return damaged(
            ctx,
            trail,
            8,
            format!("the .npy header claims {header_len} bytes: no array header is that long"),
        );
    }
    let header = match stream::read_up_to(reader, header_len as usize) {
        Ok(header) if header.len() == header_len as usize => header,
        Ok(_) => {
            return damaged(
                ctx,
                trail,
                preamble_len,
                "the .npy header is truncated".into(),
            )
        }
        Err(e) => {
            return scan::stream_failure(ctx, trail, preamble_len, &e, "reading the .npy header")
                .named("NumPy .npy")
        }
    };
    let data_start = preamble_len + u64::from(header_len);
    let dict = match parse_literal(&header) {
        Ok(Literal::Dict(items)) => items,
        Ok(_) => {
            return damaged(
                ctx,
                trail,
                preamble_len,
                "the .npy header is not a dict".into(),
            )
        }
        Err(e) => {
            return damaged(
                ctx,
                trail,
                preamble_len,
                format!("the .npy header does not parse ({e})"),
            )
        }
    };
    let get = |key: &str| {
        dict.iter()
            .find(|(k, _)| *k == Literal::Str(key.into()))
            .map(|(_, v)| v)
    };
    let (Some(descr), Some(Literal::Seq(shape))) = (get("descr"), get("shape")) else {
        return damaged(
            ctx,
            trail,
            preamble_len,
            "the .npy header lacks 'descr' or 'shape'".into(),
        );
    };
    let dtype = match dtype(descr) {
        Ok(dtype) => dtype,
        Err(e) => {
            return damaged(
                ctx,
                trail,
                preamble_len,
                format!("the .npy dtype cannot be understood ({e})"),
            )
        }
    };
    if dtype.object {
        // np.save pickles object arrays after the header; np.load(allow_pickle=True) unpickles them.
        let state = scan::scan_pickle(ctx, trail, reader, data_start, Strength::Header, hints);
        return Scanned::new("NumPy .npy (object array: pickle)", state);
    }
    let Some(elements) = shape_elements(shape) else {
        return damaged(
            ctx,
            trail,
            preamble_len,
            "the .npy shape is not a tuple of sizes".into(),
        );
    };
    let data_len = match len {
        Some(len) => Ok(len.saturating_sub(data_start)),
        None => stream::drain(reader),
    };
    let data_len = match data_len {
        Ok(n) => n,
        Err(e) => {
            return scan::stream_failure(ctx, trail, data_start, &e, "reading the array data")
                .named("NumPy .npy")
        }
    };
    if let Some(expected) = dtype.itemsize.and_then(|size| size.checked_mul(elements)) {
        if data_len < expected {
            return damaged(
                ctx,
                trail,
                data_start,
                format!("the array needs {expected} bytes of data but {data_len} follow the header (truncated): np.load refuses it"),
            );
        }
        if data_len > expected {
            ctx.report(
                crate::rules::TRAILING_DATA.code,
                Severity::Info,
                trail,
                data_start + expected,
                format!(
                    "{} bytes follow the array data; np.load ignores them",
                    data_len - expected
                ),
            );
        }
    }
    Scanned::new("NumPy .npy", State::Parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_headers() {
        let header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 50), }          \n";
        let Literal::Dict(items) = parse_literal(header).unwrap() else {
            panic!()
        };
        assert_eq!(
            items[0],
            (Literal::Str("descr".into()), Literal::Str("<f8".into()))
        );
        assert_eq!(
            items[2].1,
            Literal::Seq(vec![Literal::Int(1000), Literal::Int(50)])
        );
        assert!(parse_literal(b"{'shape': (3L,), 'descr': \"|O\"}").is_ok());
        assert!(parse_literal(b"{'a': __import__('os')}").is_err());
        assert!(parse_literal(&[b'['; 100]).is_err());
    }

    #[test]
    fn dtypes() {
        assert_eq!(
            simple_dtype("<f8").unwrap(),
            Dtype {
                object: false,
                itemsize: Some(8)
            }
        );
        assert!(simple_dtype("|O").unwrap().object);
        assert_eq!(simple_dtype("<U10").unwrap().itemsize, Some(40));
        assert_eq!(simple_dtype("<M8[ns]").unwrap().itemsize, Some(8));
        assert_eq!(simple_dtype("|b1").unwrap().itemsize, Some(1));
        assert!(simple_dtype("<x4").is_err());
        let structured =
            parse_literal(b"[('a', '<i4'), ('b', '|O'), ('c', '<f4', (2, 3))]").unwrap();
        assert_eq!(
            dtype(&structured).unwrap(),
            Dtype {
                object: true,
                itemsize: Some(4 + 8 + 24)
            }
        );
    }
}

#[cfg(test)]
mod container_tests {
    use crate::finding::Severity;
    use crate::testutil::*;

    #[test]
    fn numeric_arrays_are_validated() {
        let outcome = scan(&npy("<f4", "(2, 3)", &[0u8; 24]));
        assert_eq!(format(&outcome), "NumPy .npy");
        assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);

        let truncated = scan(&npy("<f4", "(2, 3)", &[0u8; 20]));
        assert_eq!(rules(&truncated), [crate::rules::UNPARSEABLE.code]);
        assert_eq!(truncated.findings[0].severity, Severity::Suspicious);

        let trailing = scan(&npy("<f4", "(2, 3)", &[0u8; 30]));
        assert_eq!(rules(&trailing), [crate::rules::TRAILING_DATA.code]);
        assert_eq!(trailing.findings[0].severity, Severity::Info);

        let overflow = scan(&npy("<f8", "(4294967296, 4294967296, 4294967296)", &[]));
        assert_eq!(rules(&overflow), [crate::rules::UNPARSEABLE.code]);
    }

    #[test]
    fn object_arrays_are_pickles() {
        let outcome = scan(&npy("|O", "(1,)", EVIL_P2));
        assert_eq!(format(&outcome), "NumPy .npy (object array: pickle)");
        assert_routed(&outcome, &[]);
        let structured = scan(&npy_raw("[('a', '<i4'), ('b', '|O')]", "(1,)", EVIL_P2));
        assert_eq!(format(&structured), "NumPy .npy (object array: pickle)");
    }

    #[test]
    fn object_array_offsets_are_within_the_file() {
        let file = npy("|O", "(1,)", EVIL_P2);
        let data_start = (file.len() - EVIL_P2.len()) as u64;
        let outcome = scan(&file);
        if pickle_scanner_is_live() {
            let found = dangerous(&outcome);
            assert!(!found.is_empty());
            // The global is at byte 2 of the pickle (after PROTO 2).
            assert!(
                found.iter().all(|f| f.location.offset >= data_start),
                "{found:?}"
            );
            assert!(
                found.iter().any(|f| f.location.offset == data_start + 2),
                "{found:?}"
            );

            let damaged = npy("|O", "(1,)", &EVIL_P2[..EVIL_P2.len() - 1]);
            let outcome = scan(&damaged);
            let unparseable = with_rule(&outcome, crate::rules::UNPARSEABLE.code);
            assert_eq!(unparseable.len(), 1, "{:?}", outcome.findings);
            assert_eq!(unparseable[0].severity, Severity::Dangerous);
            assert!(unparseable[0].location.offset >= data_start);
            assert!(unparseable[0].location.offset <= damaged.len() as u64);
        }
    }

    #[test]
    fn bad_headers() {
        let mut unknown_version = npy("<f4", "(1,)", &[0u8; 4]);
        unknown_version[6] = 9;
        assert_eq!(
            scan(&unknown_version).findings[0].severity,
            Severity::Suspicious
        );
        let code = npy_raw("__import__('os').system('id')", "(1,)", &[]);
        let outcome = scan(&code);
        assert_eq!(rules(&outcome), [crate::rules::UNPARSEABLE.code]);
        assert!(dangerous(&outcome).is_empty());
    }

    /// A `.npy` whose descr is written verbatim (not quoted).
    fn npy_raw(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let header = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}\n");
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }
}
