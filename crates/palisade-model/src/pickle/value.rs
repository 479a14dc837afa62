//! The abstract values on the scanner's stack and memo: enough of each object to resolve
//! STACK_GLOBAL operands, recognise joblib's array wrappers and numpy dtypes, and find bytes
//! handed to a loader; everything else is a shape with no content.
//!
//! Python objects are shared references, and a pickle can mutate an object after memoizing it
//! (a dict filled by SETITEMS after its PUT). Dicts, dtypes and joblib wrappers are therefore
//! shared and mutable here too. To keep reference cycles (and so leaks proportional to the file)
//! impossible, a value is *frozen* whenever it is stored inside another: a live dict becomes an
//! immutable snapshot, so nothing reachable from inside a container is ever mutable.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::numpy::{DtypeInfo, WrapperAttrs};
use crate::policy::Verdict;

/// Items kept per tuple and per dict; longer ones keep their length only. The values read out of
/// containers (dtype states, array shapes, call arguments, joblib's state dict) are all short.
pub(super) const CONTAINER_CAP: usize = 64;

/// Strings this short live inside the value, with no allocation: module and attribute names,
/// dict keys, dtype codes.
const INLINE: usize = 22;

#[derive(Debug, Clone)]
pub(super) enum Value {
    /// Anything not modelled: results of calls the scanner does not follow, persistent ids, ...
    Unknown,
    None,
    Bool(bool),
    Int(i64),
    /// An integer beyond i64.
    BigInt,
    Float,
    /// A short string, stored inline.
    InlineStr {
        len: u8,
        buf: [u8; INLINE],
    },
    Str(Rc<str>),
    /// A string longer than the kept limit: its length only.
    LongStr(u64),
    Bytes(Rc<Blob>),
    Tuple(Rc<[Value]>),
    /// A tuple longer than [`CONTAINER_CAP`].
    BigTuple,
    List,
    Set,
    /// A dict on the stack or in the memo: shared and mutable.
    Dict(Rc<RefCell<Map>>),
    /// A dict stored inside another value: a snapshot.
    FrozenDict(Rc<Map>),
    /// A global itself (a class or function), as GLOBAL/STACK_GLOBAL push it.
    Global(Rc<GlobalRef>),
    /// What calling or instantiating a global returned.
    Object(Rc<GlobalRef>),
    /// A `numpy.dtype` under construction (REDUCE, then BUILD with its state).
    Dtype(Rc<Cell<DtypeInfo>>),
    /// A `joblib.numpy_pickle.NumpyArrayWrapper` instance.
    Wrapper(Rc<RefCell<WrapperAttrs>>),
}

impl Value {
    pub(super) fn from_str(s: &str) -> Value {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Value::InlineStr {
                len: s.len() as u8,
                buf,
            }
        } else {
            Value::Str(Rc::from(s))
        }
    }

    /// The text of a kept string.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Value::InlineStr { len, buf } => std::str::from_utf8(&buf[..usize::from(*len)]).ok(),
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn is_str(&self) -> bool {
        matches!(
            self,
            Value::InlineStr { .. } | Value::Str(_) | Value::LongStr(_)
        )
    }

    /// The value as it is stored inside a container: live dicts become snapshots.
    pub(super) fn frozen(&self) -> Value {
        match self {
            Value::Dict(map) => Value::FrozenDict(Rc::new(
                map.try_borrow().map(|m| m.clone()).unwrap_or_default(),
            )),
            other => other.clone(),
        }
    }

    /// Tuple items, if the value is a tuple whose items were kept.
    pub(super) fn items(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// A (frozen) tuple of `items`, or a content-less one if there are too many.
    pub(super) fn tuple(items: &[Value]) -> Value {
        if items.len() > CONTAINER_CAP {
            return Value::BigTuple;
        }
        Value::Tuple(items.iter().map(Value::frozen).collect())
    }

    /// Runs `f` on the entries of a dict, live or frozen.
    pub(super) fn with_map<R>(&self, f: impl FnOnce(&Map) -> R) -> Option<R> {
        match self {
            Value::Dict(map) => map.try_borrow().ok().map(|m| f(&m)),
            Value::FrozenDict(map) => Some(f(map)),
            _ => None,
        }
    }
}

