//! The CEL environment policies are compiled in: the standard library, cel-go's strings, lists,
//! math and encoders extensions, and Kubernetes' libraries (lists, sets, regex, url, quantity, ip,
//! cidr, semver, format) plus Kyverno's offline ones (image, resource lookups in given objects),
//! written on top of the `cel` crate after the documented semantics of
//! kubernetes/apiserver `pkg/cel/library` and Kyverno's `pkg/cel/libs`.
//!
//! Every function is an overload on the shared [`Env`], so a context per evaluation is cheap.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use cel::common::types::DYN_TYPE;
use cel::common::value::{CowVal, Val};
use cel::objects::{Key, Map, OptionalValue};
use cel::{Env, ExecutionError, Value};

use crate::k8s_types::{Cidr, Image, Ip, Quantity, ResourceLookup, Semver, Url};

type R = Result<Value, ExecutionError>;

/// The shared environment every policy is compiled and evaluated in.
pub fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(build_env())).clone()
}

/// The same environment, one per thread, for evaluations: every evaluation takes a reference to
/// its environment, and threads counting references on one shared `Arc` fight over its cache
/// line (an environment only names functions, so any copy evaluates alike).
pub fn thread_env() -> Arc<Env> {
    thread_local! {
        static ENV: Arc<Env> = Arc::new(build_env());
    }
    ENV.with(Arc::clone)
}

fn build_env() -> Env {
    let mut env = Env::stdlib();
    // cel-go keeps the last of duplicate map keys; Kubernetes does the same.
    env.set_error_on_duplicate_map_keys(false);
    for ext in [
        cel::extensions::strings as fn(&mut Env) -> Result<(), cel::DeclarationError>,
        cel::extensions::lists,
        cel::extensions::math,
        cel::extensions::encoders,
    ] {
        // An extension that clashes with another is a programming error caught by the tests.
        let _ = env.add_extension(ext);
    }
    for (name, member, arities, f) in FUNCTIONS {
        for arity in *arities {
            let id = format!("palisade.{name}.{member}.{arity}");
            let result = if *member {
                env.add_member_overload(
                    name,
                    &id,
                    DYN_TYPE,
                    (0..*arity).map(|_| DYN_TYPE).collect(),
                    *f,
                )
            } else {
                env.add_overload(name, &id, (0..*arity).map(|_| DYN_TYPE).collect(), *f)
            };
            debug_assert!(result.is_ok(), "{name}: {result:?}");
        }
    }
    register_formats(&mut env);
    env
}

type Native = for<'b, 'v> fn(Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError>;

macro_rules! native {
    ($($wrapper:ident => $imp:path),* $(,)?) => {
        $(
            fn $wrapper<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
                let vals = args
                    .iter()
                    .map(|a| Value::try_from(a.as_ref()))
                    .collect::<Result<Vec<_>, _>>()?;
                let out: Value = $imp(&vals)?;
                let boxed: Box<dyn Val> = out.try_into()?;
                Ok(CowVal::Owned(boxed))
            }
        )*
    };
}

