//! IPv4 address sets (a CIDR minus its `except` CIDRs), and the disjoint blocks ("atoms") that the
//! report lists as external peers: 0.0.0.0/0 cut at every boundary of every CIDR the policies name.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::rangeset::RangeSet;

/// Why text is not `address/prefix-length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixError {
    /// No `/`.
    NoPrefix,
    /// The part before `/` is not an IPv4 or IPv6 address.
    Address,
    /// The prefix length is not a number up to this maximum (32 or 128).
    Length(u8),
}

/// Parses `address/prefix-length` (IPv4 or IPv6), host bits kept: the one CIDR reader behind
/// policies' ipBlocks (which mask host bits, as Go's `net.ParseCIDR` does) and intent files
/// (which refuse them).
pub fn parse_prefix(text: &str) -> Result<(IpAddr, u8), PrefixError> {
    let (addr, len) = text.split_once('/').ok_or(PrefixError::NoPrefix)?;
    let addr: IpAddr = addr.parse().map_err(|_| PrefixError::Address)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    // `u8::from_str` takes a leading `+`; a prefix length never has one.
    let len = len
        .parse::<u8>()
        .ok()
        .filter(|l| *l <= max && len.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(PrefixError::Length(max))?;
    Ok((addr, len))
}

/// The network of `addr/len`: its host bits cleared.
pub fn network(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// Why an ipBlock is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpBlockError {
    /// The CIDR or an except entry is not a CIDR (the message says which).
    Invalid(String),
    /// Except entry `index` is not strictly within the CIDR: the API server's rule
    /// (`ValidateIPBlock`): its network address must lie in the CIDR and its prefix be longer.
    ExceptNotWithin { index: usize, value: String },
}

impl fmt::Display for IpBlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpBlockError::Invalid(message) => f.write_str(message),
            // The API server's wording (field.Invalid: path, value, detail).
            IpBlockError::ExceptNotWithin { index, value } => write!(
                f,
                "except[{index}]: Invalid value: {value:?}: must be a strict subset of `cidr`"
            ),
        }
    }
}

impl std::error::Error for IpBlockError {}

/// Whether CIDR `inner` is strictly within CIDR `outer`, as the API server decides it for an
/// ipBlock's except entries: `inner`'s network address lies in `outer`'s network and its prefix
/// is longer. Addresses of different families are never within each other; text that is not a
/// CIDR is not within anything.
pub fn strictly_within(inner: &str, outer: &str) -> bool {
    let (Ok((ia, il)), Ok((oa, ol))) = (parse_prefix(inner.trim()), parse_prefix(outer.trim()))
    else {
        return false;
    };
    match (network(ia, il), network(oa, ol)) {
        (IpAddr::V4(i), IpAddr::V4(o)) => il > ol && network(IpAddr::V4(i), ol) == IpAddr::V4(o),
        (IpAddr::V6(i), IpAddr::V6(o)) => il > ol && network(IpAddr::V6(i), ol) == IpAddr::V6(o),
        _ => false,
    }
}

/// A set of IPv4 addresses: a [`RangeSet`] of `u32` addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpSet {
    ranges: RangeSet<u32>,
}

impl IpSet {
    /// Every IPv4 address.
    pub fn all() -> Self {
        Self::range(0, u32::MAX)
    }

    /// The addresses `start..=end` (empty when `end < start`).
    pub fn range(start: u32, end: u32) -> Self {
        Self {
            ranges: RangeSet::interval(start, end),
        }
    }

    /// Parses `a.b.c.d/n` (host bits are masked, as Go's `net.ParseCIDR` does). `Ok(None)` for an
    /// IPv6 CIDR, which this model ignores.
    pub fn parse_cidr(text: &str) -> Result<Option<IpSet>, String> {
        let text = text.trim();
        let (addr, len) =
            parse_prefix(text).map_err(|_| format!("invalid CIDR address {text:?}"))?;
        let IpAddr::V4(start) = network(addr, len) else {
            return Ok(None);
        };
        let start = u32::from(start);
        let size = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
        Ok(Some(IpSet::range(start, start | size)))
    }

    /// `cidr` minus each of `except`; IPv6 CIDRs give `Ok(None)`. Each `except` must be strictly
    /// within `cidr`, as the API server requires (an ipBlock that excepts its whole CIDR, or
    /// more, is refused there, so it can never be what a cluster runs).
    pub fn from_cidr_except(cidr: &str, except: &[String]) -> Result<Option<IpSet>, IpBlockError> {
        let parsed = IpSet::parse_cidr(cidr).map_err(IpBlockError::Invalid)?;
        let mut holes = Vec::with_capacity(except.len());
        for ex in except {
            holes.push(IpSet::parse_cidr(ex).map_err(IpBlockError::Invalid)?);
        }
        for (index, ex) in except.iter().enumerate() {
            if !strictly_within(ex, cidr) {
                return Err(IpBlockError::ExceptNotWithin {
                    index,
                    value: ex.trim().to_string(),
                });
            }
        }
        let Some(mut set) = parsed else {
            return Ok(None);
        };
        for hole in holes.into_iter().flatten() {
            set = set.difference(&hole);
        }
        Ok(Some(set))
    }

    /// Whether no address is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The intervals.
    pub fn ranges(&self) -> &[(u32, u32)] {
        self.ranges.ranges()
    }

    /// The addresses in either set.
    pub fn union(&self, other: &IpSet) -> IpSet {
        Self {
            ranges: self.ranges.union(&other.ranges),
        }
    }

    /// The addresses of this set not in `other`.
    pub fn difference(&self, other: &IpSet) -> IpSet {
        Self {
            ranges: self.ranges.difference(&other.ranges),
        }
    }

