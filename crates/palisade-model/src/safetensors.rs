//! safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
//! shape and byte range, then the data. Nothing in it runs on load; what can go wrong is a header
//! the loader would refuse (or read out of bounds with), and metadata strings planted for some
//! other tool to execute.

use std::io::BufRead;

use serde_json::Value;

use crate::finding::Severity;
use crate::scan::{self, Ctx, Scanned, State, Trail};
use crate::stream;

/// The safetensors library refuses headers larger than this.
const MAX_HEADER: u64 = 100_000_000;

/// Strings that have no business in model metadata: shell commands, code, script tags, URLs
/// to fetch from. Matched case-insensitively.
pub(crate) const SUSPICIOUS_STRINGS: &[&str] = &[
    "import os",
    "import subprocess",
    "__import__",
    "subprocess",
    "os.system",
    "os.popen",
    "eval(",
    "exec(",
    "b64decode",
    "/bin/sh",
    "/bin/bash",
    "curl ",
    "wget ",
    "rm -rf",
    "chmod ",
    "<script",
    "http://",
];

/// The first suspicious pattern in `text`, if any.
pub(crate) fn suspicious(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    SUSPICIOUS_STRINGS
        .iter()
        .copied()
        .find(|p| lower.contains(p))
}

/// Bits per element of each dtype the safetensors format defines.
fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

fn damaged(ctx: &Ctx<'_>, trail: &Trail, offset: u64, message: String) -> Scanned {
    let message = format!("{message}: safetensors loaders refuse the file");
    ctx.damaged("safetensors", trail, offset, message)
}

/// Scans a safetensors stream of length `len` (measured by reading if unknown).
pub(crate) fn scan(
    ctx: &Ctx<'_>,
    trail: &Trail,
    reader: &mut dyn BufRead,
    len: Option<u64>,
) -> Scanned {
    let mut length = [0u8; 8];
    if let Err(e) = reader.read_exact(&mut length) {
        return scan::stream_failure(ctx, trail, 0, &e, "reading the safetensors header length")
            .named("safetensors");
    }
    let header_len = u64::from_le_bytes(length);
    if header_len > MAX_HEADER.min(ctx.opts.max_header_bytes) {
        return damaged(
            ctx,
            trail,
            0,
            format!("the header claims {header_len} bytes (more than {MAX_HEADER})"),
        );
    }
    if let Some(len) = len {
        if header_len + 8 > len {
            return damaged(
                ctx,
                trail,
                0,
                format!("the header claims {header_len} bytes but the file has {len}"),
            );
        }
    }
    let header = match stream::read_up_to(reader, header_len as usize) {
        Ok(header) if header.len() as u64 == header_len => header,
        Ok(header) => {
            return damaged(
                ctx,
                trail,
                8,
                format!(
                    "the header is truncated ({} of {header_len} bytes)",
                    header.len()
                ),
            )
        }
        Err(e) => {
            return scan::stream_failure(ctx, trail, 8, &e, "reading the safetensors header")
                .named("safetensors")
        }
    };
    let data_start = 8 + header_len;
    let data_len = match len {
        Some(len) => len - data_start,
        None => match stream::drain(reader) {
            Ok(n) => n,
            Err(e) => {
                return scan::stream_failure(ctx, trail, data_start, &e, "reading the tensor data")
                    .named("safetensors")
            }
        },
    };
    let object = match serde_json::from_slice::<Value>(&header) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return damaged(ctx, trail, 8, "the header is not a JSON object".into()),
        Err(e) => return damaged(ctx, trail, 8, format!("the header is not valid JSON ({e})")),
    };

    let mut ranges: Vec<(u64, u64, &str)> = Vec::new();
    for (name, value) in &object {
        if name == "__metadata__" {
            let Value::Object(metadata) = value else {
                return damaged(ctx, trail, 8, "__metadata__ is not a string map".into());
            };
            for (key, value) in metadata {
                let Value::String(text) = value else {
                    return damaged(
                        ctx,
                        trail,
                        8,
                        format!("__metadata__ value {key:?} is not a string"),
                    );
                };
                if let Some(pattern) = suspicious(text).or_else(|| suspicious(key)) {
                    ctx.report(
                        crate::rules::SUSPICIOUS_METADATA.code,
                        Severity::Suspicious,
                        trail,
                        8,
                        format!("metadata {key:?} contains {pattern:?}: code or commands planted for whatever tool displays or runs the metadata"),
                    );
                }
            }
            continue;
        }
        match tensor_range(value) {
            Ok(range) => ranges.push((range.0, range.1, name)),
            Err(e) => return damaged(ctx, trail, 8, format!("tensor {name:?}: {e}")),
        }
    }
    // The loader's rule: sorted by offset, the tensors tile the data area exactly.
    ranges.sort();
    let mut expected = 0u64;
    for (begin, end, name) in &ranges {
        if *begin != expected {
            let what = if *begin < expected {
                "overlaps the tensor before it"
            } else {
                "leaves a gap before it"
            };
            return damaged(
                ctx,
                trail,
                8,
                format!("tensor {name:?} starts at {begin}: it {what}"),
            );
        }
        expected = *end;
    }
    if expected != data_len {
        return damaged(
            ctx,
            trail,
            data_start,
            format!("the tensors cover {expected} bytes but the data area has {data_len}"),
        );
    }
    Scanned::new("safetensors", State::Parsed)
}