native! {
    w_is_sorted => lists_is_sorted, w_sum => lists_sum, w_min => lists_min, w_max => lists_max,
    w_index_of => lists_index_of, w_last_index_of => lists_last_index_of,
    w_sets_contains => sets_contains, w_sets_equivalent => sets_equivalent,
    w_sets_intersects => sets_intersects,
    w_find => regex_find, w_find_all => regex_find_all,
    w_url => url_new, w_is_url => url_is, w_get_scheme => url_get_scheme,
    w_get_host => url_get_host, w_get_hostname => url_get_hostname, w_get_port => url_get_port,
    w_get_escaped_path => url_get_escaped_path, w_get_query => url_get_query,
    w_quantity => quantity_new, w_is_quantity => quantity_is, w_sign => m_sign,
    w_is_integer => m_is_integer, w_as_integer => m_as_integer,
    w_as_approximate_float => m_as_approximate_float, w_add => m_add, w_sub => m_sub,
    w_is_less_than => m_is_less_than, w_is_greater_than => m_is_greater_than,
    w_compare_to => m_compare_to,
    w_ip => ip_new, w_is_ip => ip_is, w_ip_is_canonical => ip_is_canonical, w_family => m_family,
    w_is_unspecified => m_is_unspecified, w_is_loopback => m_is_loopback,
    w_is_link_local_multicast => m_is_link_local_multicast,
    w_is_link_local_unicast => m_is_link_local_unicast, w_is_global_unicast => m_is_global_unicast,
    w_cidr => cidr_new, w_is_cidr => cidr_is, w_contains_ip => m_contains_ip,
    w_contains_cidr => m_contains_cidr, w_masked => m_masked, w_prefix_length => m_prefix_length,
    w_semver => semver_new, w_is_semver => semver_is, w_major => m_major, w_minor => m_minor,
    w_patch => m_patch,
    w_format_named => format_named, w_validate => m_validate,
    w_image => image_new, w_is_image => image_is, w_registry => m_registry,
    w_repository => m_repository, w_tag => m_tag, w_digest => m_digest,
    w_identifier => m_identifier, w_contains_digest => m_contains_digest,
    w_get => m_get, w_list => m_list,
    w_string_of => string_of,
    w_allowed => crate::kyverno_lib::allowed, w_denied => crate::kyverno_lib::denied,
    w_with_body => crate::kyverno_lib::with_body, w_response => crate::kyverno_lib::response,
    w_jwt_decode => crate::kyverno_lib::jwt_decode,
}

/// `x.orValue(d)` (compiled to [`OR_VALUE`]): an optional's value, or `d` when it holds none;
/// any other value back unchanged. Works on the values themselves: an owned optional's value is
/// moved out, a borrowed one's borrowed, neither copied (containers are large).
fn w_or_value<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    use cel::common::types::CelOptional;
    use cel::common::value::Builtin;
    let (Some(default), Some(receiver), None) = (args.pop(), args.pop(), args.pop()) else {
        return Err(err("orValue", "expects one argument"));
    };
    if receiver.downcast_ref::<CelOptional>().is_none() {
        return Ok(receiver);
    }
    match receiver {
        CowVal::Borrowed(r) => Ok(r
            .downcast_ref::<CelOptional>()
            .and_then(|o| o.option())
            .map_or(default, CowVal::Borrowed)),
        CowVal::Owned(b) => match b.into_builtin() {
            Some(Builtin::Optional(o)) => {
                Ok(Option::<Box<dyn Val + 'v>>::from(o).map_or(default, CowVal::Owned))
            }
            _ => Err(err("orValue", "an optional that is not one")),
        },
    }
}

macro_rules! format_ctor {
    ($($wrapper:ident => $name:literal),* $(,)?) => {
        $(
            fn $wrapper<'b, 'v>(_args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
                let boxed: Box<dyn Val> = Value::Opaque(Arc::new(crate::k8s_types::Format($name))).try_into()?;
                Ok(CowVal::Owned(boxed))
            }
        )*
        const FORMAT_CTORS: &[(&str, Native)] = &[$(( concat!("format.", $name), $wrapper as Native )),*];
    };
}

format_ctor! {
    f_dns1123_label => "dns1123Label", f_dns1123_subdomain => "dns1123Subdomain",
    f_dns1035_label => "dns1035Label", f_qualified_name => "qualifiedName",
    f_dns1123_label_prefix => "dns1123LabelPrefix",
    f_dns1123_subdomain_prefix => "dns1123SubdomainPrefix",
    f_dns1035_label_prefix => "dns1035LabelPrefix", f_label_value => "labelValue",
    f_uri => "uri", f_uuid => "uuid", f_byte => "byte", f_date => "date",
    f_datetime => "datetime",
}

type Entry = (&'static str, bool, &'static [usize], Native);