/// A bytes-like payload (bytes, bytearray, or a Python 2 str read as bytes).
#[derive(Debug)]
pub(super) struct Blob {
    pub len: u64,
    /// The content, if it was no longer than the kept limit.
    pub data: Option<Box<[u8]>>,
    /// The payload looked like a pickle and was scanned while it was read: the index of that
    /// scan's result in the machine's list.
    pub nested: Option<usize>,
    /// Offset of the payload in the stream (for naming a nested pickle).
    pub at: u64,
}

/// The dict entries the scanner reads back, in insertion order, up to [`CONTAINER_CAP`] of them.
#[derive(Debug, Clone, Default)]
pub(super) struct Map {
    pub entries: Vec<(Value, Value)>,
    /// Entries worth keeping that were dropped because of the cap.
    pub dropped: u64,
}

impl Map {
    /// `map[key] = value`, replacing an existing string key as Python would. Only entries
    /// something reads back are kept: joblib's wrapper state and the fields of a numpy dtype
    /// state. The rest of a dict is data, and a pickle can hold millions of dicts.
    pub(super) fn insert(&mut self, key: Value, value: Value) {
        let wanted = matches!(
            key.as_str(),
            Some("shape" | "dtype" | "numpy_array_alignment_bytes")
        ) || value
            .items()
            .and_then(|items| items.first())
            .is_some_and(|first| matches!(first, Value::Dtype(_)));
        if !wanted {
            return;
        }
        if let Some(k) = key.as_str() {
            if let Some(slot) = self
                .entries
                .iter_mut()
                .find(|(existing, _)| existing.as_str() == Some(k))
            {
                slot.1 = value.frozen();
                return;
            }
        }
        if self.entries.len() < CONTAINER_CAP {
            self.entries.push((key.frozen(), value.frozen()));
        } else {
            self.dropped += 1;
        }
    }

    #[cfg(test)]
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

/// A global named by the pickle, with the policy's verdict on it.
#[derive(Debug)]
pub(super) struct GlobalRef {
    /// `module.name`.
    pub path: Rc<str>,
    /// Where `name` starts in `path`.
    pub name_at: usize,
    pub verdict: Verdict,
    pub reason: &'static str,
    pub loader: bool,
    pub special: Special,
}

/// Globals whose calls the scanner follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Special {
    None,
    /// `numpy.dtype`: calling it makes a dtype.
    Dtype,
    /// joblib's `NumpyArrayWrapper`: its BUILD is followed by raw array bytes.
    ArrayWrapper,
    /// `copyreg._reconstructor(cls, base, state)` / `copyreg.__newobj__(cls, *args)`: make an
    /// instance of their first argument.
    Reconstructor,
    /// `_codecs.encode(text, encoding)`, `bytes(...)`, `bytearray(...)`: bytes from text.
    ToBytes,
    /// `numpy.core._ufunc_reconstruct(module, name)`: fetches `module.name`, like a GLOBAL.
    Resolver,
    /// `builtins.getattr`: Dangerous, except as `getattr(instance, "method")`, which is how
    /// Python pickles a bound method (scipy.stats distributions keep some).
    Getattr,
    /// A base64 or hex decoder (`base64.b64decode`, `binascii.unhexlify`, `bytes.fromhex`,
    /// `codecs.decode`): bytes from text, which may be a pickle for a loader.
    Decoder(Decoding),
    /// An allowed reconstructor that instantiates the class given as its first argument
    /// (`pandas.core.indexes.base._new_Index(cls, d)`, Cython's `__pyx_unpickle_X(cls, ...)`,
    /// `numpy.core.multiarray._reconstruct(subtype, ...)`).
    Instantiator,
}

/// What a decoder global decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decoding {
    /// Base64 in the standard alphabet, with `altchars` when the call passes them.
    Base64,
    /// `base64.urlsafe_b64decode`: `-_` as well as `+/`.
    Base64UrlSafe,
    Hex,
    /// `codecs.decode(data, encoding)`: the encoding argument decides.
    Codec,
}

