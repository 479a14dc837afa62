//! Decoding of the text arguments of protocol 0 and of string payloads, following what CPython's
//! unpickler accepts (so a stream it would reject is rejected here too, and the other way round).

use std::borrow::Cow;

/// An integer argument of INT/LONG/GET/PUT: Python's `int(text, 0)` (C's `strtol(s, 0)` first,
/// which also takes leading-zero octal). `Ok(None)` for a valid integer too large for an i64.
pub(super) fn parse_int(text: &[u8]) -> Result<Option<i64>, ()> {
    let s = std::str::from_utf8(text).map_err(|_| ())?.trim();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest.trim_start_matches('_'))
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest.trim_start_matches('_'))
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest.trim_start_matches('_'))
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        // strtol's octal; an 8 or 9 falls through to Python's int(), which takes only zeros.
        if lower.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            (8, &lower[1..])
        } else if lower.bytes().all(|b| b == b'0') {
            (10, lower.as_str())
        } else {
            return Err(());
        }
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return Err(());
    }
    let mut value: i128 = 0;
    let mut overflow = false;
    for b in body.bytes() {
        if b == b'_' {
            continue;
        }
        let d = (b as char).to_digit(radix).ok_or(())?;
        if !overflow {
            value = value * i128::from(radix) + i128::from(d);
            overflow = value > i128::from(u64::MAX);
        }
    }
    if overflow {
        return Ok(None);
    }
    let value = if negative { -value } else { value };
    Ok(i64::try_from(value).ok())
}

/// A FLOAT argument: what Python's `float()` takes, closely enough.
pub(super) fn is_float(text: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(text) else {
        return false;
    };
    let s = s.trim();
    let unsigned = s.trim_start_matches(['+', '-']);
    if ["inf", "infinity", "nan"].contains(&unsigned.to_ascii_lowercase().as_str()) {
        return true;
    }
    s.replace('_', "").parse::<f64>().is_ok()
}

/// The body of a protocol-0 STRING argument: Python's `codecs.escape_decode` of the text inside
/// the quotes. `None` where Python raises.
pub(super) fn escape_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&e) = text.get(i) else {
            // A trailing lone backslash: "Trailing \ in string".
            return None;
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match text.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hex = text.get(i..i + 2)?;
                let s = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(s, 16).ok()?);
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

/// A protocol-0 UNICODE argument: Python's `raw-unicode-escape` codec. Lone surrogates, which a
/// Rust string cannot hold, become U+FFFD. `None` where Python raises.
pub(super) fn raw_unicode_escape_decode(text: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b != b'\\' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let run = text[i..].iter().take_while(|&&c| c == b'\\').count();
        let next = text.get(i + run).copied();
        let escape = run % 2 == 1 && matches!(next, Some(b'u' | b'U'));
        let literal = if escape { run - 1 } else { run };
        out.extend(std::iter::repeat_n('\\', literal));
        i += run;
        if escape {
            let width = if next == Some(b'u') { 4 } else { 8 };
            let hex = text.get(i + 1..i + 1 + width)?;
            let s = std::str::from_utf8(hex).ok()?;
            if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let code = u32::from_str_radix(s, 16).ok()?;
            if code > 0x10FFFF {
                return None;
            }
            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            i += 1 + width;
        }
    }
    Some(out)
}

/// Bytes read as Latin-1: what Python 3 makes of Python 2 `str` payloads when told
/// `encoding='latin1'`, and a lossless view of their bytes for every other encoding too.
pub(super) fn latin1_decode(bytes: &[u8]) -> Cow<'_, str> {
    if bytes.is_ascii() {
        // ASCII is valid UTF-8 as it is.
        return Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default());
    }
    Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())
}

/// The inverse: a string's bytes under `str.encode('latin1')`, the way Python 2 byte strings
/// travel inside protocol 2-3 pickles (`_codecs.encode(text, 'latin1')`). Falls back to UTF-8
/// for text outside Latin-1.
pub(super) fn latin1_encode(text: &str) -> Cow<'_, [u8]> {
    if text.is_ascii() {
        return Cow::Borrowed(text.as_bytes());
    }
    if text.chars().all(|c| u32::from(c) <= 0xFF) {
        return Cow::Owned(text.chars().map(|c| u32::from(c) as u8).collect());
    }
    Cow::Borrowed(text.as_bytes())
}