const FUNCTIONS: &[Entry] = &[
    ("isSorted", true, &[0], w_is_sorted),
    ("sum", true, &[0], w_sum),
    ("min", true, &[0], w_min),
    ("max", true, &[0], w_max),
    ("indexOf", true, &[1], w_index_of),
    ("lastIndexOf", true, &[1], w_last_index_of),
    ("sets.contains", false, &[2], w_sets_contains),
    ("sets.equivalent", false, &[2], w_sets_equivalent),
    ("sets.intersects", false, &[2], w_sets_intersects),
    ("find", true, &[1], w_find),
    ("findAll", true, &[1, 2], w_find_all),
    ("url", false, &[1], w_url),
    ("isURL", false, &[1], w_is_url),
    ("getScheme", true, &[0], w_get_scheme),
    ("getHost", true, &[0], w_get_host),
    ("getHostname", true, &[0], w_get_hostname),
    ("getPort", true, &[0], w_get_port),
    ("getEscapedPath", true, &[0], w_get_escaped_path),
    ("getQuery", true, &[0], w_get_query),
    ("quantity", false, &[1], w_quantity),
    ("isQuantity", false, &[1], w_is_quantity),
    ("sign", true, &[0], w_sign),
    ("isInteger", true, &[0], w_is_integer),
    ("asInteger", true, &[0], w_as_integer),
    ("asApproximateFloat", true, &[0], w_as_approximate_float),
    ("add", true, &[1], w_add),
    ("sub", true, &[1], w_sub),
    ("isLessThan", true, &[1], w_is_less_than),
    ("isGreaterThan", true, &[1], w_is_greater_than),
    ("compareTo", true, &[1], w_compare_to),
    ("ip", false, &[1], w_ip),
    ("isIP", false, &[1], w_is_ip),
    ("ip.isCanonical", false, &[1], w_ip_is_canonical),
    ("family", true, &[0], w_family),
    ("isUnspecified", true, &[0], w_is_unspecified),
    ("isLoopback", true, &[0], w_is_loopback),
    (
        "isLinkLocalMulticast",
        true,
        &[0],
        w_is_link_local_multicast,
    ),
    ("isLinkLocalUnicast", true, &[0], w_is_link_local_unicast),
    ("isGlobalUnicast", true, &[0], w_is_global_unicast),
    ("cidr", false, &[1], w_cidr),
    ("isCIDR", false, &[1], w_is_cidr),
    ("containsIP", true, &[1], w_contains_ip),
    ("containsCIDR", true, &[1], w_contains_cidr),
    ("ip", true, &[0], w_ip),
    ("masked", true, &[0], w_masked),
    ("prefixLength", true, &[0], w_prefix_length),
    ("semver", false, &[1, 2], w_semver),
    ("isSemver", false, &[1, 2], w_is_semver),
    ("major", true, &[0], w_major),
    ("minor", true, &[0], w_minor),
    ("patch", true, &[0], w_patch),
    ("format.named", false, &[1], w_format_named),
    ("validate", true, &[1], w_validate),
    ("image", false, &[1], w_image),
    ("isImage", false, &[1], w_is_image),
    ("registry", true, &[0], w_registry),
    ("repository", true, &[0], w_repository),
    ("tag", true, &[0], w_tag),
    ("digest", true, &[0], w_digest),
    ("identifier", true, &[0], w_identifier),
    ("containsDigest", true, &[0], w_contains_digest),
    ("get", true, &[4], w_get),
    ("List", true, &[3], w_list),
    ("string", false, &[1], w_string_of),
    ("envoy.Allowed", false, &[0], w_allowed),
    ("envoy.Denied", false, &[1], w_denied),
    ("http.Allowed", false, &[0], w_allowed),
    ("http.Denied", false, &[1], w_denied),
    ("WithBody", true, &[1], w_with_body),
    ("Response", true, &[0], w_response),
    ("jwt.Decode", false, &[2], w_jwt_decode),
    (OR_VALUE, true, &[1], w_or_value),
];

/// Registers the `format.<name>()` constructors (they take no argument).
pub(crate) fn register_formats(env: &mut Env) {
    for (name, f) in FORMAT_CTORS {
        let _ = env.add_overload(name, &format!("palisade.{name}"), vec![], *f);
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

pub(crate) fn err(function: &str, message: impl ToString) -> ExecutionError {
    ExecutionError::function_error(function, message)
}

fn s<'a>(v: &'a Value, f: &str) -> Result<&'a str, ExecutionError> {
    match v {
        Value::String(s) => Ok(s.as_str()),
        other => Err(err(
            f,
            format!("expected a string, got {:?}", other.type_of()),
        )),
    }
}