impl Special {
    pub(super) fn of(path: &str) -> Special {
        match path {
            "numpy.dtype" => Special::Dtype,
            "joblib.numpy_pickle.NumpyArrayWrapper"
            | "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper" => Special::ArrayWrapper,
            "copyreg._reconstructor"
            | "copy_reg._reconstructor"
            | "copyreg.__newobj__"
            | "copy_reg.__newobj__"
            | "copyreg.__newobj_ex__" => Special::Reconstructor,
            "_codecs.encode"
            | "codecs.encode"
            | "builtins.bytes"
            | "builtins.bytearray"
            | "__builtin__.bytearray" => Special::ToBytes,
            "numpy.core._ufunc_reconstruct" | "numpy._core._ufunc_reconstruct" => Special::Resolver,
            "builtins.getattr" | "__builtin__.getattr" => Special::Getattr,
            "base64.b64decode"
            | "base64.standard_b64decode"
            | "base64.decodebytes"
            | "base64.decodestring"
            | "binascii.a2b_base64" => Special::Decoder(Decoding::Base64),
            "base64.urlsafe_b64decode" => Special::Decoder(Decoding::Base64UrlSafe),
            "base64.b16decode"
            | "binascii.unhexlify"
            | "binascii.a2b_hex"
            | "builtins.bytes.fromhex"
            | "builtins.bytearray.fromhex"
            | "__builtin__.bytearray.fromhex" => Special::Decoder(Decoding::Hex),
            "codecs.decode" | "_codecs.decode" => Special::Decoder(Decoding::Codec),
            "numpy.core.multiarray._reconstruct"
            | "numpy._core.multiarray._reconstruct"
            | "numpy.ma.core._mareconstruct"
            | "pandas.core.indexes.base._new_Index"
            | "pandas.core.indexes.datetimes._new_DatetimeIndex"
            | "pandas.core.indexes.interval._new_IntervalIndex"
            | "pandas.core.indexes.period._new_PeriodIndex"
            | "pandas.core.indexes.timedeltas._new_TimedeltaIndex" => Special::Instantiator,
            _ if path
                .rsplit_once('.')
                .is_some_and(|(_, name)| name.starts_with("__pyx_unpickle_")) =>
            {
                Special::Instantiator
            }
            _ => Special::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_small() {
        // The stack and a memo of a million entries are made of these.
        assert!(
            std::mem::size_of::<Value>() <= 24,
            "{}",
            std::mem::size_of::<Value>()
        );
    }

    #[test]
    fn strings_inline_and_heap() {
        let short = Value::from_str("os");
        assert!(matches!(short, Value::InlineStr { .. }));
        assert_eq!(short.as_str(), Some("os"));
        let long = Value::from_str("torch._utils._rebuild_tensor_v2");
        assert!(matches!(long, Value::Str(_)));
        assert_eq!(long.as_str(), Some("torch._utils._rebuild_tensor_v2"));
    }

    #[test]
    fn containers_freeze_what_they_hold() {
        let live = Rc::new(RefCell::new(Map::default()));
        let dict = Value::Dict(live.clone());
        let tuple = Value::tuple(std::slice::from_ref(&dict));
        // Mutating the live dict afterwards does not reach the tuple's snapshot, so a dict can
        // never end up (indirectly) inside itself.
        live.borrow_mut()
            .insert(Value::from_str("shape"), tuple.clone());
        let inner = &tuple.items().unwrap()[0];
        assert_eq!(inner.with_map(|m| m.entries.len()), Some(0));
        assert_eq!(dict.with_map(|m| m.entries.len()), Some(1));
    }

    #[test]
    fn dict_keys_replace() {
        let mut map = Map::default();
        map.insert(Value::from_str("shape"), Value::Int(1));
        map.insert(Value::from_str("shape"), Value::Int(2));
        assert_eq!(map.entries.len(), 1);
        assert!(matches!(map.get("shape"), Some(Value::Int(2))));
    }
}
