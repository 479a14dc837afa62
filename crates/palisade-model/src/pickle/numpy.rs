//! numpy dtypes and joblib's `NumpyArrayWrapper`, modelled just far enough to know how many raw
//! bytes joblib writes after a wrapper (or that a nested pickle follows instead).
//!
//! joblib (`numpy_pickle.py`) pickles a `NumpyArrayWrapper` in place of each array; right after
//! the wrapper's BUILD opcode it writes the array itself into the file, outside the pickle
//! opcodes, and its unpickler reads it back in `load_build`:
//!
//! * arrays whose dtype has Python objects (`dtype.hasobject`) are written as a complete nested
//!   pickle (`pickle.dump(array, file)`), read back with a fresh unpickler;
//! * other arrays are `count * itemsize` raw bytes (`count` the product of the shape, 1 for a
//!   0-d array), preceded, when the wrapper's state has a `numpy_array_alignment_bytes` that is
//!   not None (joblib >= 1.2), by one byte giving a padding length and that many padding bytes.
//!
//! The dtype is itself pickled as `numpy.dtype(code, align, copy)` (REDUCE) followed by BUILD
//! with numpy's state tuple `(version, byteorder, subarray, names, fields, elsize, alignment,
//! flags[, metadata])`. numpy's `__setstate__` (checked against numpy 2.x) keeps the itemsize of
//! fixed-size types, takes `elsize` for flexible ones (S, U, V), and takes `hasobject` from bit 0
//! of `flags` when the state has them; dtypes made with `copy=False` are numpy's shared
//! singletons, whose state is left alone.

use std::cell::Cell;
use std::rc::Rc;

use super::value::Value;

/// What the scanner knows of one dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DtypeInfo {
    /// numpy's kind character (`b'f'`, `b'i'`, `b'O'`, ...); 0 when the dtype was not understood.
    pub kind: u8,
    pub itemsize: i64,
    pub has_object: bool,
    /// S, U and V: the state's `elsize` sets the itemsize.
    pub flexible: bool,
    /// A shared builtin singleton (made without `copy`): BUILD does not change it.
    pub singleton: bool,
    /// The state's flags claim (or deny) Python objects against what the type says; numpy
    /// versions disagree on such a dtype, so it is reported.
    pub odd_flags: bool,
}

impl DtypeInfo {
    const UNKNOWN: DtypeInfo = DtypeInfo {
        kind: 0,
        itemsize: 0,
        has_object: false,
        flexible: false,
        singleton: false,
        odd_flags: false,
    };

    pub(super) fn known(&self) -> bool {
        self.kind != 0
    }
}

/// `numpy.dtype(*args)`.
pub(super) fn dtype_from_args(args: &Value) -> DtypeInfo {
    let Some(items) = args.items() else {
        return DtypeInfo::UNKNOWN;
    };
    let Some(code) = items.first().and_then(Value::as_str) else {
        return DtypeInfo::UNKNOWN;
    };
    let copy = match items.get(2) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Int(i)) => *i != 0,
        Some(_) => true,
        None => false,
    };
    dtype_from_code(code, copy)
}

/// `numpy.dtype(code, copy=copy)`, for the type codes numpy's own pickles use and the common
/// spellings people write.
pub(super) fn dtype_from_code(code: &str, copy: bool) -> DtypeInfo {
    let Some((kind, itemsize, flexible)) = parse_code(code) else {
        return DtypeInfo::UNKNOWN;
    };
    DtypeInfo {
        kind,
        itemsize,
        has_object: kind == b'O',
        flexible,
        singleton: !copy && !flexible,
        odd_flags: false,
    }
}

