//! The values behind Kubernetes' and Kyverno's CEL library types: quantities, IP addresses,
//! CIDRs, semantic versions, URLs, named formats, image references and the read-only resource
//! lookups a test's context provides. Each follows the upstream documented semantics.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use cel::objects::{Key, Map, Opaque};
use cel::Value;

macro_rules! opaque {
    ($t:ty, $name:literal) => {
        impl Opaque for $t {
            fn runtime_type_name(&self) -> &str {
                $name
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// quantity: resource.Quantity (e.g. "100m", "1.5Gi", "1e3")

/// An exact quantity: `mantissa * 10^exp10 * 2^exp2`, kept with its text.
#[derive(Debug, Clone)]
pub struct Quantity {
    pub text: String,
    /// The value as an exact rational num / den (den a power of ten), saturating far beyond any
    /// value Kubernetes accepts.
    num: i128,
    den: i128,
    /// Set when the value is beyond i128 (Kubernetes parses such quantities with arbitrary
    /// precision): `num` is then saturated and this is the value as a float.
    huge: Option<f64>,
}

opaque!(Quantity, "kubernetes.Quantity");

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.num.saturating_mul(other.den);
        let b = other.num.saturating_mul(self.den);
        a.cmp(&b)
    }
}

impl Quantity {
    /// Parses the Kubernetes quantity grammar: sign, digits with an optional fraction, then a
    /// binary suffix (Ki..Ei), a decimal suffix (n, u, m, "", k, M, G, T, P, E) or an exponent.
    pub fn parse(text: &str) -> Result<Quantity, String> {
        let bad = || {
            format!("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text:?}")
        };
        let t = text.trim();
        if t.is_empty() || t != text {
            return Err(bad());
        }
        let (neg, rest) = match t.as_bytes()[0] {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (digits, suffix) = rest.split_at(num_end);
        if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 {
            return Err(bad());
        }
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        // None once the digits no longer fit: the value is then kept saturated (see `huge`).
        let mut num: Option<i128> = Some(0);
        for c in int_part.chars().chain(frac_part.chars()) {
            num = num
                .and_then(|n| n.checked_mul(10))
                .and_then(|n| n.checked_add(i128::from(c as u8 - b'0')));
        }
        let mut exp10: i32 = -(frac_part.len() as i32);
        let mut mul: i128 = 1;
        match suffix {
            "" => {}
            "Ki" => mul = 1 << 10,
            "Mi" => mul = 1 << 20,
            "Gi" => mul = 1 << 30,
            "Ti" => mul = 1 << 40,
            "Pi" => mul = 1 << 50,
            "Ei" => mul = 1 << 60,
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            s if s.starts_with(['e', 'E']) => {
                let e: i32 = s[1..].parse().map_err(|_| bad())?;
                if s[1..].is_empty() || !(-40..=40).contains(&e) {
                    return Err(bad());
                }
                exp10 += e;
            }
            _ => return Err(bad()),
        }
        let mut den: i128 = 1;
        let mut num = num.and_then(|n| n.checked_mul(mul));
        if exp10 >= 0 {
            num = num.and_then(|n| n.checked_mul(10i128.checked_pow(exp10 as u32)?));
        } else {
            match 10i128.checked_pow((-exp10) as u32) {
                Some(d) => den = d,
                None => return Err(bad()),
            }
        }
        let Some(mut num) = num else {
            // Beyond i128: as Kubernetes, still a quantity, just not an integer.
            let approx = format!("{int_part}{frac_part}")
                .parse::<f64>()
                .unwrap_or(f64::INFINITY)
                * mul as f64
                * 10f64.powi(exp10);
            return Ok(Quantity {
                text: text.to_string(),
                num: if neg { i128::MIN } else { i128::MAX },
                den: 1,
                huge: Some(if neg { -approx } else { approx }),
            });
        };
        if neg {
            num = -num;
        }
        Ok(Quantity {
            text: text.to_string(),
            num,
            den,
            huge: None,
        }
        .reduced())
    }

    fn reduced(mut self) -> Self {
        while self.den > 1 && self.num % 10 == 0 {
            self.num /= 10;
            self.den /= 10;
        }
        self
    }

    pub fn from_int(i: i64) -> Quantity {
        Quantity {
            text: i.to_string(),
            num: i128::from(i),
            den: 1,
            huge: None,
        }
    }

    pub fn sign(&self) -> i64 {
        self.num.signum() as i64
    }

    pub fn as_i64(&self) -> Option<i64> {
        if self.den != 1 || self.huge.is_some() {
            return None;
        }
        i64::try_from(self.num).ok()
    }

    pub fn as_f64(&self) -> f64 {
        if let Some(f) = self.huge {
            return f;
        }
        self.num as f64 / self.den as f64
    }

    pub fn neg(&self) -> Quantity {
        Quantity {
            text: format!("-{}", self.text),
            num: self.num.saturating_neg(),
            den: self.den,
            huge: self.huge.map(|f| -f),
        }
    }

    pub fn add(&self, other: &Quantity) -> Result<Quantity, String> {
        if self.huge.is_some() || other.huge.is_some() {
            return Err("quantity overflow".to_string());
        }
        let den = self.den.max(other.den);
        let a = self.num.checked_mul(den / self.den);
        let b = other.num.checked_mul(den / other.den);
        let num = a
            .zip(b)
            .and_then(|(a, b)| a.checked_add(b))
            .ok_or("quantity overflow")?;
        let q = Quantity {
            text: String::new(),
            num,
            den,
            huge: None,
        }
        .reduced();
        let text = q.canonical();
        Ok(Quantity { text, ..q })
    }

    fn canonical(&self) -> String {
        if self.den == 1 {
            return self.num.to_string();
        }
        // A decimal with as many fraction digits as the denominator has zeros.
        let places = self.den.ilog10() as usize;
        let sign = if self.num < 0 { "-" } else { "" };
        let abs = self.num.unsigned_abs();
        let int = abs / self.den as u128;
        let frac = abs % self.den as u128;
        format!("{sign}{int}.{frac:0places$}")
    }
}

// ---------------------------------------------------------------------------------------------
// ip and cidr

/// An IP address as Kubernetes' `ip()` accepts it: no zones, no IPv4-mapped IPv6, no leading
/// zeros in IPv4 octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip(pub IpAddr);

opaque!(Ip, "net.IP");

impl Ip {
    pub fn parse(text: &str) -> Result<Ip, String> {
        if text.contains('%') {
            return Err(format!("IP address with zone value is not allowed: {text}"));
        }
        let addr: IpAddr = text.parse().map_err(|_| {
            format!("IP Address {text:?} parse error during conversion from string")
        })?;
        if let IpAddr::V6(v6) = addr {
            if v6.to_ipv4_mapped().is_some() && text.contains('.') {
                return Err(format!("IPv4-mapped IPv6 address is not allowed: {text}"));
            }
        }
        Ok(Ip(addr))
    }

    pub fn is_link_local_multicast(&self) -> bool {
        match self.0 {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                o[0] == 224 && o[1] == 0 && o[2] == 0
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                s[0] & 0xff0f == 0xff02
            }
        }
    }

    pub fn is_link_local_unicast(&self) -> bool {
        match self.0 {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
        }
    }

    /// Go's `IsGlobalUnicast`: not unspecified, loopback, multicast, link-local or broadcast.
    pub fn is_global_unicast(&self) -> bool {
        match self.0 {
            IpAddr::V4(v4) => {
                !(v4.is_unspecified()
                    || v4.is_loopback()
                    || v4.is_multicast()
                    || v4.is_link_local()
                    || v4.is_broadcast())
            }
            IpAddr::V6(v6) => {
                !(v6.is_unspecified()
                    || v6.is_loopback()
                    || v6.is_multicast()
                    || self.is_link_local_unicast())
            }
        }
    }
}

/// A CIDR as Kubernetes' `cidr()` accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

opaque!(Cidr, "net.IPPrefix");

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = text.split_once('/').ok_or_else(|| {
            format!("network address parse error during conversion from string: no '/' in {text:?}")
        })?;
        let ip = Ip::parse(addr)?;
        let max = if ip.0.is_ipv4() { 32 } else { 128 };
        if prefix.is_empty() || prefix.len() > 3 || (prefix.len() > 1 && prefix.starts_with('0')) {
            return Err(format!(
                "network address parse error: bad prefix length {prefix:?}"
            ));
        }
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("network address parse error: bad prefix length {prefix:?}"))?;
        if prefix > max {
            return Err(format!(
                "network address parse error: prefix length {prefix} too long"
            ));
        }
        Ok(Cidr { addr: ip.0, prefix })
    }

    fn bits(addr: &IpAddr) -> (u128, u32) {
        match addr {
            IpAddr::V4(v4) => (u128::from(u32::from(*v4)), 32),
            IpAddr::V6(v6) => (u128::from(*v6), 128),
        }
    }

    fn mask(prefix: u8, width: u32) -> u128 {
        if prefix == 0 {
            0
        } else {
            let all = if width == 128 {
                u128::MAX
            } else {
                (1u128 << width) - 1
            };
            all & !((1u128 << (width - u32::from(prefix))) - 1)
        }
    }

    pub fn contains_ip(&self, ip: &Ip) -> bool {
        let (a, wa) = Self::bits(&self.addr);
        let (b, wb) = Self::bits(&ip.0);
        if wa != wb {
            return false;
        }
        let m = Self::mask(self.prefix, wa);
        a & m == b & m
    }

    pub fn contains_cidr(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains_ip(&Ip(other.addr))
    }

    pub fn masked(&self) -> Cidr {
        let (a, w) = Self::bits(&self.addr);
        let m = a & Self::mask(self.prefix, w);
        let addr = if w == 32 {
            IpAddr::V4(std::net::Ipv4Addr::from(m as u32))
        } else {
            IpAddr::V6(std::net::Ipv6Addr::from(m))
        };
        Cidr {
            addr,
            prefix: self.prefix,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// semver

/// A semantic version 2.0.0 (pre-release ordering included; build metadata ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semver {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<String>,
    pub build: String,
}

opaque!(Semver, "kubernetes.Semver");

impl fmt::Display for Semver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre.join("."))?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