fn list<'a>(v: &'a Value, f: &str) -> Result<&'a [Value], ExecutionError> {
    match v {
        Value::List(l) => Ok(l.as_slice()),
        other => Err(err(
            f,
            format!("expected a list, got {:?}", other.type_of()),
        )),
    }
}

fn opaque<T: 'static>(v: &Value) -> Option<&T> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<T>(),
        _ => None,
    }
}

fn op<T: cel::objects::Opaque>(t: T) -> Value {
    Value::Opaque(Arc::new(t))
}

pub(crate) fn optional(v: Option<Value>) -> Value {
    match v {
        Some(v) => op(OptionalValue::of(v)),
        None => op(OptionalValue::none()),
    }
}

fn cmp_values(a: &Value, b: &Value, f: &str) -> Result<std::cmp::Ordering, ExecutionError> {
    a.partial_cmp(b)
        .ok_or_else(|| err(f, "list elements are not comparable"))
}

// ---------------------------------------------------------------------------------------------
// lists and sets

fn lists_is_sorted(a: &[Value]) -> R {
    let l = list(&a[0], "isSorted")?;
    for w in l.windows(2) {
        if cmp_values(&w[0], &w[1], "isSorted")? == std::cmp::Ordering::Greater {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn lists_sum(a: &[Value]) -> R {
    let l = list(&a[0], "sum")?;
    let mut acc = match l.first() {
        None | Some(Value::Int(_)) => Value::Int(0),
        Some(Value::UInt(_)) => Value::UInt(0),
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(Value::Duration(_)) => Value::Duration(chrono::Duration::zero()),
        Some(other) => return Err(err("sum", format!("cannot sum {:?}", other.type_of()))),
    };
    for v in l {
        acc = match (acc, v) {
            (Value::Int(x), Value::Int(y)) => Value::Int(
                x.checked_add(*y)
                    .ok_or_else(|| err("sum", "integer overflow"))?,
            ),
            (Value::UInt(x), Value::UInt(y)) => Value::UInt(
                x.checked_add(*y)
                    .ok_or_else(|| err("sum", "integer overflow"))?,
            ),
            (Value::Float(x), Value::Float(y)) => Value::Float(x + y),
            (Value::Duration(x), Value::Duration(y)) => Value::Duration(x + *y),
            _ => return Err(err("sum", "list elements must all be of one numeric type")),
        };
    }
    Ok(acc)
}

fn extreme(a: &[Value], f: &str, want: std::cmp::Ordering) -> R {
    let l = list(&a[0], f)?;
    let mut best = l
        .first()
        .ok_or_else(|| err(f, format!("{f} called on empty list")))?;
    for v in &l[1..] {
        if cmp_values(v, best, f)? == want {
            best = v;
        }
    }
    Ok(best.clone())
}

fn lists_min(a: &[Value]) -> R {
    extreme(a, "min", std::cmp::Ordering::Less)
}

fn lists_max(a: &[Value]) -> R {
    extreme(a, "max", std::cmp::Ordering::Greater)
}

fn lists_index_of(a: &[Value]) -> R {
    let l = list(&a[0], "indexOf")?;
    Ok(Value::Int(
        l.iter().position(|v| v == &a[1]).map_or(-1, |i| i as i64),
    ))
}

fn lists_last_index_of(a: &[Value]) -> R {
    let l = list(&a[0], "lastIndexOf")?;
    Ok(Value::Int(
        l.iter().rposition(|v| v == &a[1]).map_or(-1, |i| i as i64),
    ))
}

fn sets_contains(a: &[Value]) -> R {
    let (x, y) = (list(&a[0], "sets.contains")?, list(&a[1], "sets.contains")?);
    Ok(Value::Bool(y.iter().all(|v| x.contains(v))))
}

fn sets_equivalent(a: &[Value]) -> R {
    let (x, y) = (
        list(&a[0], "sets.equivalent")?,
        list(&a[1], "sets.equivalent")?,
    );
    Ok(Value::Bool(
        y.iter().all(|v| x.contains(v)) && x.iter().all(|v| y.contains(v)),
    ))
}

fn sets_intersects(a: &[Value]) -> R {
    let (x, y) = (
        list(&a[0], "sets.intersects")?,
        list(&a[1], "sets.intersects")?,
    );
    Ok(Value::Bool(y.iter().any(|v| x.contains(v))))
}

// ---------------------------------------------------------------------------------------------
// regex

fn compile_regex(pattern: &str, f: &str) -> Result<regex::Regex, ExecutionError> {
    regex::Regex::new(pattern).map_err(|e| err(f, e))
}

fn regex_find(a: &[Value]) -> R {
    let re = compile_regex(s(&a[1], "find")?, "find")?;
    Ok(Value::from(
        re.find(s(&a[0], "find")?)
            .map_or(String::new(), |m| m.as_str().to_string()),
    ))
}

fn regex_find_all(a: &[Value]) -> R {
    let re = compile_regex(s(&a[1], "findAll")?, "findAll")?;
    let limit = match a.get(2) {
        Some(Value::Int(n)) if *n >= 0 => *n as usize,
        Some(Value::Int(_)) | None => usize::MAX,
        Some(_) => return Err(err("findAll", "limit must be an int")),
    };
    let found: Vec<Value> = re
        .find_iter(s(&a[0], "findAll")?)
        .take(limit)
        .map(|m| Value::from(m.as_str().to_string()))
        .collect();
    Ok(Value::List(Arc::new(found)))
}

// ---------------------------------------------------------------------------------------------
// url

fn url_new(a: &[Value]) -> R {
    Url::parse(s(&a[0], "url")?)
        .map(op)
        .map_err(|e| err("url", e))
}

fn url_is(a: &[Value]) -> R {
    Ok(Value::Bool(Url::parse(s(&a[0], "isURL")?).is_ok()))
}

fn the_url<'a>(v: &'a Value, f: &str) -> Result<&'a Url, ExecutionError> {
    opaque::<Url>(v).ok_or_else(|| err(f, "expected a URL"))
}

fn url_get_scheme(a: &[Value]) -> R {
    Ok(Value::from(the_url(&a[0], "getScheme")?.scheme.clone()))
}

fn url_get_host(a: &[Value]) -> R {
    Ok(Value::from(the_url(&a[0], "getHost")?.host.clone()))
}

fn url_get_hostname(a: &[Value]) -> R {
    Ok(Value::from(the_url(&a[0], "getHostname")?.hostname()))
}

fn url_get_port(a: &[Value]) -> R {
    Ok(Value::from(the_url(&a[0], "getPort")?.port()))
}

fn url_get_escaped_path(a: &[Value]) -> R {
    Ok(Value::from(
        the_url(&a[0], "getEscapedPath")?.escaped_path(),
    ))
}

fn url_get_query(a: &[Value]) -> R {
    let u = the_url(&a[0], "getQuery")?;
    let mut m: HashMap<Key, Value> = HashMap::new();
    for (k, vs) in u.query_pairs() {
        let vs = vs.into_iter().map(Value::from).collect::<Vec<_>>();
        m.insert(Key::String(Arc::new(k)), Value::List(Arc::new(vs)));
    }
    Ok(Value::Map(Map { map: Arc::new(m) }))
}

// ---------------------------------------------------------------------------------------------
// quantity and semver (shared comparison members)

fn quantity_new(a: &[Value]) -> R {
    Quantity::parse(s(&a[0], "quantity")?)
        .map(op)
        .map_err(|e| err("quantity", e))
}

fn quantity_is(a: &[Value]) -> R {
    Ok(Value::Bool(
        Quantity::parse(s(&a[0], "isQuantity")?).is_ok(),
    ))
}

fn the_quantity<'a>(v: &'a Value, f: &str) -> Result<&'a Quantity, ExecutionError> {
    opaque::<Quantity>(v).ok_or_else(|| err(f, "expected a quantity"))
}

