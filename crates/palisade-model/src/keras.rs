//! Keras: a `Lambda` layer carries Python code (marshalled bytecode, or a function looked up by
//! name) that runs when the model is loaded. In a `.keras` zip the model config is
//! `config.json`; in a legacy `.h5` file it is the `model_config` JSON attribute, found here as
//! text in the HDF5 file (attributes are stored unfiltered, so the JSON is there verbatim).

use std::io::{BufRead, Read};

use serde_json::Value;

use crate::finding::Severity;
use crate::scan::{self, Ctx, Scanned, State, Trail};
use crate::stream::{Searcher, Tap};

/// A Lambda layer as `json.dumps` writes it, with and without spaces. `TFOpLambda` (a plain TF op
/// recorded by the functional API) does not match: its name does not follow the quote.
pub(crate) const LAMBDA_PATTERNS: &[&[u8]] =
    &[b"\"class_name\": \"Lambda\"", b"\"class_name\":\"Lambda\""];

/// Marks of a Keras model in an HDF5 file.
const KERAS_MARKS: &[&[u8]] = &[b"model_config", b"keras_version"];

pub(crate) fn lambda_finding(ctx: &Ctx<'_>, trail: &Trail, offset: u64, what: &str) {
    ctx.report(
        crate::rules::KERAS_LAMBDA.code,
        Severity::Dangerous,
        trail,
        offset,
        format!("Keras Lambda layer{what}: its Python code runs when the model is loaded"),
    );
}

/// Scans an HDF5 file for Keras Lambda layers.
pub(crate) fn scan_hdf5(ctx: &Ctx<'_>, trail: &Trail, reader: &mut dyn BufRead) -> Scanned {
    let mut patterns: Vec<&[u8]> = LAMBDA_PATTERNS.to_vec();
    patterns.extend_from_slice(KERAS_MARKS);
    let mut searcher = Searcher::new(&patterns);
    let result = std::io::copy(
        &mut Tap {
            inner: reader,
            searcher: &mut searcher,
        },
        &mut std::io::sink(),
    );
    let keras = searcher
        .hits
        .iter()
        .any(|(index, _)| *index >= LAMBDA_PATTERNS.len());
    let format = if keras { "Keras HDF5" } else { "HDF5" };
    for (index, offset) in &searcher.hits {
        if *index < LAMBDA_PATTERNS.len() {
            lambda_finding(ctx, trail, *offset, " in the model config");
        }
    }
    match result {
        Ok(_) => Scanned::new(format, State::Parsed),
        Err(e) => {
            let failed = scan::stream_failure(ctx, trail, 0, &e, "reading the HDF5 file");
            Scanned::new(format, failed.state)
        }
    }
}

/// Scans a `.keras` archive's `config.json` for Lambda layers, anywhere in the tree (nested
/// models, wrappers such as TimeDistributed, functional sub-graphs).
pub(crate) fn scan_config(ctx: &Ctx<'_>, trail: &Trail, reader: &mut dyn Read) {
    let limit = ctx.opts.max_header_bytes;
    let mut text = Vec::new();
    if let Err(e) = reader.take(limit + 1).read_to_end(&mut text) {
        scan::stream_failure(ctx, trail, 0, &e, "reading the Keras config");
        return;
    }
    if text.len() as u64 > limit {
        ctx.limit(
            trail,
            0,
            format!("the Keras config is larger than {limit} bytes"),
        );
        return;
    }
    let config: Value = match serde_json::from_slice(&text) {
        Ok(config) => config,
        Err(e) => {
            // Keras refuses to load it, but the bytes may still name a Lambda for another parser.
            ctx.report(
                crate::rules::UNPARSEABLE.code,
                Severity::Suspicious,
                trail,
                0,
                format!("the Keras config is not valid JSON ({e})"),
            );
            let mut searcher = Searcher::new(LAMBDA_PATTERNS);
            searcher.feed(&text);
            for (_, offset) in &searcher.hits {
                lambda_finding(ctx, trail, *offset, "");
            }
            return;
        }
    };
    let mut lambdas = Vec::new();
    find_lambdas(&config, 0, &mut lambdas);
    for name in lambdas {
        lambda_finding(ctx, trail, 0, &format!(" {name:?}"));
    }
}

fn find_lambdas(value: &Value, depth: usize, out: &mut Vec<String>) {
    // serde_json already refuses nesting past 128 levels; this guards the recursion regardless.
    if depth > 256 {
        return;
    }
    match value {
        Value::Object(object) => {
            if object.get("class_name").and_then(Value::as_str) == Some("Lambda") {
                let name = object
                    .get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("(unnamed)");
                out.push(name.to_string());
            }
            for child in object.values() {
                find_lambdas(child, depth + 1, out);
            }
        }
        Value::Array(items) => {
            for child in items {
                find_lambdas(child, depth + 1, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_are_found_in_nested_models() {
        let config: Value = serde_json::from_str(
            r#"{"class_name":"Sequential","config":{"layers":[
                {"class_name":"Dense","config":{"name":"d"}},
                {"class_name":"Functional","config":{"layers":[{"class_name":"Lambda","config":{"name":"evil"}}]}},
                {"class_name":"TFOpLambda","config":{"name":"fine"}}]}}"#,
        )
        .unwrap();
        let mut found = Vec::new();
        find_lambdas(&config, 0, &mut found);
        assert_eq!(found, ["evil"]);
    }
}

#[cfg(test)]
mod file_tests {
    use crate::finding::Severity;
    use crate::testutil::*;

    fn hdf5_with(text: &[u8], at: usize) -> Vec<u8> {
        let mut file = b"\x89HDF\r\n\x1a\n".to_vec();
        file.resize(at, 0);
        file.extend_from_slice(b"model_config");
        file.extend_from_slice(text);
        file.extend_from_slice(&[0u8; 100]);
        file
    }

    #[test]
    fn lambda_in_h5_model_config() {
        let config = br#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}"#;
        // Placed so that the pattern straddles the scanner's 64 KiB read buffer.
        for at in [100, (1 << 16) - 40] {
            let outcome = scan(&hdf5_with(config, at));
            assert_eq!(format(&outcome), "Keras HDF5");
            let lambdas = with_rule(&outcome, crate::rules::KERAS_LAMBDA.code);
            assert_eq!(lambdas.len(), 1, "{:?}", outcome.findings);
            assert_eq!(lambdas[0].severity, Severity::Dangerous);
            let within = config
                .windows(22)
                .position(|w| w == b"\"class_name\": \"Lambda\"")
                .unwrap();
            assert_eq!(lambdas[0].location.offset, (at + 12 + within) as u64);
        }
        let compact = br#"{"layers":[{"class_name":"Lambda"}]}"#;
        assert_eq!(
            with_rule(
                &scan(&hdf5_with(compact, 64)),
                crate::rules::KERAS_LAMBDA.code
            )
            .len(),
            1
        );
        let fine = br#"{"layers": [{"class_name": "TFOpLambda"}, {"class_name": "Dense"}]}"#;
        assert!(scan(&hdf5_with(fine, 64)).findings.is_empty());
    }
}