/// Checks one tensor entry, returning its byte range within the data area.
fn tensor_range(value: &Value) -> Result<(u64, u64), String> {
    let Value::Object(info) = value else {
        return Err("not an object".into());
    };
    let dtype = info
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or("no dtype")?;
    let bits = dtype_bits(dtype).ok_or_else(|| format!("unknown dtype {dtype:?}"))?;
    let shape = info
        .get("shape")
        .and_then(Value::as_array)
        .ok_or("no shape")?;
    let elements = shape
        .iter()
        .try_fold(1u64, |acc, dim| {
            dim.as_u64().and_then(|d| acc.checked_mul(d))
        })
        .ok_or("bad shape")?;
    let offsets = info
        .get("data_offsets")
        .and_then(Value::as_array)
        .ok_or("no data_offsets")?;
    let [begin, end] = offsets.as_slice() else {
        return Err("data_offsets is not a pair".into());
    };
    let (begin, end) = (
        begin.as_u64().ok_or("bad data_offsets")?,
        end.as_u64().ok_or("bad data_offsets")?,
    );
    if end < begin {
        return Err(format!("data_offsets [{begin}, {end}] run backwards"));
    }
    let bits_total = elements.checked_mul(bits).ok_or("size overflows")?;
    if bits_total % 8 != 0 || bits_total / 8 != end - begin {
        return Err(format!(
            "{dtype} {shape:?} needs {} bytes but data_offsets give {}",
            bits_total.div_ceil(8),
            end - begin
        ));
    }
    Ok((begin, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{scan_bytes, ScanOptions};

    pub(crate) fn safetensors_file(header: &str, data_len: usize) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend(std::iter::repeat_n(0u8, data_len));
        out
    }

    fn rules(bytes: &[u8]) -> Vec<(&'static str, Severity)> {
        scan_bytes("t", bytes, &ScanOptions::default())
            .findings
            .iter()
            .map(|f| (f.rule, f.severity))
            .collect()
    }

    #[test]
    fn valid_file_has_no_findings() {
        let file = safetensors_file(
            r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]}}"#,
            22,
        );
        let outcome = scan_bytes("t", &file, &ScanOptions::default());
        assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);
        assert_eq!(outcome.files[0].format, "safetensors");
    }

    #[test]
    fn invalid_headers_are_unparseable() {
        for (header, data) in [
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#,
                16,
            ),
            (
                r#"{"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}"#,
                8,
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                12,
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                12,
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
                8,
            ),
            (r#"{"__metadata__":{"a":1}}"#, 0),
            (r#"{"a": [1, 2"#, 0),
        ] {
            assert_eq!(
                rules(&safetensors_file(header, data)),
                [(crate::rules::UNPARSEABLE.code, Severity::Suspicious)],
                "{header}"
            );
        }
        let mut huge = (u64::from(u32::MAX)).to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert_eq!(
            rules(&huge),
            [(crate::rules::UNPARSEABLE.code, Severity::Suspicious)]
        );
    }

    #[test]
    fn suspicious_metadata() {
        let file = safetensors_file(
            r#"{"__metadata__":{"init":"import os; os.system('id')"}}"#,
            0,
        );
        assert_eq!(
            rules(&file),
            [(crate::rules::SUSPICIOUS_METADATA.code, Severity::Suspicious)]
        );
        let fine = safetensors_file(
            r#"{"__metadata__":{"license":"see https://example.org/license"}}"#,
            0,
        );
        assert!(rules(&fine).is_empty());
    }
}