fn m_sign(a: &[Value]) -> R {
    Ok(Value::Int(the_quantity(&a[0], "sign")?.sign()))
}

fn m_is_integer(a: &[Value]) -> R {
    Ok(Value::Bool(
        the_quantity(&a[0], "isInteger")?.as_i64().is_some(),
    ))
}

fn m_as_integer(a: &[Value]) -> R {
    the_quantity(&a[0], "asInteger")?
        .as_i64()
        .map(Value::Int)
        .ok_or_else(|| err("asInteger", "cannot convert value to integer"))
}

fn m_as_approximate_float(a: &[Value]) -> R {
    Ok(Value::Float(
        the_quantity(&a[0], "asApproximateFloat")?.as_f64(),
    ))
}

fn quantity_operand(v: &Value, f: &str) -> Result<Quantity, ExecutionError> {
    match v {
        Value::Int(i) => Ok(Quantity::from_int(*i)),
        other => Ok(the_quantity(other, f)?.clone()),
    }
}

fn m_add(a: &[Value]) -> R {
    let x = the_quantity(&a[0], "add")?;
    let y = quantity_operand(&a[1], "add")?;
    x.add(&y).map(op).map_err(|e| err("add", e))
}

fn m_sub(a: &[Value]) -> R {
    let x = the_quantity(&a[0], "sub")?;
    let y = quantity_operand(&a[1], "sub")?.neg();
    x.add(&y).map(op).map_err(|e| err("sub", e))
}