fn parse_code(code: &str) -> Option<(u8, i64, bool)> {
    let code = code.trim_start_matches(['<', '>', '=', '|']);
    // Datetime units (`M8[ns]`) do not change the size.
    let code = match code.find('[') {
        Some(i) if code.ends_with(']') => &code[..i],
        Some(_) => return None,
        None => code,
    };
    let named = match code {
        "O" | "object" | "object_" => Some((b'O', 8)),
        "?" | "bool" | "bool_" | "bool8" => Some((b'b', 1)),
        "b" | "byte" | "int8" => Some((b'i', 1)),
        "B" | "ubyte" | "uint8" => Some((b'u', 1)),
        "h" | "short" | "int16" => Some((b'i', 2)),
        "H" | "ushort" | "uint16" => Some((b'u', 2)),
        "i" | "intc" | "int32" => Some((b'i', 4)),
        "I" | "uintc" | "uint32" => Some((b'u', 4)),
        "l" | "q" | "p" | "int" | "int_" | "long" | "longlong" | "intp" | "int64" => {
            Some((b'i', 8))
        }
        "L" | "Q" | "P" | "uint" | "ulong" | "ulonglong" | "uintp" | "uint64" => Some((b'u', 8)),
        "e" | "half" | "float16" => Some((b'f', 2)),
        "f" | "single" | "float32" => Some((b'f', 4)),
        "d" | "double" | "float" | "float_" | "float64" => Some((b'f', 8)),
        "g" | "longdouble" | "float128" => Some((b'f', 16)),
        "F" | "csingle" | "complex64" => Some((b'c', 8)),
        "D" | "cdouble" | "complex" | "complex_" | "complex128" => Some((b'c', 16)),
        "G" | "clongdouble" | "complex256" => Some((b'c', 32)),
        "M" | "datetime64" => Some((b'M', 8)),
        "m" | "timedelta64" => Some((b'm', 8)),
        "c" => return Some((b'S', 1, true)),
        "S" | "a" | "bytes" | "bytes_" => return Some((b'S', 0, true)),
        "U" | "str" | "str_" | "unicode" => return Some((b'U', 0, true)),
        "V" | "void" => return Some((b'V', 0, true)),
        _ => None,
    };
    if let Some((kind, size)) = named {
        return Some((kind, size, false));
    }
    let (kind, digits) = code.split_at_checked(1)?;
    let n: i64 = digits
        .parse()
        .ok()
        .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))?;
    let kind = kind.as_bytes()[0];
    match kind {
        b'i' | b'u' if [1, 2, 4, 8].contains(&n) => Some((kind, n, false)),
        b'f' if [2, 4, 8, 12, 16].contains(&n) => Some((kind, n, false)),
        b'c' if [8, 16, 24, 32].contains(&n) => Some((kind, n, false)),
        b'b' if n == 1 => Some((kind, n, false)),
        b'M' | b'm' if n == 8 => Some((kind, n, false)),
        b'O' if n == 8 || n == 4 => Some((kind, n, false)),
        b'S' | b'a' => Some((b'S', n, true)),
        b'V' => Some((b'V', n, true)),
        // The code counts characters; numpy stores four bytes each.
        b'U' => Some((b'U', n.checked_mul(4)?, true)),
        _ => None,
    }
}

/// `dtype.__setstate__(state)`.
pub(super) fn apply_dtype_state(info: DtypeInfo, state: &Value) -> DtypeInfo {
    if !info.known() || info.singleton {
        return info;
    }
    let Some(items) = state.items() else {
        return DtypeInfo::UNKNOWN;
    };
    if !(7..=9).contains(&items.len()) {
        // numpy 2 refuses the old five- and six-item states.
        return DtypeInfo::UNKNOWN;
    }
    let Value::Int(version) = items[0] else {
        return DtypeInfo::UNKNOWN;
    };
    let mut out = info;
    if out.flexible {
        match items[5] {
            Value::Int(elsize) => out.itemsize = elsize,
            _ => return DtypeInfo::UNKNOWN,
        }
    }
    let natural = info.kind == b'O' || holds_object(&items[2]) || holds_object(&items[4]);
    if items.len() >= 8 {
        match items[7] {
            Value::Int(flags) => out.has_object = flags & 1 == 1,
            _ => return DtypeInfo::UNKNOWN,
        }
    }
    if version < 3 {
        out.has_object |= natural;
    }
    out.odd_flags = out.has_object != natural;
    out
}

/// Whether a subarray `(dtype, shape)` or a fields dict `{name: (dtype, offset[, title])}` holds
/// a dtype with Python objects.
fn holds_object(v: &Value) -> bool {
    let dtype_in = |t: &Value| {
        t.items()
            .and_then(|items| items.first())
            .is_some_and(|d| matches!(d, Value::Dtype(cell) if cell.get().has_object))
    };
    dtype_in(v) || v.with_map(|m| m.entries.iter().any(|(_, t)| dtype_in(t))) == Some(true)
}

/// A wrapper's attributes, as BUILD sets them. Only what decides the byte count is kept (and no
/// `Value`s, so a wrapper can never hold a reference cycle).
#[derive(Debug, Clone, Default)]
pub(super) struct WrapperAttrs {
    pub shape: Attr<i64>,
    pub dtype: Attr<Rc<Cell<DtypeInfo>>>,
    /// `numpy_array_alignment_bytes`: set to something other than None.
    pub aligned: Attr<bool>,
}

#[derive(Debug, Clone, Default)]
pub(super) enum Attr<T> {
    #[default]
    Absent,
    Set(T),
    /// Set to something the scanner cannot read.
    Invalid,
}

