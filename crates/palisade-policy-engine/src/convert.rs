//! JSON ⇄ CEL values.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::value::Val;
use cel::objects::{Key, Map};
use cel::Value;

/// A JSON document as a CEL value (integers stay integers; other numbers are doubles).
pub fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(json_to_value).collect())),
        serde_json::Value::Object(o) => {
            let map: HashMap<Key, Value> = o
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_value(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// A JSON document as a value of its own (params, the request's attributes): the borrowing
/// conversion, then one copy of its strings.
pub fn json_to_val(v: &serde_json::Value) -> Box<dyn Val> {
    // Values made from JSON are built-in types only, which `to_static` always copies.
    to_static(json_to_val_borrowed(v).as_ref())
        .unwrap_or_else(|_| Box::new(cel::common::types::CelNull))
}

/// A JSON document as a value that borrows its keys and strings from the document: the
/// interpreter copies maps whenever a comprehension binds one (every container of a pod, once
/// per policy), and a copy that borrows its strings allocates far less.
pub fn json_to_val_borrowed(v: &serde_json::Value) -> Box<dyn Val + '_> {
    use cel::common::types::{
        CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
    };
    match v {
        serde_json::Value::Null => Box::new(CelNull),
        serde_json::Value::Bool(b) => Box::new(CelBool::from(*b)),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Box::new(CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(CelUInt::from(u))
            } else {
                Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        serde_json::Value::String(s) => Box::new(CelString::from(s.as_str())),
        serde_json::Value::Array(a) => Box::new(CelList::from(
            a.iter().map(json_to_val_borrowed).collect::<Vec<_>>(),
        )),
        serde_json::Value::Object(o) => {
            let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = o
                .iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), json_to_val_borrowed(v)))
                .collect();
            Box::new(CelMap::from(map))
        }
    }
}

/// A CEL value as the boxed value the interpreter works on.
pub fn value_to_val(v: Value) -> Box<dyn Val> {
    let boxed: Result<Box<dyn Val>, _> = v.try_into();
    boxed.unwrap_or_else(|_| Box::new(cel::common::types::CelNull))
}

/// A CEL value as JSON, where it has one (opaque values become their string form or null).
pub fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::UInt(u) => (*u).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::String(s) => s.as_str().into(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned().into(),
        Value::List(l) => l.iter().map(value_to_json).collect(),
        Value::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m.map.iter() {
                let key = match k {
                    Key::String(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                out.insert(key, value_to_json(v));
            }
            serde_json::Value::Object(out)
        }
        other => serde_json::Value::String(format!("{other:?}")),
    }
}

/// A deep copy of a value that may borrow from an evaluation's scope, owning all it holds, so
/// it can outlive the evaluation (a variable's value shared by later ones).
pub fn to_static(v: &dyn Val) -> Result<Box<dyn Val>, cel::ExecutionError> {
    use cel::common::types::{CelList, CelMap, CelOptional, CelString};
    if let Some(s) = v.downcast_ref::<CelString>() {
        return Ok(Box::new(CelString::from(s.inner().to_string())));
    }
    if let Some(l) = v.downcast_ref::<CelList>() {
        let items = l
            .inner()
            .iter()
            .map(|i| to_static(i.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Box::new(CelList::from(items)));
    }
    if let Some(m) = v.downcast_ref::<CelMap>() {
        let entries = m
            .inner()
            .iter()
            .map(|(k, v)| Ok((k.clone().into_static(), to_static(v.as_ref())?)))
            .collect::<Result<HashMap<_, _>, cel::ExecutionError>>()?;
        return Ok(Box::new(CelMap::from(entries)));
    }
    if let Some(o) = v.downcast_ref::<CelOptional>() {
        return Ok(Box::new(match o.option() {
            Some(inner) => CelOptional::of(to_static(inner)?),
            None => CelOptional::none(),
        }));
    }
    // Scalars, opaque and struct values: through `Value`, which owns what it holds.
    Value::try_from(v)?.try_into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct conversion gives what the conversion through `Value` gives.
    #[test]
    fn json_to_val_agrees_with_json_to_value() {
        let doc = serde_json::json!({
            "a": [1, -2, 18446744073709551615u64, 1.5, "s", null, true, {"b": {"c": []}}],
            "": {},
        });
        let direct = json_to_val(&doc);
        let via_value = value_to_val(json_to_value(&doc));
        assert!(direct.equals(via_value.as_ref()));
        let borrowed = json_to_val_borrowed(&doc);
        assert!(borrowed.equals(via_value.as_ref()));
        assert!(via_value.equals(borrowed.as_ref()));
        assert!(to_static(borrowed.as_ref())
            .unwrap()
            .equals(via_value.as_ref()));
        assert_eq!(
            Value::try_from(direct.as_ref()).unwrap(),
            json_to_value(&doc)
        );
    }
}
