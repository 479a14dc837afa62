//! Rego's `sprintf` as OPA runs it: Go's `fmt.Sprintf` over the arguments OPA passes (an
//! integer as Go `int`, an integer beyond 64 bits as `*big.Int`, another number as `float64`, a
//! string as `string`, and anything else — booleans, null, arrays, sets, objects — as the
//! string of its Rego term). Go's rules hold for the verbs, flags, width and precision, and for
//! the errors written into the output: a verb without an argument gives `%!v(MISSING)`, a verb
//! the argument's type does not take `%!d(string=x)`, arguments left over
//! `%!(EXTRA string=x, int=1)`. `regorus`' own `sprintf` refuses a missing argument, so the
//! engine of every Gatekeeper template registers this one in its place ([`register`]).

use std::fmt::Write as _;

/// An argument as OPA hands it to Go's `fmt.Sprintf`.
#[derive(Debug, Clone, PartialEq)]
pub enum GoArg {
    Int(i64),
    /// An integer beyond 64 bits, in decimal.
    BigInt(String),
    Float(f64),
    Str(String),
}

impl GoArg {
    fn type_name(&self) -> &'static str {
        match self {
            GoArg::Int(_) => "int",
            GoArg::BigInt(_) => "*big.Int",
            GoArg::Float(_) => "float64",
            GoArg::Str(_) => "string",
        }
    }
}

/// Replaces `regorus`' `sprintf` with OPA's in `engine`.
pub fn register(engine: &mut regorus::Engine) -> Result<(), String> {
    engine
        .add_extension(
            "sprintf".to_string(),
            2,
            Box::new(
                |args: Vec<regorus::Value>| -> anyhow::Result<regorus::Value> {
                    let (Some(regorus::Value::String(f)), Some(regorus::Value::Array(a))) =
                        (args.first(), args.get(1))
                    else {
                        // OPA's type checker refuses these; a non-strict built-in is undefined.
                        return Ok(regorus::Value::Undefined);
                    };
                    let go: Vec<GoArg> = a.iter().map(go_arg).collect();
                    Ok(regorus::Value::from(go_sprintf(f, &go)))
                },
            ),
        )
        .map_err(|e| e.to_string())
}

/// The Go value OPA passes for a Rego value.
pub fn go_arg(v: &regorus::Value) -> GoArg {
    match v {
        regorus::Value::String(s) => GoArg::Str(s.to_string()),
        regorus::Value::Number(n) => {
            if n.is_integer() {
                match n.as_i64() {
                    Some(i) => GoArg::Int(i),
                    None => GoArg::BigInt(n.format_decimal()),
                }
            } else {
                match n.as_f64() {
                    Some(f) => GoArg::Float(f),
                    None => GoArg::Str(n.format_decimal()),
                }
            }
        }
        other => GoArg::Str(rego_term(other)),
    }
}

/// The string of a Rego term, as OPA's `ast.Term.String()` writes it.
pub fn rego_term(v: &regorus::Value) -> String {
    let mut out = String::new();
    write_term(&mut out, v);
    out
}