impl PartialOrd for Semver {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Semver {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = match (a.parse::<u64>(), b.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => a.cmp(b),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

impl Semver {
    /// Parses `MAJOR.MINOR.PATCH[-pre][+build]`; with `normalize`, a leading `v` and missing
    /// minor or patch (`v1.2` is 1.2.0) are accepted, and leading zeros dropped, as
    /// Kubernetes' `semver(s, true)`.
    pub fn parse(text: &str, normalize: bool) -> Result<Semver, String> {
        let bad = |why: &str| format!("invalid semantic version {text:?}: {why}");
        let mut t = text;
        if normalize {
            t = t.strip_prefix('v').unwrap_or(t);
        }
        let (t, build) = t.split_once('+').unwrap_or((t, ""));
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (t, None),
        };
        let mut parts: Vec<&str> = core.split('.').collect();
        if normalize {
            while parts.len() < 3 {
                parts.push("0");
            }
        }
        if parts.len() != 3 {
            return Err(bad("expected MAJOR.MINOR.PATCH"));
        }
        let mut nums = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("non-numeric version part"));
            }
            if !normalize && p.len() > 1 && p.starts_with('0') {
                return Err(bad("leading zero"));
            }
            nums[i] = p.parse().map_err(|_| bad("number too large"))?;
        }
        let pre: Vec<String> = match pre {
            None => Vec::new(),
            Some(p) => {
                let ids: Vec<String> = p.split('.').map(str::to_string).collect();
                for id in &ids {
                    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    {
                        return Err(bad("invalid pre-release identifier"));
                    }
                    if id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(bad("leading zero in pre-release"));
                    }
                }
                ids
            }
        };
        if !build.is_empty()
            && !build.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        {
            return Err(bad("invalid build metadata"));
        }
        Ok(Semver {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
            build: build.to_string(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// url

/// A URL as Go's `url.ParseRequestURI` accepts it (absolute URL or absolute path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub text: String,
    pub scheme: String,
    pub host: String,
    pub path: String,
    pub query: String,
}

opaque!(Url, "net.URL");

impl Url {
    pub fn parse(text: &str) -> Result<Url, String> {
        let bad = |why: &str| format!("URL {text:?} is not a valid request URI: {why}");
        // Go refuses control bytes anywhere; a space only in the host (the path escapes it).
        if text.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(bad("invalid control character"));
        }
        let (rest, query) = text.split_once('?').unwrap_or((text, ""));
        let (scheme, host, path) = if rest.starts_with('/') {
            (String::new(), String::new(), rest.to_string())
        } else {
            let (scheme, after) = rest.split_once(':').ok_or_else(|| bad("missing scheme"))?;
            let mut chars = scheme.chars();
            if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            {
                return Err(bad("invalid scheme"));
            }
            match after.strip_prefix("//") {
                Some(auth_path) => {
                    let (auth, path) = match auth_path.find('/') {
                        Some(i) => auth_path.split_at(i),
                        None => (auth_path, ""),
                    };
                    let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
                    (scheme.to_string(), host.to_string(), path.to_string())
                }
                None => (scheme.to_string(), String::new(), after.to_string()),
            }
        };
        // Go's parser refuses a `%` in the path that does not start an escape.
        let pb = path.as_bytes();
        if let Some(i) = (0..pb.len()).find(|&i| {
            pb[i] == b'%'
                && !(i + 2 < pb.len()
                    && pb[i + 1].is_ascii_hexdigit()
                    && pb[i + 2].is_ascii_hexdigit())
        }) {
            let end = (i + 3).min(pb.len());
            return Err(bad(&format!(
                "invalid URL escape {:?}",
                String::from_utf8_lossy(&pb[i..end])
            )));
        }
        if host.contains(' ') {
            return Err(bad("invalid character \" \" in host name"));
        }
        Ok(Url {
            text: text.to_string(),
            scheme,
            host,
            path,
            query: query.to_string(),
        })
    }

    pub fn hostname(&self) -> String {
        if let Some(rest) = self.host.strip_prefix('[') {
            return rest.split(']').next().unwrap_or("").to_string();
        }
        self.host
            .rsplit_once(':')
            .map_or(self.host.clone(), |(h, _)| h.to_string())
    }

    pub fn port(&self) -> String {
        let after = match self.host.rfind(']') {
            Some(i) => &self.host[i + 1..],
            None => self.host.as_str(),
        };
        after
            .rsplit_once(':')
            .map_or(String::new(), |(_, p)| p.to_string())
    }

    /// The path as Go's `URL.EscapedPath` gives it: as written when that is a valid encoding,
    /// else decoded and escaped again (a space becomes `%20`).
    pub fn escaped_path(&self) -> String {
        let keep = |b: u8| b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b);
        let valid = self
            .path
            .bytes()
            .all(|b| keep(b) || b"!'()*[]%".contains(&b));
        if valid {
            return self.path.clone();
        }
        let mut out = String::with_capacity(self.path.len() + 8);
        for b in percent_decode(&self.path, false) {
            if keep(b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    pub fn query_pairs(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for pair in self.query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (unescape(k), unescape(v));
            match out.iter_mut().find(|(key, _)| *key == k) {
                Some((_, vs)) => vs.push(v),
                None => out.push((k, vec![v])),
            }
        }
        out
    }
}

fn unescape(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode(s, true)).into_owned()
}

/// Percent-decoding on bytes (a `%` not followed by two hex digits stays), `+` as a space in
/// queries.
fn percent_decode(s: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// format

/// A named format of Kubernetes' format library (`format.dns1123Label()`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format(pub &'static str);

opaque!(Format, "kubernetes.NamedFormat");

const FORMATS: &[&str] = &[
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
];

fn dns_label(s: &str, first_alpha: bool, max: usize, prefix: bool) -> Vec<String> {
    let mut errs = Vec::new();
    let len_ok = s.len() <= max;
    if !len_ok {
        errs.push(format!("must be no more than {max} characters"));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || (!first_alpha && c.is_ascii_digit()));
    let last_ok = prefix
        || s.chars()
            .last()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if s.is_empty() || !s.chars().all(ok_char) || !first_ok || !last_ok {
        errs.push(if first_alpha {
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character".to_string()
        } else {
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character".to_string()
        });
    }
    errs
}

fn dns_subdomain(s: &str, prefix: bool) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    let t = if prefix {
        s.trim_end_matches(['-', '.'])
    } else {
        s
    };
    let valid = !t.is_empty()
        && t.split('.')
            .all(|l| dns_label(l, false, 63, false).is_empty());
    if !valid || (prefix && s.is_empty()) {
        errs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character".to_string());
    }
    errs
}

fn qualified_name(s: &str) -> Vec<String> {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let mut errs = Vec::new();
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".to_string());
        } else {
            errs.extend(
                dns_subdomain(p, false)
                    .into_iter()
                    .map(|e| format!("prefix part {e}")),
            );
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if !name.is_empty()
        && (!name.chars().all(ok)
            || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !name.ends_with(|c: char| c.is_ascii_alphanumeric()))
    {
        errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character".to_string());
    }
    errs
}

impl Format {
    pub fn named(name: &str) -> Option<&'static str> {
        FORMATS.iter().copied().find(|f| *f == name)
    }

    pub fn validate(&self, s: &str) -> Vec<String> {
        match self.0 {
            "dns1123Label" => dns_label(s, false, 63, false),
            "dns1123LabelPrefix" => dns_label(s, false, 63, true),
            "dns1035Label" => dns_label(s, true, 63, false),
            "dns1035LabelPrefix" => dns_label(s, true, 63, true),
            "dns1123Subdomain" => dns_subdomain(s, false),
            "dns1123SubdomainPrefix" => dns_subdomain(s, true),
            "qualifiedName" => qualified_name(s),
            "labelValue" => {
                if s.is_empty() {
                    Vec::new()
                } else {
                    qualified_name(s)
                        .into_iter()
                        .map(|e| e.replace("name part ", ""))
                        .collect::<Vec<_>>()
                        .into_iter()
                        .chain(s.contains('/').then(|| "must not contain '/'".to_string()))
                        .collect()
                }
            }
            "uri" => match Url::parse(s) {
                Ok(_) => Vec::new(),
                Err(e) => vec![e],
            },
            "uuid" => {
                let ok = s.len() == 36
                    && s.char_indices().all(|(i, c)| {
                        if [8, 13, 18, 23].contains(&i) {
                            c == '-'
                        } else {
                            c.is_ascii_hexdigit()
                        }
                    });
                if ok {
                    Vec::new()
                } else {
                    vec!["does not match the UUID format".to_string()]
                }
            }
            "byte" => {
                use base64::Engine;
                match base64::engine::general_purpose::STANDARD.decode(s) {
                    Ok(_) => Vec::new(),
                    Err(_) => vec!["invalid base64".to_string()],
                }
            }
            "date" => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(_) => Vec::new(),
                Err(_) => vec!["invalid date".to_string()],
            },
            "datetime" => match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(_) => Vec::new(),
                Err(_) => vec!["invalid datetime".to_string()],
            },
            _ => vec![format!("unknown format {}", self.0)],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Kyverno image

/// An image reference parsed as Kyverno's `image()` (Docker's reference grammar, with Docker
/// Hub's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
}

