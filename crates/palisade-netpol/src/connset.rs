//! Sets of connections: for each protocol (TCP, UDP, SCTP) a set of port intervals.
//!
//! The text form is upstream's (np-guard netpol-analyzer): `All Connections` when every port of
//! every protocol is in the set, `No Connections` when the set is empty, otherwise the protocols in
//! alphabetical order, each with its ranges, all comma-joined: `SCTP 1-9002,TCP 80,UDP 53`.

use std::fmt;

use crate::rangeset::RangeSet;

/// The lowest and highest port numbers a policy may name.
pub const MIN_PORT: u16 = 1;
/// See [`MIN_PORT`].
pub const MAX_PORT: u16 = 65535;

/// A layer-4 protocol that NetworkPolicies can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP, the default when a policy port names no protocol.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The three protocols, in index order.
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// Parses `TCP`, `UDP` or `SCTP` (case-insensitively, as upstream's focus-conn flag does).
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The name as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    fn index(self) -> usize {
        match self {
            Protocol::Tcp => 0,
            Protocol::Udp => 1,
            Protocol::Sctp => 2,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of ports within 1-65535: a [`RangeSet`] whose universe is the port numbers a policy may
/// name (so "every port" is 1-65535, not 0-65535).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSet {
    ranges: RangeSet<u16>,
}

impl PortSet {
    /// No ports.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every port, 1-65535.
    pub fn all() -> Self {
        Self::range(MIN_PORT, MAX_PORT)
    }

    /// The ports `start..=end` (empty when `end < start`; port 0 is not a port).
    pub fn range(start: u16, end: u16) -> Self {
        Self {
            ranges: RangeSet::interval(start.max(MIN_PORT), end),
        }
    }

    /// Whether no port is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether every port 1-65535 is in the set.
    pub fn is_all(&self) -> bool {
        self.ranges.ranges() == [(MIN_PORT, MAX_PORT)]
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.ranges.contains(port)
    }

    /// The intervals, sorted.
    pub fn ranges(&self) -> &[(u16, u16)] {
        self.ranges.ranges()
    }

    /// The ports in either set.
    pub fn union(&self, other: &PortSet) -> PortSet {
        Self {
            ranges: self.ranges.union(&other.ranges),
        }
    }

    /// The ports in both sets.
    pub fn intersection(&self, other: &PortSet) -> PortSet {
        Self {
            ranges: self.ranges.intersection(&other.ranges),
        }
    }

    /// The ports in this set and not in `other`.
    pub fn difference(&self, other: &PortSet) -> PortSet {
        Self {
            ranges: self.ranges.difference(&other.ranges),
        }
    }

    /// Whether every port of this set is in `other`.
    pub fn is_subset(&self, other: &PortSet) -> bool {
        self.ranges.is_subset(&other.ranges)
    }
}

impl fmt::Display for PortSet {
    /// `80,8080-8090`; empty for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// The connections allowed between two peers: a [`PortSet`] per [`Protocol`].
///
/// Displays as upstream prints it: `All Connections`, `No Connections`, or
/// `SCTP 1-9002,TCP 1-79,81-65535,UDP 53`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionSet {
    ports: [PortSet; 3],
}

impl ConnectionSet {
    /// No connections.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every port of every protocol.
    pub fn all() -> Self {
        Self {
            ports: [PortSet::all(), PortSet::all(), PortSet::all()],
        }
    }

    /// The given ports of one protocol.
    pub fn from_ports(protocol: Protocol, ports: PortSet) -> Self {
        let mut set = Self::none();
        set.ports[protocol.index()] = ports;
        set
    }

    /// Every port of one protocol.
    pub fn protocol(protocol: Protocol) -> Self {
        Self::from_ports(protocol, PortSet::all())
    }

    /// Whether no connection is in the set.
    pub fn is_empty(&self) -> bool {
        self.ports.iter().all(PortSet::is_empty)
    }

    /// Whether every port of every protocol is in the set.
    pub fn is_all(&self) -> bool {
        self.ports.iter().all(PortSet::is_all)
    }

    /// The ports of one protocol.
    pub fn ports(&self, protocol: Protocol) -> &PortSet {
        &self.ports[protocol.index()]
    }

    /// Adds ports of one protocol.
    pub fn add(&mut self, protocol: Protocol, ports: &PortSet) {
        let i = protocol.index();
        self.ports[i] = self.ports[i].union(ports);
    }

    /// Whether `port` of `protocol` is in the set.
    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.ports[protocol.index()].contains(port)
    }

    /// The connections in either set.
    pub fn union(&self, other: &ConnectionSet) -> ConnectionSet {
        self.zip(other, PortSet::union)
    }

    /// The connections in both sets.
    pub fn intersection(&self, other: &ConnectionSet) -> ConnectionSet {
        self.zip(other, PortSet::intersection)
    }

    /// The connections in this set and not in `other`.
    pub fn difference(&self, other: &ConnectionSet) -> ConnectionSet {
        self.zip(other, PortSet::difference)
    }

    /// Whether every connection of this set is in `other`.
    pub fn is_subset(&self, other: &ConnectionSet) -> bool {
        self.ports
            .iter()
            .zip(&other.ports)
            .all(|(a, b)| a.is_subset(b))
    }

    /// The protocols with at least one port, with their ports, in alphabetical order of the
    /// protocol name (SCTP, TCP, UDP), the order of the text form.
    pub fn protocols(&self) -> impl Iterator<Item = (Protocol, &PortSet)> {
        [Protocol::Sctp, Protocol::Tcp, Protocol::Udp]
            .into_iter()
            .map(|p| (p, &self.ports[p.index()]))
            .filter(|(_, ports)| !ports.is_empty())
    }

    fn zip(&self, other: &ConnectionSet, op: impl Fn(&PortSet, &PortSet) -> PortSet) -> Self {
        Self {
            ports: [
                op(&self.ports[0], &other.ports[0]),
                op(&self.ports[1], &other.ports[1]),
                op(&self.ports[2], &other.ports[2]),
            ],
        }
    }
}