/// Python's `str(data, 'utf-8', 'surrogatepass')` (BINUNICODE): strict UTF-8 plus encoded
/// surrogates, which become U+FFFD here. `None` where Python raises.
pub(super) fn utf8_surrogatepass(bytes: &[u8]) -> Option<Cow<'_, str>> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return Some(Cow::Owned(out));
            }
            Err(e) => {
                let (valid, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).ok()?);
                if !is_surrogate(bad) {
                    return None;
                }
                out.push('\u{FFFD}');
                rest = &bad[3..];
            }
        }
    }
}

/// A UTF-8-encoded surrogate (U+D800..U+DFFF) at the start of `bytes`.
fn is_surrogate(bytes: &[u8]) -> bool {
    matches!(bytes, [0xED, 0xA0..=0xBF, 0x80..=0xBF, ..])
}

/// Validates UTF-8 (with surrogatepass) arriving in chunks, for strings too long to keep.
#[derive(Debug, Default)]
pub(super) struct Utf8Stream {
    pending: [u8; 4],
    npending: usize,
    bad: bool,
}

impl Utf8Stream {
    /// Feeds a chunk; false once the text is known to be invalid.
    pub(super) fn feed(&mut self, mut chunk: &[u8]) -> bool {
        if self.bad {
            return false;
        }
        // Complete a sequence split by the previous chunk boundary, one byte at a time.
        while self.npending > 0 {
            let Some((&b, rest)) = chunk.split_first() else {
                return true;
            };
            chunk = rest;
            self.pending[self.npending] = b;
            self.npending += 1;
            match classify_prefix(&self.pending[..self.npending]) {
                Prefix::Complete => self.npending = 0,
                Prefix::Partial if self.npending < 4 => {}
                _ => {
                    self.bad = true;
                    return false;
                }
            }
        }
        let mut rest = chunk;
        loop {
            match std::str::from_utf8(rest) {
                Ok(_) => return true,
                Err(e) => {
                    let bad = &rest[e.valid_up_to()..];
                    if is_surrogate(bad) {
                        rest = &bad[3..];
                        continue;
                    }
                    if bad.len() < 4 && classify_prefix(bad) == Prefix::Partial {
                        self.pending[..bad.len()].copy_from_slice(bad);
                        self.npending = bad.len();
                        return true;
                    }
                    self.bad = true;
                    return false;
                }
            }
        }
    }