fn write_term(out: &mut String, v: &regorus::Value) {
    use regorus::Value as V;
    match v {
        V::Null => out.push_str("null"),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Number(n) => out.push_str(&n.format_decimal()),
        V::String(s) => out.push_str(&go_quote(s)),
        V::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_term(out, e);
            }
            out.push(']');
        }
        V::Set(s) if s.is_empty() => out.push_str("set()"),
        V::Set(s) => {
            out.push('{');
            for (i, e) in s.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_term(out, e);
            }
            out.push('}');
        }
        V::Object(o) => {
            out.push('{');
            for (i, (k, e)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_term(out, k);
                out.push_str(": ");
                write_term(out, e);
            }
            out.push('}');
        }
        V::Undefined => out.push_str("undefined"),
    }
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
            if (c as u32) < 0x10000 {
                let _ = write!(out, "\\u{:04x}", c as u32);
            } else {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
        c => out.push(c),
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Go's `fmt.Sprintf(format, args...)`.
pub fn go_sprintf(format: &str, args: &[GoArg]) -> String {
    let mut out = String::with_capacity(format.len() + 16 * args.len());
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    let mut arg_num = 0usize;
    let mut reordered = false;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        // Flags.
        while i < chars.len() {
            match chars[i] {
                '#' => spec.sharp = true,
                '0' => spec.zero = !spec.minus,
                '+' => spec.plus = true,
                '-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                ' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut good_arg_num = true;
        // An argument index before the width.
        arg_index(
            &chars,
            &mut i,
            &mut arg_num,
            &mut reordered,
            &mut good_arg_num,
            args.len(),
        );
        // Width: digits or `*`.
        if i < chars.len() && chars[i] == '*' {
            i += 1;
            match int_arg(args, &mut arg_num) {
                Some(w) if w < 0 => {
                    spec.minus = true;
                    spec.zero = false;
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                Some(w) => spec.width = Some(w as usize),
                None => out.push_str("%!(BADWIDTH)"),
            }
        } else {
            let start = i;
            let w = digits(&chars, &mut i);
            if i > start {
                spec.width = Some(w);
            }
        }
        // Precision.
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            arg_index(
                &chars,
                &mut i,
                &mut arg_num,
                &mut reordered,
                &mut good_arg_num,
                args.len(),
            );
            if i < chars.len() && chars[i] == '*' {
                i += 1;
                match int_arg(args, &mut arg_num) {
                    Some(p) if p >= 0 => spec.precision = Some(p as usize),
                    Some(_) => spec.precision = None,
                    None => out.push_str("%!(BADPREC)"),
                }
            } else {
                spec.precision = Some(digits(&chars, &mut i));
            }
        }
        arg_index(
            &chars,
            &mut i,
            &mut arg_num,
            &mut reordered,
            &mut good_arg_num,
            args.len(),
        );
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !good_arg_num {
            let _ = write!(out, "%!{verb}(BADINDEX)");
            continue;
        }
        let Some(arg) = args.get(arg_num) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        arg_num += 1;
        format_arg(&mut out, verb, arg, spec);
    }
    if !reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            out.push_str(a.type_name());
            out.push('=');
            format_arg(&mut out, 'v', a, Spec::default());
        }
        out.push(')');
    }
    out
}

fn digits(chars: &[char], i: &mut usize) -> usize {
    let mut n = 0usize;
    while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
        // Go gives up on absurd widths; a bound keeps the output bounded too.
        n = (n * 10 + d as usize).min(1_000_000);
        *i += 1;
    }
    n
}

fn int_arg(args: &[GoArg], arg_num: &mut usize) -> Option<i64> {
    let a = args.get(*arg_num)?;
    *arg_num += 1;
    match a {
        GoArg::Int(n) if n.unsigned_abs() <= 1_000_000 => Some(*n),
        _ => None,
    }
}

/// `[n]` before a width, precision or verb: the next argument is the n-th.
fn arg_index(
    chars: &[char],
    i: &mut usize,
    arg_num: &mut usize,
    reordered: &mut bool,
    good: &mut bool,
    nargs: usize,
) {
    if chars.get(*i) != Some(&'[') {
        return;
    }
    *reordered = true;
    let Some(close) = chars[*i..].iter().position(|&c| c == ']') else {
        *good = false;
        *i = chars.len().min(*i + 1);
        return;
    };
    let text: String = chars[*i + 1..*i + close].iter().collect();
    *i += close + 1;
    match text.parse::<usize>() {
        Ok(n) if n >= 1 && n <= nargs => *arg_num = n - 1,
        _ => *good = false,
    }
}