fn compare(a: &[Value], f: &str) -> Result<std::cmp::Ordering, ExecutionError> {
    if let (Some(x), Some(y)) = (opaque::<Quantity>(&a[0]), opaque::<Quantity>(&a[1])) {
        return Ok(x.cmp(y));
    }
    if let (Some(x), Some(y)) = (opaque::<Semver>(&a[0]), opaque::<Semver>(&a[1])) {
        return Ok(x.cmp(y));
    }
    Err(err(f, "expected two quantities or two semantic versions"))
}

fn m_is_less_than(a: &[Value]) -> R {
    Ok(Value::Bool(compare(a, "isLessThan")?.is_lt()))
}

fn m_is_greater_than(a: &[Value]) -> R {
    Ok(Value::Bool(compare(a, "isGreaterThan")?.is_gt()))
}

fn m_compare_to(a: &[Value]) -> R {
    Ok(Value::Int(compare(a, "compareTo")? as i64))
}

fn semver_new(a: &[Value]) -> R {
    let normalize = matches!(a.get(1), Some(Value::Bool(true)));
    Semver::parse(s(&a[0], "semver")?, normalize)
        .map(op)
        .map_err(|e| err("semver", e))
}

fn semver_is(a: &[Value]) -> R {
    let normalize = matches!(a.get(1), Some(Value::Bool(true)));
    Ok(Value::Bool(
        Semver::parse(s(&a[0], "isSemver")?, normalize).is_ok(),
    ))
}

fn the_semver<'a>(v: &'a Value, f: &str) -> Result<&'a Semver, ExecutionError> {
    opaque::<Semver>(v).ok_or_else(|| err(f, "expected a semantic version"))
}

fn m_major(a: &[Value]) -> R {
    Ok(Value::Int(the_semver(&a[0], "major")?.major as i64))
}

fn m_minor(a: &[Value]) -> R {
    Ok(Value::Int(the_semver(&a[0], "minor")?.minor as i64))
}

fn m_patch(a: &[Value]) -> R {
    Ok(Value::Int(the_semver(&a[0], "patch")?.patch as i64))
}

// ---------------------------------------------------------------------------------------------
// ip and cidr

fn ip_new(a: &[Value]) -> R {
    if let Some(c) = opaque::<Cidr>(&a[0]) {
        return Ok(op(Ip(c.addr)));
    }
    Ip::parse(s(&a[0], "ip")?).map(op).map_err(|e| err("ip", e))
}

fn ip_is(a: &[Value]) -> R {
    Ok(Value::Bool(Ip::parse(s(&a[0], "isIP")?).is_ok()))
}

