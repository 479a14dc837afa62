//! The in-toto statement v1 of a model signature, predicate `https://model_signing/signature/v1.0`
//! (and the older `https://model_signing/Digests/v0.1` of `model_signing` 0.2), written and read
//! as `model_signing` 1.x writes and reads it.

use serde_json::{json, Value};

use crate::serialize::{
    normalize_relative, root_digest, shard_parts, sort_items, HashAlgorithm, Item, Manifest,
    Method, Serialization,
};
use crate::Error;

pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
pub const PREDICATE_TYPE_V0_2: &str = "https://model_signing/Digests/v0.1";
/// The model name `model_signing` gives a v0.2 signature, which has none.
pub const V0_2_MODEL_NAME: &str = "compat-undefined-not-present";

/// The statement for `manifest`, as `model_signing` writes it: one subject named after the model
/// whose sha256 is the root digest, the resources (name, algorithm, hex digest) in canonical
/// order, and the serialization parameters. `shard_size` is written as an integer
/// (`model_signing` writes a float, `1000000000.0`, which its own verifier then rejects).
pub fn statement(manifest: &Manifest) -> Value {
    let s = &manifest.serialization;
    let mut serialization = serde_json::Map::new();
    match s.method {
        Method::Files => {
            serialization.insert("method".into(), json!("files"));
        }
        Method::Shards { shard_size } => {
            serialization.insert("method".into(), json!("shards"));
            serialization.insert("shard_size".into(), json!(shard_size));
        }
    }
    serialization.insert("hash_type".into(), json!(s.hash.name()));
    serialization.insert("allow_symlinks".into(), json!(s.allow_symlinks));
    if !s.ignore_paths.is_empty() {
        serialization.insert("ignore_paths".into(), json!(s.ignore_paths));
    }
    let resources: Vec<Value> = manifest
        .items
        .iter()
        .map(
            |i| json!({"name": i.name, "algorithm": i.algorithm, "digest": hex::encode(&i.digest)}),
        )
        .collect();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": manifest.model_name,
            "digest": {"sha256": hex::encode(root_digest(&manifest.items))},
        }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "resources": resources,
            "serialization": Value::Object(serialization),
        },
    })
}

/// The payload bytes that are signed: the statement, indented by two spaces as `model_signing`
/// (protobuf's JSON printer) writes it.
pub fn payload(manifest: &Manifest) -> Vec<u8> {
    serde_json::to_vec_pretty(&statement(manifest)).unwrap_or_default()
}

fn bad(what: impl Into<String>) -> Error {
    Error::Statement(what.into())
}

fn string<'a>(value: &'a Value, what: &str) -> Result<&'a str, Error> {
    value
        .as_str()
        .ok_or_else(|| bad(format!("{what} is not a string")))
}

/// What a verified payload says: the manifest the model must match, and the root digest (the
/// subject's sha256; absent in a v0.2 signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub manifest: Manifest,
    pub root_digest: Option<[u8; 32]>,
    pub predicate_type: String,
}

/// Reads a payload (only after its signature verified): checks the statement type, the predicate
/// type, a single subject, the serialization parameters, every resource, that no name appears
/// twice, and that the resources hash to the subject's root digest.
pub fn parse(payload: &[u8]) -> Result<Signed, Error> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("the payload is not JSON: {e}")))?;
    if value["_type"] != STATEMENT_TYPE {
        return Err(bad(format!(
            "_type is {}, expected {STATEMENT_TYPE}",
            value["_type"]
        )));
    }
    match value["predicateType"].as_str() {
        Some(PREDICATE_TYPE) => parse_v1(&value),
        Some(PREDICATE_TYPE_V0_2) => parse_v0_2(&value),
        _ => Err(bad(format!(
            "predicateType is {}, expected {PREDICATE_TYPE}",
            value["predicateType"]
        ))),
    }
}