fn format_arg(out: &mut String, verb: char, arg: &GoArg, spec: Spec) {
    let body = match (verb, arg) {
        ('v' | 'd', GoArg::Int(n)) => Some(integer(*n as i128, 10, false, spec, verb)),
        ('b', GoArg::Int(n)) => Some(integer(*n as i128, 2, false, spec, verb)),
        ('o' | 'O', GoArg::Int(n)) => Some(integer(*n as i128, 8, false, spec, verb)),
        ('x', GoArg::Int(n)) => Some(integer(*n as i128, 16, false, spec, verb)),
        ('X', GoArg::Int(n)) => Some(integer(*n as i128, 16, true, spec, verb)),
        ('c', GoArg::Int(n)) => Some(pad(
            char::from_u32(*n as u32)
                .filter(|_| (0..=0x10ffff).contains(n))
                .unwrap_or('\u{fffd}')
                .to_string(),
            spec,
            false,
        )),
        ('q', GoArg::Int(n)) => {
            let c = char::from_u32(*n as u32)
                .filter(|_| (0..=0x10ffff).contains(n))
                .unwrap_or('\u{fffd}');
            let mut s = String::from('\'');
            push_escaped(&mut s, c, '\'');
            s.push('\'');
            Some(pad(s, spec, false))
        }
        ('U', GoArg::Int(n)) => Some(pad(format!("U+{:04X}", n), spec, false)),
        ('v' | 'd' | 's', GoArg::BigInt(s)) => Some(pad(s.clone(), spec, true)),
        ('v', GoArg::Float(f)) => Some(float(*f, 'g', spec, true)),
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', GoArg::Float(f)) => Some(float(*f, verb, spec, false)),
        ('v' | 's', GoArg::Str(s)) => Some(pad(truncate(s, spec.precision), spec, false)),
        ('q', GoArg::Str(s)) => Some(pad(go_quote(s), spec, false)),
        ('x' | 'X', GoArg::Str(s)) => {
            let bytes = truncate(s, spec.precision);
            let mut h = String::new();
            for (k, b) in bytes.bytes().enumerate() {
                if k > 0 && spec.space {
                    h.push(' ');
                }
                if spec.sharp && (k == 0 || spec.space) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    let _ = write!(h, "{b:02x}");
                } else {
                    let _ = write!(h, "{b:02X}");
                }
            }
            Some(pad(h, spec, false))
        }
        _ => None,
    };
    match body {
        Some(b) => out.push_str(&b),
        None => {
            let _ = write!(out, "%!{verb}({}=", arg.type_name());
            format_arg(out, 'v', arg, Spec::default());
            out.push(')');
        }
    }
}