opaque!(Image, "kyverno.Image");

impl Image {
    pub fn parse(text: &str) -> Result<Image, String> {
        let bad = |why: &str| format!("invalid image reference {text:?}: {why}");
        if text.is_empty() || text.contains(char::is_whitespace) {
            return Err(bad("empty or contains spaces"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((r, d)) => {
                if !d.contains(':') {
                    return Err(bad("invalid digest"));
                }
                (r, d.to_string())
            }
            None => (text, String::new()),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], rest[i + 1..].to_string()),
            _ => (rest, String::new()),
        };
        if name.is_empty() || name != name.to_lowercase() && !name.contains('/') {
            return Err(bad("invalid repository name"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => {
                let repo = if name.contains('/') {
                    name.to_string()
                } else {
                    format!("library/{name}")
                };
                ("docker.io".to_string(), repo)
            }
        };
        if repository != repository.to_lowercase() {
            return Err(bad("repository must be lowercase"));
        }
        let tag = if tag.is_empty() && digest.is_empty() {
            "latest".to_string()
        } else {
            tag
        };
        Ok(Image {
            registry,
            repository,
            tag,
            digest,
        })
    }

    pub fn identifier(&self) -> String {
        if self.digest.is_empty() {
            self.tag.clone()
        } else {
            self.digest.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// resource lookups (Kyverno's `resource.get`, `resource.List`) over the given objects

/// Objects a policy may look up offline: a Kyverno test's context resources.
#[derive(Debug, Clone, Default)]
pub struct ResourceLookup {
    /// (apiVersion, plural resource, namespace, name) → object.
    objects: Arc<HashMap<(String, String, String, String), Value>>,
}

impl PartialEq for ResourceLookup {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.objects, &other.objects)
    }
}
impl Eq for ResourceLookup {}

opaque!(ResourceLookup, "kyverno.Resource");

impl ResourceLookup {
    pub fn new(objects: &[serde_json::Value]) -> ResourceLookup {
        let mut map = HashMap::new();
        for o in objects {
            let text = |p: &str| {
                o.pointer(p)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let kind = text("/kind");
            map.insert(
                (
                    text("/apiVersion"),
                    crate::matching::plural(&kind),
                    text("/metadata/namespace"),
                    text("/metadata/name"),
                ),
                crate::convert::json_to_value(o),
            );
        }
        ResourceLookup {
            objects: Arc::new(map),
        }
    }

    pub fn get(
        &self,
        api_version: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        self.objects
            .get(&(
                api_version.to_string(),
                resource.to_string(),
                namespace.to_string(),
                name.to_string(),
            ))
            .cloned()
    }

    pub fn list(&self, api_version: &str, resource: &str, namespace: &str) -> Value {
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((a, r, n, _), _)| {
                a == api_version && r == resource && (namespace.is_empty() || n == namespace)
            })
            .map(|(_, v)| v.clone())
            .collect();
        let mut m = HashMap::new();
        m.insert(
            Key::String(Arc::new("items".to_string())),
            Value::List(Arc::new(items)),
        );
        Value::Map(Map { map: Arc::new(m) })
    }
}
