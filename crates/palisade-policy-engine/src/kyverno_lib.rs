//! Kyverno's authorization libraries that work offline: `envoy` and `http` responses for
//! ValidatingPolicies in Envoy and HTTP mode, and `jwt.Decode` (HS256) for their tokens.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use cel::objects::{Key, Map, Opaque};
use cel::{ExecutionError, Value};
use sha2::{Digest, Sha256};

use crate::cel_lib::err;

/// A response being built: allowed or denied, with a status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseBuilder {
    pub allowed: bool,
    pub code: i64,
    pub body: String,
}

impl Opaque for ResponseBuilder {
    fn runtime_type_name(&self) -> &str {
        "kyverno.Response"
    }
}

fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_string()))
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let m: HashMap<Key, Value> = entries.into_iter().map(|(k, v)| (key(k), v)).collect();
    Value::Map(Map { map: Arc::new(m) })
}

pub(crate) fn allowed(_a: &[Value]) -> Result<Value, ExecutionError> {
    Ok(Value::Opaque(Arc::new(ResponseBuilder {
        allowed: true,
        code: 200,
        body: String::new(),
    })))
}

pub(crate) fn denied(a: &[Value]) -> Result<Value, ExecutionError> {
    let (code, body) = match a.first() {
        Some(Value::Int(c)) => (*c, String::new()),
        Some(Value::String(s)) => (403, s.to_string()),
        _ => (403, String::new()),
    };
    Ok(Value::Opaque(Arc::new(ResponseBuilder {
        allowed: false,
        code,
        body,
    })))
}

fn builder<'a>(v: &'a Value, f: &str) -> Result<&'a ResponseBuilder, ExecutionError> {
    match v {
        Value::Opaque(o) => o
            .downcast_ref::<ResponseBuilder>()
            .ok_or_else(|| err(f, "expected a response")),
        _ => Err(err(f, "expected a response")),
    }
}

pub(crate) fn with_body(a: &[Value]) -> Result<Value, ExecutionError> {
    let mut b = builder(&a[0], "WithBody")?.clone();
    if let Some(Value::String(s)) = a.get(1) {
        b.body = s.to_string();
    }
    Ok(Value::Opaque(Arc::new(b)))
}

pub(crate) fn response(a: &[Value]) -> Result<Value, ExecutionError> {
    let b = builder(&a[0], "Response")?;
    Ok(map(vec![
        ("allowed", Value::Bool(b.allowed)),
        ("code", Value::Int(b.code)),
        ("body", Value::from(b.body.clone())),
    ]))
}

/// Whether a response value allows the request (None: not a response).
pub fn response_allowed(v: &Value) -> Option<bool> {
    match v {
        Value::Map(m) => match m.map.get(&key("allowed")) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        },
        _ => None,
    }
}

pub fn response_message(v: &Value) -> String {
    match v {
        Value::Map(m) => {
            let code = match m.map.get(&key("code")) {
                Some(Value::Int(c)) => *c,
                _ => 403,
            };
            match m.map.get(&key("body")) {
                Some(Value::String(s)) if !s.is_empty() => format!("denied ({code}): {s}"),
                _ => format!("denied ({code})"),
            }
        }
        _ => "denied".to_string(),
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 64;
    let mut k = if key.len() > BLOCK {
        Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(BLOCK, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// `jwt.Decode(token, secret)`: the header and claims, and whether the HS256 signature holds and
/// the token is within its `nbf` and `exp`.
pub(crate) fn jwt_decode(a: &[Value]) -> Result<Value, ExecutionError> {
    let (Some(Value::String(token)), Some(Value::String(secret))) = (a.first(), a.get(1)) else {
        return Err(err("jwt.Decode", "expected a token and a key"));
    };
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, sig] = parts.as_slice() else {
        return Err(err("jwt.Decode", "token must have three parts"));
    };
    let parse = |p: &str| -> Result<serde_json::Value, ExecutionError> {
        b64(p)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| err("jwt.Decode", "malformed token"))
    };
    let header = parse(h)?;
    let claims = parse(c)?;
    let alg_ok = header.get("alg").and_then(|a| a.as_str()) == Some("HS256");
    let expected = hmac_sha256(secret.as_bytes(), format!("{h}.{c}").as_bytes());
    let sig_ok = b64(sig).is_some_and(|s| s == expected);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let time_ok = claims
        .get("exp")
        .and_then(|e| e.as_i64())
        .is_none_or(|e| now < e)
        && claims
            .get("nbf")
            .and_then(|n| n.as_i64())
            .is_none_or(|n| now >= n);
    Ok(map(vec![
        ("Valid", Value::Bool(alg_ok && sig_ok && time_ok)),
        ("Header", crate::convert::json_to_value(&header)),
        ("Claims", crate::convert::json_to_value(&claims)),
    ]))
}