fn truncate(s: &str, precision: Option<usize>) -> String {
    match precision {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

/// Pads to the width: spaces on the left, on the right with `-`, zeros with `0` (after the
/// sign, for numbers).
fn pad(s: String, spec: Spec, numeric: bool) -> String {
    let Some(w) = spec.width else { return s };
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if spec.minus {
        return s + &" ".repeat(fill);
    }
    if spec.zero {
        if numeric && s.starts_with(['+', '-', ' ']) {
            let (sign, rest) = s.split_at(1);
            return format!("{sign}{}{rest}", "0".repeat(fill));
        }
        return "0".repeat(fill) + &s;
    }
    " ".repeat(fill) + &s
}

fn integer(n: i128, base: u32, upper: bool, spec: Spec, verb: char) -> String {
    let neg = n < 0;
    let m = n.unsigned_abs();
    let mut digits = match base {
        2 => format!("{m:b}"),
        8 => format!("{m:o}"),
        16 if upper => format!("{m:X}"),
        16 => format!("{m:x}"),
        _ => m.to_string(),
    };
    let mut spec = spec;
    if let Some(p) = spec.precision {
        if p == 0 && m == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
        // Go: a precision turns the zero flag off.
        spec.zero = false;
    }
    let prefix = match (base, verb) {
        (8, 'O') => "0o",
        (8, _) if spec.sharp && !digits.starts_with('0') => "0",
        (16, _) if spec.sharp && upper => "0X",
        (16, _) if spec.sharp => "0x",
        (2, _) if spec.sharp => "0b",
        _ => "",
    };
    let sign = if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    if spec.zero && !spec.minus {
        if let Some(w) = spec.width {
            let used = sign.len() + prefix.len() + digits.len();
            if used < w {
                digits = "0".repeat(w - used) + &digits;
            }
        }
        return format!("{sign}{prefix}{digits}");
    }
    pad(format!("{sign}{prefix}{digits}"), spec, true)
}

/// A float as Go writes it for `%e`, `%f`, `%g` (and `%v`: `%g` with the shortest digits).
fn float(f: f64, verb: char, spec: Spec, is_v: bool) -> String {
    // JSON holds no infinities or NaN; they are written as Go writes them for `%v`.
    let s = if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        let neg = f.is_sign_negative();
        let a = f.abs();
        let body = match verb {
            'e' | 'E' => exp_form(a, spec.precision.unwrap_or(6), verb == 'E'),
            'f' | 'F' => format!("{:.*}", spec.precision.unwrap_or(6), a),
            _ => general(a, if is_v { None } else { spec.precision }, verb == 'G'),
        };
        let sign = if neg {
            "-"
        } else if spec.plus {
            "+"
        } else if spec.space {
            " "
        } else {
            ""
        };
        format!("{sign}{body}")
    };
    let mut spec = spec;
    if !f.is_finite() {
        spec.zero = false;
    }
    pad(s, spec, true)
}

/// `d.ddde±XX` with `prec` digits after the point.
fn exp_form(a: f64, prec: usize, upper: bool) -> String {
    let s = format!("{:.*e}", prec, a);
    go_exponent(&s, upper)
}

/// Rust's `1.5e3` / `1.5e-7` as Go's `1.5e+03` / `1.5e-07`.
fn go_exponent(s: &str, upper: bool) -> String {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    let e = if upper { 'E' } else { 'e' };
    if digits.len() < 2 {
        format!("{mant}{e}{sign}0{digits}")
    } else {
        format!("{mant}{e}{sign}{digits}")
    }
}

/// `%g`: the shortest digits (no precision) or `prec` significant digits, trailing zeros
/// dropped; exponent form when the exponent is below -4 or at least the precision (6 for the
/// shortest).
fn general(a: f64, precision: Option<usize>, upper: bool) -> String {
    let sci = match precision {
        None => format!("{a:e}"),
        Some(p) => format!("{:.*e}", p.max(1) - 1, a),
    };
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = {
        let t = digits.trim_end_matches('0');
        if t.is_empty() {
            "0".to_string()
        } else {
            t.to_string()
        }
    };
    let nd = digits.len() as i64;
    let eprec = match precision {
        None => 6,
        Some(p) => {
            let p = p.max(1) as i64;
            if p > nd && nd > exp {
                nd
            } else {
                p
            }
        }
    };
    if exp < -4 || exp >= eprec {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits.clone()
        };
        return go_exponent(&format!("{mant}e{exp}"), upper);
    }
    let frac = (nd - (exp + 1)).max(0) as usize;
    format!("{:.*}", frac, a)
}

#[cfg(test)]
mod tests {
    use super::GoArg::{Float, Int, Str};
    use super::*;

    fn s(v: &str) -> GoArg {
        Str(v.to_string())
    }