    /// True if everything fed was valid and no sequence was left unfinished.
    pub(super) fn finish(&self) -> bool {
        !self.bad && self.npending == 0
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Prefix {
    Complete,
    Partial,
    Invalid,
}

/// Whether `bytes` (at most 4) is one complete sequence, the start of one, or neither.
fn classify_prefix(bytes: &[u8]) -> Prefix {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().count() == 1 => Prefix::Complete,
        Ok(_) => Prefix::Invalid,
        Err(e) if e.valid_up_to() == 0 && e.error_len().is_none() => Prefix::Partial,
        Err(_) => match bytes {
            [0xED, 0xA0..=0xBF, 0x80..=0xBF] => Prefix::Complete,
            [0xED] | [0xED, 0xA0..=0xBF] => Prefix::Partial,
            _ => Prefix::Invalid,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(b"0", Ok(Some(0)))]
    #[case(b"42", Ok(Some(42)))]
    #[case(b" -17 ", Ok(Some(-17)))]
    #[case(b"0x1f", Ok(Some(31)))]
    #[case(b"010", Ok(Some(8)))]
    #[case(b"1_000", Ok(Some(1000)))]
    #[case(b"99999999999999999999999", Ok(None))]
    #[case(b"", Err(()))]
    #[case(b"12a", Err(()))]
    #[case(b"09", Err(()))]
    #[case(b"1__0", Err(()))]
    fn ints(#[case] text: &[u8], #[case] want: Result<Option<i64>, ()>) {
        assert_eq!(parse_int(text), want);
    }

    #[test]
    fn floats() {
        assert!(is_float(b"1.5"));
        assert!(is_float(b"-inf"));
        assert!(is_float(b"1e300"));
        assert!(!is_float(b"one"));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(escape_decode(br"a\x41\n\101\\\q").unwrap(), b"aA\nA\\\\q");
        assert_eq!(escape_decode(br"\x4"), None);
        assert_eq!(escape_decode(b"\\"), None);
    }

    #[test]
    fn raw_unicode_escapes() {
        assert_eq!(raw_unicode_escape_decode(br"os\u0073").unwrap(), "oss");
        assert_eq!(
            raw_unicode_escape_decode(br"a\\u0041").unwrap(),
            "a\\\\u0041"
        );
        assert_eq!(
            raw_unicode_escape_decode(br"\U0001F600").unwrap(),
            "\u{1F600}"
        );
        assert_eq!(raw_unicode_escape_decode(b"\xe9").unwrap(), "\u{e9}");
        assert_eq!(raw_unicode_escape_decode(br"\u12"), None);
        assert_eq!(raw_unicode_escape_decode(br"\U00110000"), None);
    }

    #[test]
    fn latin1_round_trip() {
        let bytes = [0x80u8, 0x04, 0x95, b'a'];
        let text = latin1_decode(&bytes);
        assert_eq!(latin1_encode(&text).as_ref(), &bytes);
    }

    #[test]
    fn surrogatepass() {
        assert_eq!(utf8_surrogatepass(b"abc").unwrap(), "abc");
        assert_eq!(utf8_surrogatepass(b"a\xed\xa0\x80b").unwrap(), "a\u{FFFD}b");
        assert!(utf8_surrogatepass(b"a\xffb").is_none());
        assert!(utf8_surrogatepass(b"\x80").is_none());
    }

    #[test]
    fn streaming_utf8_across_chunk_boundaries() {
        let text = "héllo \u{1F600} wörld".as_bytes();
        for split in 0..text.len() {
            let mut v = Utf8Stream::default();
            assert!(v.feed(&text[..split]));
            assert!(v.feed(&text[split..]));
            assert!(v.finish(), "split at {split}");
        }
        let mut v = Utf8Stream::default();
        assert!(v.feed(b"ab\xed"));
        assert!(v.feed(b"\xa0\x80cd"));
        assert!(v.finish());
        let mut v = Utf8Stream::default();
        assert!(v.feed(b"ab\xe2\x82"));
        assert!(!v.finish());
        let mut v = Utf8Stream::default();
        assert!(!v.feed(b"a\xffb"));
    }
}

// ---- pickles hidden as base64 or hex text ------------------------------------------------------

/// How text encodes a pickle hidden in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextEncoding {
    Base64,
    Hex,
}

impl TextEncoding {
    pub(super) fn name(self) -> &'static str {
        match self {
            TextEncoding::Base64 => "base64",
            TextEncoding::Hex => "hex",
        }
    }
}

/// The two characters that stand for 62 and 63 beside `+` and `/`: Python's `b64decode` with
/// `altchars` (and `urlsafe_b64decode`, which passes `-_`) translates them to `+/` first, so both
/// pairs decode; without them, `-` and `_` are not base64 and are skipped.
pub(super) const URL_SAFE: Option<[u8; 2]> = Some(*b"-_");

fn base64_value(b: u8, alt: Option<[u8; 2]>) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => match alt {
            Some([c62, _]) if b == c62 => Some(62),
            Some([_, c63]) if b == c63 => Some(63),
            _ => None,
        },
    }
}

