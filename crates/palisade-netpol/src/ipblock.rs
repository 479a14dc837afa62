//! IPv4 address sets (a CIDR minus its `except` CIDRs), and the disjoint blocks ("atoms") that the
//! report lists as external peers: 0.0.0.0/0 cut at every boundary of every CIDR the policies name.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

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

/// A set of IPv4 addresses: sorted, disjoint, non-adjacent closed intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpSet {
    ranges: Vec<(u32, u32)>,
}

impl IpSet {
    /// Every IPv4 address.
    pub fn all() -> Self {
        Self {
            ranges: vec![(0, u32::MAX)],
        }
    }

    /// The addresses `start..=end`.
    pub fn range(start: u32, end: u32) -> Self {
        Self {
            ranges: vec![(start, end)],
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

    /// `cidr` minus each of `except`; IPv6 CIDRs give `Ok(None)`, IPv6 exceptions are ignored.
    pub fn from_cidr_except(cidr: &str, except: &[String]) -> Result<Option<IpSet>, String> {
        let Some(mut set) = IpSet::parse_cidr(cidr)? else {
            return Ok(None);
        };
        for ex in except {
            if let Some(ex) = IpSet::parse_cidr(ex)? {
                set = set.difference(&ex);
            }
        }
        Ok(Some(set))
    }

    /// Whether no address is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The intervals.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// The addresses in either set.
    pub fn union(&self, other: &IpSet) -> IpSet {
        let mut all: Vec<(u32, u32)> = self.ranges.iter().chain(&other.ranges).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match out.last_mut() {
                Some(last) if u64::from(a) <= u64::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        IpSet { ranges: out }
    }

    /// The addresses of this set not in `other`.
    pub fn difference(&self, other: &IpSet) -> IpSet {
        let mut out = Vec::new();
        for &(a, b) in &self.ranges {
            let mut start = u64::from(a);
            let end = u64::from(b);
            for &(oa, ob) in &other.ranges {
                let (oa, ob) = (u64::from(oa), u64::from(ob));
                if ob < start || oa > end {
                    continue;
                }
                if oa > start {
                    out.push((start as u32, (oa - 1) as u32));
                }
                start = ob + 1;
                if start > end {
                    break;
                }
            }
            if start <= end {
                out.push((start as u32, end as u32));
            }
        }
        IpSet { ranges: out }
    }

    /// Whether every address of this set is in `other`.
    pub fn is_subset(&self, other: &IpSet) -> bool {
        self.difference(other).is_empty()
    }
}

impl fmt::Display for IpSet {
    /// `10.0.0.0-10.255.255.255`, intervals comma-joined (a single address too is a range:
    /// `1.2.3.4-1.2.3.4`, as upstream prints it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
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
        for &(a, b) in &set.ranges {
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
        assert!(!parts[1].is_subset(&set));
        assert_eq!(atoms([]).len(), 1);
    }
}