impl WrapperAttrs {
    /// `inst.__dict__.update(state)` (and the slot-state half of a `(state, slotstate)` pair).
    pub(super) fn update(&mut self, state: &Value) {
        let mut apply = |dict: &Value| {
            dict.with_map(|m| {
                for (key, value) in &m.entries {
                    match key.as_str() {
                        Some("shape") => self.shape = shape_count(value),
                        Some("dtype") => {
                            self.dtype = match value {
                                Value::Dtype(cell) => Attr::Set(cell.clone()),
                                _ => Attr::Invalid,
                            }
                        }
                        Some("numpy_array_alignment_bytes") => {
                            self.aligned = Attr::Set(!matches!(value, Value::None))
                        }
                        _ => {}
                    }
                }
                if m.dropped > 0 {
                    // A key the scanner dropped could be any of the three.
                    self.shape = Attr::Invalid;
                }
            });
        };
        match state.items() {
            Some([dict, slots]) => {
                apply(dict);
                apply(slots);
            }
            _ => apply(state),
        }
    }
}

/// joblib's element count: `np.multiply.reduce` over the shape as int64 (which wraps on
/// overflow, so this does too), 1 for a 0-d array.
fn shape_count(shape: &Value) -> Attr<i64> {
    let Some(items) = shape.items() else {
        return Attr::Invalid;
    };
    let mut count: i64 = 1;
    for item in items {
        match item {
            Value::Int(n) => count = count.wrapping_mul(*n),
            Value::Bool(b) => count = count.wrapping_mul(i64::from(*b)),
            _ => return Attr::Invalid,
        }
    }
    Attr::Set(count)
}

/// What joblib reads after a wrapper's BUILD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArrayPlan {
    /// A nested pickle (an object array).
    Pickle,
    /// Raw bytes, with a padding-length byte (and padding) first when `aligned`.
    Raw { aligned: bool, nbytes: u64 },
}