fn ip_is_canonical(a: &[Value]) -> R {
    let text = s(&a[0], "ip.isCanonical")?;
    let ip = Ip::parse(text).map_err(|e| err("ip.isCanonical", e))?;
    Ok(Value::Bool(ip.0.to_string() == text))
}

fn the_ip<'a>(v: &'a Value, f: &str) -> Result<&'a Ip, ExecutionError> {
    opaque::<Ip>(v).ok_or_else(|| err(f, "expected an IP address"))
}

fn m_family(a: &[Value]) -> R {
    Ok(Value::Int(if the_ip(&a[0], "family")?.0.is_ipv4() {
        4
    } else {
        6
    }))
}

fn m_is_unspecified(a: &[Value]) -> R {
    Ok(Value::Bool(
        the_ip(&a[0], "isUnspecified")?.0.is_unspecified(),
    ))
}

fn m_is_loopback(a: &[Value]) -> R {
    Ok(Value::Bool(the_ip(&a[0], "isLoopback")?.0.is_loopback()))
}

fn m_is_link_local_multicast(a: &[Value]) -> R {
    Ok(Value::Bool(
        the_ip(&a[0], "isLinkLocalMulticast")?.is_link_local_multicast(),
    ))
}

fn m_is_link_local_unicast(a: &[Value]) -> R {
    Ok(Value::Bool(
        the_ip(&a[0], "isLinkLocalUnicast")?.is_link_local_unicast(),
    ))
}

fn m_is_global_unicast(a: &[Value]) -> R {
    Ok(Value::Bool(
        the_ip(&a[0], "isGlobalUnicast")?.is_global_unicast(),
    ))
}

fn cidr_new(a: &[Value]) -> R {
    Cidr::parse(s(&a[0], "cidr")?)
        .map(op)
        .map_err(|e| err("cidr", e))
}

fn cidr_is(a: &[Value]) -> R {
    Ok(Value::Bool(Cidr::parse(s(&a[0], "isCIDR")?).is_ok()))
}

fn the_cidr<'a>(v: &'a Value, f: &str) -> Result<&'a Cidr, ExecutionError> {
    opaque::<Cidr>(v).ok_or_else(|| err(f, "expected a CIDR"))
}

fn m_contains_ip(a: &[Value]) -> R {
    let c = the_cidr(&a[0], "containsIP")?;
    let ip = match &a[1] {
        Value::String(t) => Ip::parse(t).map_err(|e| err("containsIP", e))?,
        other => the_ip(other, "containsIP")?.clone(),
    };
    Ok(Value::Bool(c.contains_ip(&ip)))
}

fn m_contains_cidr(a: &[Value]) -> R {
    let c = the_cidr(&a[0], "containsCIDR")?;
    let other = match &a[1] {
        Value::String(t) => Cidr::parse(t).map_err(|e| err("containsCIDR", e))?,
        other => the_cidr(other, "containsCIDR")?.clone(),
    };
    Ok(Value::Bool(c.contains_cidr(&other)))
}

fn m_masked(a: &[Value]) -> R {
    Ok(op(the_cidr(&a[0], "masked")?.masked()))
}

fn m_prefix_length(a: &[Value]) -> R {
    Ok(Value::Int(the_cidr(&a[0], "prefixLength")?.prefix as i64))
}

// ---------------------------------------------------------------------------------------------
// format

fn format_named(a: &[Value]) -> R {
    let name = s(&a[0], "format.named")?;
    Ok(optional(
        crate::k8s_types::Format::named(name).map(|f| op(crate::k8s_types::Format(f))),
    ))
}

fn m_validate(a: &[Value]) -> R {
    let f = opaque::<crate::k8s_types::Format>(&a[0])
        .ok_or_else(|| err("validate", "expected a format"))?;
    let errors = f.validate(s(&a[1], "validate")?);
    Ok(optional(if errors.is_empty() {
        None
    } else {
        Some(Value::List(Arc::new(
            errors.into_iter().map(Value::from).collect(),
        )))
    }))
}

// ---------------------------------------------------------------------------------------------
// Kyverno: image, resource lookups