    // Expected strings are what Go's fmt.Sprintf prints (pkg.go.dev/fmt).
    #[test]
    fn go_fmt_table() {
        let cases: Vec<(&str, Vec<GoArg>, &str)> = vec![
            ("%v and %v", vec![s("a"), Int(1)], "a and 1"),
            ("%v %v %v", vec![s("a"), Int(1)], "a 1 %!v(MISSING)"),
            ("%s", vec![], "%!s(MISSING)"),
            (
                "%v",
                vec![s("a"), Int(2), s("b")],
                "a%!(EXTRA int=2, string=b)",
            ),
            ("%d", vec![s("x")], "%!d(string=x)"),
            ("%s", vec![Int(5)], "%!s(int=5)"),
            ("%d", vec![Float(1.5)], "%!d(float64=1.5)"),
            ("%t", vec![s("true")], "%!t(string=true)"),
            ("%q", vec![s("a\"b\n")], "\"a\\\"b\\n\""),
            ("%x", vec![s("hi")], "6869"),
            ("%X", vec![Int(255)], "FF"),
            ("%#x", vec![Int(255)], "0xff"),
            ("%o %O %b", vec![Int(8), Int(8), Int(5)], "10 0o10 101"),
            (
                "%5d|%-5d|%05d",
                vec![Int(42), Int(42), Int(-42)],
                "   42|42   |-0042",
            ),
            ("%+d %+d", vec![Int(3), Int(-3)], "+3 -3"),
            ("%.3d", vec![Int(7)], "007"),
            (
                "%c %q %U",
                vec![Int(65), Int(65), Int(0x1F600)],
                "A 'A' U+1F600",
            ),
            ("%f", vec![Float(1.5)], "1.500000"),
            ("%.2f", vec![Float(5.4321)], "5.43"),
            ("%8.3f|", vec![Float(-2.5)], "  -2.500|"),
            ("%e", vec![Float(123456.789)], "1.234568e+05"),
            ("%E", vec![Float(0.000123)], "1.230000E-04"),
            ("%v", vec![Float(1.5)], "1.5"),
            ("%v", vec![Float(1e21)], "1e+21"),
            ("%v", vec![Float(1234567.5)], "1.2345675e+06"),
            ("%v", vec![Float(0.0001)], "0.0001"),
            ("%v", vec![Float(0.00001)], "1e-05"),
            ("%g", vec![Float(100000.5)], "100000.5"),
            ("%.3g", vec![Float(5.4321)], "5.43"),
            ("%.3g", vec![Float(1234.0)], "1.23e+03"),
            (
                "%s|%10s|%-4s|%.2s",
                vec![s("x"), s("right"), s("l"), s("abc")],
                "x|     right|l   |ab",
            ),
            ("100%%", vec![], "100%"),
            ("%", vec![], "%!(NOVERB)"),
            ("%[2]v %[1]v", vec![s("a"), s("b")], "b a"),
            ("%[3]v", vec![s("a")], "%!v(BADINDEX)"),
            ("%*d", vec![Int(4), Int(1)], "   1"),
            ("%z", vec![Int(1)], "%!z(int=1)"),
        ];
        for (f, args, want) in cases {
            assert_eq!(go_sprintf(f, &args), want, "format {f:?}");
        }
    }

    #[test]
    fn rego_terms_are_written_as_opa_writes_them() {
        let v = regorus::Value::from(serde_json::json!({
            "b": [1, "x", true, null, 2.5],
            "a": {"k": "v"}
        }));
        assert_eq!(
            rego_term(&v),
            r#"{"a": {"k": "v"}, "b": [1, "x", true, null, 2.5]}"#
        );
        assert_eq!(rego_term(&regorus::Value::new_set()), "set()");
        assert_eq!(go_arg(&regorus::Value::from(true)), s("true"));
        assert_eq!(go_arg(&regorus::Value::from(7i64)), Int(7));
        assert_eq!(go_arg(&regorus::Value::from(0.5f64)), Float(0.5));
    }

    #[test]
    fn the_engine_uses_opas_sprintf() {
        let mut engine = regorus::Engine::new();
        register(&mut engine).expect("register");
        engine
            .add_policy(
                "t.rego".to_string(),
                "package t\nx := sprintf(\"%v <%v> %v\", [\"HPA\", 3])\n".to_string(),
            )
            .expect("policy");
        let v = engine.eval_rule("data.t.x".to_string()).expect("eval");
        assert_eq!(v, regorus::Value::from("HPA <3> %!v(MISSING)"));
    }
}