impl WrapperAttrs {
    /// The plan, or why there is none; the second item notes a dtype numpy versions disagree on.
    pub(super) fn plan(&self) -> Result<(ArrayPlan, bool), &'static str> {
        let dtype = match &self.dtype {
            Attr::Set(cell) => cell.get(),
            Attr::Absent => return Err("the array wrapper has no dtype"),
            Attr::Invalid => return Err("the array wrapper's dtype is not a numpy dtype"),
        };
        if !dtype.known() {
            return Err("the array's dtype could not be determined");
        }
        if dtype.has_object {
            return Ok((ArrayPlan::Pickle, dtype.odd_flags));
        }
        let count = match self.shape {
            Attr::Set(count) => count,
            Attr::Absent => return Err("the array wrapper has no shape"),
            Attr::Invalid => return Err("the array's shape could not be determined"),
        };
        if count < 0 {
            return Err("the array's shape gives a negative element count");
        }
        let aligned = match self.aligned {
            Attr::Set(aligned) => aligned,
            Attr::Absent => false,
            Attr::Invalid => return Err("the array's alignment could not be determined"),
        };
        // joblib reads nothing for a non-positive itemsize (its read loop never runs).
        let nbytes = (count as u128) * (dtype.itemsize.max(0) as u128);
        let nbytes = u64::try_from(nbytes).unwrap_or(u64::MAX);
        Ok((ArrayPlan::Raw { aligned, nbytes }, dtype.odd_flags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("f8", b'f', 8)]
    #[case("<f8", b'f', 8)]
    #[case("i4", b'i', 4)]
    #[case("u1", b'u', 1)]
    #[case("b1", b'b', 1)]
    #[case("?", b'b', 1)]
    #[case("c16", b'c', 16)]
    #[case("f16", b'f', 16)]
    #[case("O8", b'O', 8)]
    #[case("O", b'O', 8)]
    #[case("S5", b'S', 5)]
    #[case("U3", b'U', 12)]
    #[case("V16", b'V', 16)]
    #[case("M8", b'M', 8)]
    #[case("M8[ns]", b'M', 8)]
    #[case("float32", b'f', 4)]
    #[case("int64", b'i', 8)]
    fn codes(#[case] code: &str, #[case] kind: u8, #[case] size: i64) {
        let d = dtype_from_code(code, true);
        assert_eq!((d.kind, d.itemsize), (kind, size), "{code}");
        assert_eq!(d.has_object, kind == b'O');
    }

    #[rstest]
    #[case("x9")]
    #[case("f3")]
    #[case("i16")]
    #[case("")]
    #[case("M8[ns")]
    fn unknown_codes(#[case] code: &str) {
        assert!(!dtype_from_code(code, true).known(), "{code}");
    }

    fn state(items: Vec<Value>) -> Value {
        Value::tuple(&items)
    }

    fn v3(byteorder: &str, elsize: i64, flags: i64) -> Value {
        state(vec![
            Value::Int(3),
            Value::from_str(byteorder),
            Value::None,
            Value::None,
            Value::None,
            Value::Int(elsize),
            Value::Int(-1),
            Value::Int(flags),
        ])
    }

    #[test]
    fn state_rules_follow_numpy() {
        // Fixed-size types keep their size; flags decide hasobject (as numpy 2 does for copies).
        let f8 = apply_dtype_state(dtype_from_code("f8", true), &v3("<", 16, 0));
        assert_eq!(
            (f8.itemsize, f8.has_object, f8.odd_flags),
            (8, false, false)
        );
        let flagged = apply_dtype_state(dtype_from_code("f8", true), &v3("<", -1, 1));
        assert!(flagged.has_object && flagged.odd_flags);
        let cleared = apply_dtype_state(dtype_from_code("O8", true), &v3("|", -1, 0));
        assert!(!cleared.has_object && cleared.odd_flags);
        // Flexible types take elsize.
        let u = apply_dtype_state(dtype_from_code("U3", true), &v3("<", 40, 8));
        assert_eq!(u.itemsize, 40);
        // A singleton ignores its state.
        let single = apply_dtype_state(dtype_from_code("f8", false), &v3("<", -1, 1));
        assert!(!single.has_object);
        // Garbage state: unknown.
        assert!(!apply_dtype_state(dtype_from_code("f8", true), &Value::Int(1)).known());
    }

    #[test]
    fn structured_dtypes_with_objects() {
        let obj = Value::Dtype(Rc::new(Cell::new(dtype_from_code("O8", true))));
        let mut fields = super::super::value::Map::default();
        fields.insert(Value::from_str("a"), Value::tuple(&[obj, Value::Int(0)]));
        let fields = Value::FrozenDict(Rc::new(fields));
        // numpy's own pickle of [('a', 'O')] has flags 63 ... and a version-2 state computes it.
        let v2 = state(vec![
            Value::Int(2),
            Value::from_str("|"),
            Value::None,
            Value::tuple(&[Value::from_str("a")]),
            fields.clone(),
            Value::Int(8),
            Value::Int(8),
        ]);
        let d = apply_dtype_state(dtype_from_code("V8", true), &v2);
        assert!(d.has_object && !d.odd_flags);
        let v3_flags0 = state(vec![
            Value::Int(3),
            Value::from_str("|"),
            Value::None,
            Value::tuple(&[Value::from_str("a")]),
            fields,
            Value::Int(8),
            Value::Int(8),
            Value::Int(0),
        ]);
        let d = apply_dtype_state(dtype_from_code("V8", true), &v3_flags0);
        assert!(!d.has_object && d.odd_flags);
    }

    fn wrapper(shape: Value, dtype: &str, aligned: Option<Value>) -> WrapperAttrs {
        let mut map = super::super::value::Map::default();
        map.insert(Value::from_str("shape"), shape);
        map.insert(
            Value::from_str("dtype"),
            Value::Dtype(Rc::new(Cell::new(dtype_from_code(dtype, true)))),
        );
        if let Some(a) = aligned {
            map.insert(Value::from_str("numpy_array_alignment_bytes"), a);
        }
        let mut w = WrapperAttrs::default();
        w.update(&Value::FrozenDict(Rc::new(map)));
        w
    }

    #[test]
    fn plans() {
        let w = wrapper(
            Value::tuple(&[Value::Int(3), Value::Int(4)]),
            "f8",
            Some(Value::Int(16)),
        );
        assert_eq!(
            w.plan(),
            Ok((
                ArrayPlan::Raw {
                    aligned: true,
                    nbytes: 96
                },
                false
            ))
        );
        let w = wrapper(Value::tuple(&[]), "i2", None);
        assert_eq!(
            w.plan(),
            Ok((
                ArrayPlan::Raw {
                    aligned: false,
                    nbytes: 2
                },
                false
            ))
        );
        let w = wrapper(Value::tuple(&[Value::Int(5)]), "f4", Some(Value::None));
        assert_eq!(
            w.plan(),
            Ok((
                ArrayPlan::Raw {
                    aligned: false,
                    nbytes: 20
                },
                false
            ))
        );
        let w = wrapper(Value::tuple(&[Value::Int(2)]), "O", Some(Value::Int(16)));
        assert_eq!(w.plan(), Ok((ArrayPlan::Pickle, false)));
        let w = wrapper(Value::tuple(&[Value::Int(-2)]), "f8", None);
        assert!(w.plan().is_err());
        let w = wrapper(Value::Int(3), "f8", None);
        assert!(w.plan().is_err());
        let w = wrapper(Value::tuple(&[Value::Int(2)]), "bogus", None);
        assert!(w.plan().is_err());
        // int64 wrap-around, as numpy computes it.
        let w = wrapper(
            Value::tuple(&[Value::Int(1 << 32), Value::Int(1 << 32)]),
            "u1",
            None,
        );
        assert_eq!(
            w.plan(),
            Ok((
                ArrayPlan::Raw {
                    aligned: false,
                    nbytes: 0
                },
                false
            ))
        );
        assert!(WrapperAttrs::default().plan().is_err());
    }
}