    /// Whether every address of this set is in `other`.
    pub fn is_subset(&self, other: &IpSet) -> bool {
        self.ranges.is_subset(&other.ranges)
    }
}

impl fmt::Display for IpSet {
    /// `10.0.0.0-10.255.255.255`, intervals comma-joined (a single address too is a range:
    /// `1.2.3.4-1.2.3.4`, as upstream prints it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}-{}", Ipv4Addr::from(a), Ipv4Addr::from(b))?;
        }
        Ok(())
    }
}

/// Cuts 0.0.0.0-255.255.255.255 at every boundary of every interval of `sets`: the result is a
/// partition of the address space into intervals, each inside or outside every set.
pub fn atoms<'a>(sets: impl IntoIterator<Item = &'a IpSet>) -> Vec<IpSet> {
    // Boundaries are the first addresses of intervals (and one past their ends).
    let mut cuts: Vec<u64> = vec![0, 1 << 32];
    for set in sets {
        for (a, b) in set.ranges.iter() {
            cuts.push(u64::from(a));
            cuts.push(u64::from(b) + 1);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .map(|w| IpSet::range(w[0] as u32, (w[1] - 1) as u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks_cidrs() {
        let set = IpSet::parse_cidr("10.1.2.3/8").unwrap().unwrap();
        assert_eq!(set.to_string(), "10.0.0.0-10.255.255.255");
        assert_eq!(
            IpSet::parse_cidr("0.0.0.0/0").unwrap().unwrap(),
            IpSet::all()
        );
        assert_eq!(
            IpSet::parse_cidr("1.2.3.4/32")
                .unwrap()
                .unwrap()
                .to_string(),
            "1.2.3.4-1.2.3.4"
        );
        assert!(IpSet::parse_cidr("2001:db8::/32").unwrap().is_none());
        for bad in [
            "A",
            "10.0.0.0/33",
            "10.0.0/8",
            "300.0.0.0/8",
            "10.0.0.0",
            "10.0.0.0/+8",
            "::/129",
        ] {
            assert!(IpSet::parse_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_parse_for_both_families_and_networks_clear_host_bits() {
        let (addr, len) = parse_prefix("2001:db8::1/32").unwrap();
        assert_eq!(len, 32);
        assert_eq!(network(addr, len).to_string(), "2001:db8::");
        let (addr, len) = parse_prefix("10.1.2.3/0").unwrap();
        assert_eq!(network(addr, len).to_string(), "0.0.0.0");
        assert_eq!(parse_prefix("10.0.0.0"), Err(PrefixError::NoPrefix));
        assert_eq!(parse_prefix("x/8"), Err(PrefixError::Address));
        assert_eq!(parse_prefix("::/+8"), Err(PrefixError::Length(128)));
    }

    #[test]
    fn except_cuts_holes_and_atoms_partition_the_space() {
        let set = IpSet::from_cidr_except("0.0.0.0/0", &["10.0.0.0/8".to_string()])
            .unwrap()
            .unwrap();
        assert_eq!(
            set.to_string(),
            "0.0.0.0-9.255.255.255,11.0.0.0-255.255.255.255"
        );
        let parts = atoms([&set]);
        let text: Vec<String> = parts.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "0.0.0.0-9.255.255.255",
                "10.0.0.0-10.255.255.255",
                "11.0.0.0-255.255.255.255"
            ]
        );
        assert!(parts[0].is_subset(&set));
        assert!(parts.iter().all(|p| p.ranges().len() == 1));
        assert!(!parts[1].is_subset(&set));
        assert_eq!(atoms([]).len(), 1);
    }

    #[test]
    fn hardening_08_except_must_be_strictly_within_the_cidr() {
        let ex = |cidr: &str, except: &[&str]| {
            let except: Vec<String> = except.iter().map(ToString::to_string).collect();
            IpSet::from_cidr_except(cidr, &except)
        };
        // Refused as the API server refuses them: the whole CIDR, more than it, outside it, the
        // other family.
        for (cidr, bad) in [
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.0.0.0/8", "10.1.0.0/8"),
            ("10.0.0.0/16", "10.0.0.0/8"),
            ("10.0.0.0/8", "192.168.0.0/24"),
            ("10.0.0.0/8", "::/64"),
            ("2001:db8::/32", "10.0.0.0/8"),
            ("2001:db8::/32", "2001:db8::/32"),
        ] {
            let err = ex(cidr, &["10.0.0.0/24", bad]).unwrap_err();
            // Against an IPv6 CIDR, the IPv4 entry before `bad` is already outside.
            let (index, value) = if cidr.contains(':') {
                (0, "10.0.0.0/24")
            } else {
                (1, bad)
            };
            assert_eq!(
                err,
                IpBlockError::ExceptNotWithin {
                    index,
                    value: value.to_string()
                },
                "{cidr} except {bad}"
            );
            assert!(err
                .to_string()
                .contains("must be a strict subset of `cidr`"));
        }
        // Accepted: strictly inside, host bits set (masked, as the API server parses it).
        assert!(ex("0.0.0.0/0", &["0.0.0.0/1"]).unwrap().is_some());
        assert!(ex("10.0.0.0/8", &["10.1.2.3/16"]).unwrap().is_some());
        assert!(ex("2001:db8::/32", &["2001:db8:1::/48"]).unwrap().is_none());
        // An invalid except is reported as invalid, not as outside.
        assert!(matches!(
            ex("10.0.0.0/8", &["10.0.0.0/33"]),
            Err(IpBlockError::Invalid(_))
        ));
    }
}