fn parse_serialization(value: &Value) -> Result<Serialization, Error> {
    let hash = HashAlgorithm::parse(string(&value["hash_type"], "serialization.hash_type")?)?;
    let method = match string(&value["method"], "serialization.method")? {
        "files" => Method::Files,
        "shards" => {
            let size = &value["shard_size"];
            let shard_size = size
                .as_u64()
                .or_else(|| {
                    // model_signing writes it as a float (protobuf Struct numbers are doubles).
                    size.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 9.0e15)
                        .map(|f| f as u64)
                })
                .filter(|s| *s > 0)
                .ok_or_else(|| {
                    bad(format!(
                        "serialization.shard_size is {size}, not a positive integer"
                    ))
                })?;
            Method::Shards { shard_size }
        }
        other => return Err(bad(format!("unknown serialization.method {other:?}"))),
    };
    let allow_symlinks = value["allow_symlinks"]
        .as_bool()
        .ok_or_else(|| bad("serialization.allow_symlinks is not a boolean"))?;
    let mut ignore_paths = Vec::new();
    match &value["ignore_paths"] {
        Value::Null => {}
        Value::Array(paths) => {
            for p in paths {
                let p = string(p, "an entry of serialization.ignore_paths")?;
                let normalized = normalize_relative(p).ok_or_else(|| {
                    bad(format!("serialization.ignore_paths has {p:?}: absolute, or leaves the model with .."))
                })?;
                if normalized == "." {
                    return Err(bad(format!(
                        "serialization.ignore_paths has {p:?}, which ignores the whole model"
                    )));
                }
                ignore_paths.push(normalized);
            }
        }
        other => {
            return Err(bad(format!(
                "serialization.ignore_paths is {other}, not a list"
            )))
        }
    }
    Ok(Serialization {
        method,
        hash,
        allow_symlinks,
        ignore_paths,
    })
}

fn digest_hex(value: &Value, what: &str) -> Result<Vec<u8>, Error> {
    let text = string(value, what)?;
    hex::decode(text).map_err(|_| bad(format!("{what} {text:?} is not hex")))
}

fn item_name(name: &str, method: &Method) -> Result<String, Error> {
    let normalize = |p: &str| {
        normalize_relative(p).ok_or_else(|| {
            bad(format!(
                "resource {name:?}: absolute, or leaves the model with .."
            ))
        })
    };
    match method {
        Method::Files => normalize(name),
        Method::Shards { .. } => {
            let (path, start, end) = shard_parts(name)
                .filter(|(_, s, e)| e > s)
                .ok_or_else(|| bad(format!("resource {name:?} is not a shard path:start:end")))?;
            Ok(format!("{}:{start}:{end}", normalize(path)?))
        }
    }
}

fn check_unique(items: &[Item]) -> Result<(), Error> {
    let mut names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(format!("the resource {} appears twice", w[0])));
    }
    Ok(())
}

fn parse_v1(value: &Value) -> Result<Signed, Error> {
    let subjects = value["subject"]
        .as_array()
        .ok_or_else(|| bad("subject is not a list"))?;
    let [subject] = subjects.as_slice() else {
        return Err(bad(format!("{} subjects, expected one", subjects.len())));
    };
    let model_name = string(&subject["name"], "subject.name")?.to_string();
    let root: [u8; 32] = digest_hex(&subject["digest"]["sha256"], "subject.digest.sha256")?
        .try_into()
        .map_err(|_| bad("subject.digest.sha256 is not 32 bytes"))?;
    let predicate = &value["predicate"];
    let serialization = parse_serialization(&predicate["serialization"])?;
    let resources = predicate["resources"]
        .as_array()
        .ok_or_else(|| bad("predicate.resources is not a list"))?;
    let mut items = Vec::with_capacity(resources.len());
    for r in resources {
        let name = string(&r["name"], "a resource's name")?;
        items.push(Item {
            name: item_name(name, &serialization.method)?,
            algorithm: string(&r["algorithm"], "a resource's algorithm")?.to_string(),
            digest: digest_hex(&r["digest"], "a resource's digest")?,
        });
    }
    // The root digest is over the resources in the order they are listed.
    if root_digest(&items) != root {
        return Err(bad(format!(
            "the resources hash to {}, not to the subject's root digest {}: the manifest is inconsistent",
            hex::encode(root_digest(&items)),
            hex::encode(root)
        )));
    }
    check_unique(&items)?;
    sort_items(&mut items, &serialization.method);
    Ok(Signed {
        manifest: Manifest {
            model_name,
            serialization,
            items,
        },
        root_digest: Some(root),
        predicate_type: PREDICATE_TYPE.into(),
    })
}

fn parse_v0_2(value: &Value) -> Result<Signed, Error> {
    let subjects = value["subject"]
        .as_array()
        .ok_or_else(|| bad("subject is not a list"))?;
    let mut items = Vec::with_capacity(subjects.len());
    for s in subjects {
        items.push(Item {
            name: item_name(string(&s["name"], "a subject's name")?, &Method::Files)?,
            algorithm: "sha256".into(),
            digest: digest_hex(&s["digest"]["sha256"], "a subject's digest.sha256")?,
        });
    }
    check_unique(&items)?;
    sort_items(&mut items, &Method::Files);
    Ok(Signed {
        manifest: Manifest {
            model_name: V0_2_MODEL_NAME.into(),
            serialization: Serialization {
                method: Method::Files,
                hash: HashAlgorithm::Sha256,
                allow_symlinks: false,
                ignore_paths: Vec::new(),
            },
            items,
        },
        root_digest: None,
        predicate_type: PREDICATE_TYPE_V0_2.into(),
    })
}