impl fmt::Display for ConnectionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        for (i, (protocol, ports)) in self.protocols().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{protocol} {ports}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(ranges: &[(u16, u16)]) -> PortSet {
        ranges.iter().fold(PortSet::empty(), |acc, &(a, b)| {
            acc.union(&PortSet::range(a, b))
        })
    }

    #[test]
    fn union_merges_overlapping_and_adjacent_ranges() {
        let set = ports(&[(10, 20), (21, 30), (5, 12), (40, 40)]);
        assert_eq!(set.ranges(), &[(5, 30), (40, 40)]);
        assert_eq!(set.to_string(), "5-30,40");
    }

    #[test]
    fn difference_cuts_holes() {
        let all = PortSet::all();
        let hole = all.difference(&ports(&[(80, 80), (9003, 9003)]));
        assert_eq!(hole.to_string(), "1-79,81-9002,9004-65535");
        assert!(hole.difference(&all).is_empty());
        assert_eq!(
            ports(&[(1, 10)]).difference(&ports(&[(1, 10)])),
            PortSet::empty()
        );
        assert_eq!(
            ports(&[(1, 10)]).difference(&ports(&[(5, 5)])).ranges(),
            &[(1, 4), (6, 10)]
        );
    }

    #[test]
    fn intersection_of_interleaved_ranges() {
        let a = ports(&[(1, 10), (20, 30)]);
        let b = ports(&[(5, 25)]);
        assert_eq!(a.intersection(&b).ranges(), &[(5, 10), (20, 25)]);
    }

    #[test]
    fn display_matches_upstream() {
        assert_eq!(ConnectionSet::all().to_string(), "All Connections");
        assert_eq!(ConnectionSet::none().to_string(), "No Connections");
        let mut set = ConnectionSet::all();
        set = set.difference(&ConnectionSet::from_ports(
            Protocol::Tcp,
            ports(&[(80, 80)]),
        ));
        set = set.difference(&ConnectionSet::from_ports(
            Protocol::Sctp,
            ports(&[(9003, 9003)]),
        ));
        set = set.difference(&ConnectionSet::from_ports(
            Protocol::Udp,
            ports(&[(53, 53)]),
        ));
        assert_eq!(
            set.to_string(),
            "SCTP 1-9002,9004-65535,TCP 1-79,81-65535,UDP 1-52,54-65535"
        );
        let three = ConnectionSet::protocol(Protocol::Tcp)
            .union(&ConnectionSet::protocol(Protocol::Udp))
            .union(&ConnectionSet::protocol(Protocol::Sctp));
        assert!(three.is_all());
        assert_eq!(three.to_string(), "All Connections");
    }

    #[test]
    fn subset_and_contains() {
        let web = ConnectionSet::from_ports(Protocol::Tcp, ports(&[(80, 80), (443, 443)]));
        assert!(web.contains(Protocol::Tcp, 443));
        assert!(!web.contains(Protocol::Udp, 443));
        assert!(web.is_subset(&ConnectionSet::protocol(Protocol::Tcp)));
        assert!(!ConnectionSet::protocol(Protocol::Tcp).is_subset(&web));
    }
}