fn image_new(a: &[Value]) -> R {
    Image::parse(s(&a[0], "image")?)
        .map(op)
        .map_err(|e| err("image", e))
}

fn image_is(a: &[Value]) -> R {
    Ok(Value::Bool(Image::parse(s(&a[0], "isImage")?).is_ok()))
}

fn the_image<'a>(v: &'a Value, f: &str) -> Result<&'a Image, ExecutionError> {
    opaque::<Image>(v).ok_or_else(|| err(f, "expected an image reference"))
}

fn m_registry(a: &[Value]) -> R {
    Ok(Value::from(the_image(&a[0], "registry")?.registry.clone()))
}

fn m_repository(a: &[Value]) -> R {
    Ok(Value::from(
        the_image(&a[0], "repository")?.repository.clone(),
    ))
}

fn m_tag(a: &[Value]) -> R {
    Ok(Value::from(the_image(&a[0], "tag")?.tag.clone()))
}

fn m_digest(a: &[Value]) -> R {
    Ok(Value::from(the_image(&a[0], "digest")?.digest.clone()))
}

fn m_identifier(a: &[Value]) -> R {
    Ok(Value::from(the_image(&a[0], "identifier")?.identifier()))
}

fn m_contains_digest(a: &[Value]) -> R {
    Ok(Value::Bool(
        !the_image(&a[0], "containsDigest")?.digest.is_empty(),
    ))
}

fn m_get(a: &[Value]) -> R {
    let lookup = opaque::<ResourceLookup>(&a[0]).ok_or_else(|| {
        err(
            "get",
            "no such overload (get is resource.get(apiVersion, resource, namespace, name))",
        )
    })?;
    let text = |i: usize| s(&a[i], "resource.get");
    lookup
        .get(text(1)?, text(2)?, text(3)?, text(4)?)
        .ok_or_else(|| {
            err(
                "resource.get",
                format!(
                    "{} {}/{} not found in the given context",
                    text(2).unwrap_or(""),
                    text(3).unwrap_or(""),
                    text(4).unwrap_or("")
                ),
            )
        })
}

fn m_list(a: &[Value]) -> R {
    let lookup = opaque::<ResourceLookup>(&a[0]).ok_or_else(|| err("List", "no such overload"))?;
    let text = |i: usize| s(&a[i], "resource.List");
    Ok(lookup.list(text(1)?, text(2)?, text(3)?))
}

/// The name `.orValue(` calls are compiled to (see [`lenient_source`]).
pub const OR_VALUE: &str = "palisadeOrValue";

/// The source as compiled: `.orValue(` calls outside string literals go to [`OR_VALUE`], which
/// behaves as `orValue` on optionals and gives any other value back unchanged.
pub fn lenient_source(src: &str) -> std::borrow::Cow<'_, str> {
    if !src.contains(".orValue(") {
        return std::borrow::Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len() + 16);
    let mut quote: Option<char> = None;
    let mut chars = src.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' {
                    if let Some((_, n)) = chars.next() {
                        out.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    out.push(c);
                } else if c == '.' && src[i..].starts_with(".orValue(") {
                    out.push('.');
                    out.push_str(OR_VALUE);
                    for _ in 0..".orValue".len() - 1 {
                        chars.next();
                    }
                } else {
                    out.push(c);
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `x.orValue(d)` on a value that is not optional is the value itself: cel-go reaches such calls
/// only on branches that Kyverno's libraries give results for, and the policies rely on it.
fn string_of(a: &[Value]) -> R {
    if let Some(q) = opaque::<Quantity>(&a[0]) {
        return Ok(Value::from(q.text.clone()));
    }
    if let Some(ip) = opaque::<Ip>(&a[0]) {
        return Ok(Value::from(ip.0.to_string()));
    }
    if let Some(c) = opaque::<Cidr>(&a[0]) {
        return Ok(Value::from(c.to_string()));
    }
    if let Some(v) = opaque::<Semver>(&a[0]) {
        return Ok(Value::from(v.to_string()));
    }
    if let Some(u) = opaque::<Url>(&a[0]) {
        return Ok(Value::from(u.text.clone()));
    }
    Err(err("string", "no such overload"))
}