/// Decodes base64 as CPython's `binascii.a2b_base64` does without `strict_mode` (what
/// `base64.b64decode` calls): characters outside the alphabet are skipped, and `=` ends the data
/// only once it completes a group of four that holds at least two characters; an earlier `=` is
/// skipped like any other stray character. `alt` adds the characters `altchars` names. `None` if
/// the output would exceed `max_out` bytes or nothing decodes.
pub(super) fn decode_base64(text: &[u8], alt: Option<[u8; 2]>, max_out: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity((text.len() / 4 * 3).min(max_out));
    let mut acc = 0u32;
    let mut bits = 0u32;
    // Characters of the current group of four, and `=` seen since the last character.
    let mut quad_pos = 0u32;
    let mut pads = 0u32;
    for &b in text {
        if b == b'=' {
            pads += 1;
            if quad_pos >= 2 && quad_pos + pads >= 4 {
                break;
            }
            continue;
        }
        let Some(v) = base64_value(b, alt) else {
            continue;
        };
        pads = 0;
        quad_pos = (quad_pos + 1) % 4;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if out.len() >= max_out {
                return None;
            }
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Decodes hex digits, skipping ASCII whitespace between them (`bytes.fromhex` allows it; a
/// stricter `unhexlify` input is a subset). `None` on any other character, an odd digit count,
/// or more than `max_out` bytes.
pub(super) fn decode_hex(text: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity((text.len() / 2).min(max_out));
    let mut high: Option<u8> = None;
    for &b in text {
        if b.is_ascii_whitespace() {
            continue;
        }
        let d = (b as char).to_digit(16)? as u8;
        match high.take() {
            None => high = Some(d),
            Some(h) => {
                if out.len() >= max_out {
                    return None;
                }
                out.push(h << 4 | d);
            }
        }
    }
    (high.is_none() && !out.is_empty()).then_some(out)
}

/// Text that decodes to something starting like a pickle of protocol 2-5 (`\x80` + protocol):
/// its encoding and the decoded bytes (at most `max_out` of them). Only the first characters are
/// looked at before decoding the rest, so ordinary strings cost nothing.
pub(super) fn hidden_pickle(text: &[u8], max_out: usize) -> Option<(TextEncoding, Vec<u8>)> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &text[start..];
    let pickle_head = |d: &[u8]| matches!(d, [0x80, 2..=5, ..]);
    if head.len() >= 8 && head.starts_with(b"800") && matches!(head[3], b'2'..=b'5') {
        if let Some(data) = decode_hex(head, max_out) {
            return Some((TextEncoding::Hex, data));
        }
    }
    if head.len() >= 8 && head.starts_with(b"gA") {
        // Text that no decoder is known to read: either alphabet may be the one it is meant for.
        let first = decode_base64(&head[..4], URL_SAFE, 3)?;
        if pickle_head(&first) {
            if let Some(data) = decode_base64(head, URL_SAFE, max_out) {
                return Some((TextEncoding::Base64, data));
            }
        }
    }
    None
}

#[cfg(test)]
mod hidden_tests {
    use super::*;

    #[test]
    fn base64_both_alphabets_and_hex() {
        assert_eq!(
            decode_base64(b"gASVAA==", None, 16),
            Some(vec![0x80, 4, 0x95, 0])
        );
        assert_eq!(
            decode_base64(b"-_-_", URL_SAFE, 16),
            Some(vec![0xfb, 0xff, 0xbf])
        );
        assert_eq!(
            decode_base64(b"+/+/", URL_SAFE, 16),
            Some(vec![0xfb, 0xff, 0xbf])
        );
        assert_eq!(
            decode_base64(b"+/+/", None, 16),
            Some(vec![0xfb, 0xff, 0xbf])
        );
        assert_eq!(decode_base64(b"gASVAA==", None, 2), None);
    }

    #[test]
    fn hardening_02_base64_is_decoded_as_cpython_decodes_it() {
        // Each pair checked with Python's base64.b64decode / urlsafe_b64decode: an `=` before a
        // group holds two characters is skipped, not the end; `-` and `_` are skipped by the
        // standard alphabet, so sprinkling them cannot make this decoder read other bytes.
        let pickle_head = Some(vec![0x80, 4, 0x95, 0]);
        assert_eq!(decode_base64(b"=gASVAA==", None, 16), pickle_head);
        assert_eq!(decode_base64(b"gA=SVAA==", None, 16), pickle_head);
        assert_eq!(decode_base64(b"gA-SV_AA==", None, 16), pickle_head);
        assert_eq!(
            decode_base64(b"-_+/", URL_SAFE, 16),
            Some(vec![0xfb, 0xff, 0xbf])
        );
        assert_eq!(
            decode_base64(b"gA.S", Some(*b".!"), 16),
            Some(vec![0x80, 0x0f, 0x92])
        );
        assert_eq!(decode_hex(b"80 04 95", 16), Some(vec![0x80, 4, 0x95]));
        assert_eq!(decode_hex(b"800", 16), None);
        assert_eq!(decode_hex(b"80zz", 16), None);
        assert!(hidden_pickle(b"gASVDAAAAAAAAA==", 64).is_some());
        assert!(hidden_pickle(b"80049500000000", 64).is_some());
        assert!(hidden_pickle(b"hello world, nothing here", 64).is_none());
    }
}
