//! What `netpol list` reports and how: the format, the focus options (workloads, their peers,
//! a direction, one connection) and the exposure section, with the rules that decide which
//! connections the focus options keep. Apart from the writers, so that the report and the
//! exposure analysis read one definition of the focus.

use crate::analyze::PeerRef;
use crate::connset::{ConnectionSet, PortSet, Protocol};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `SRC => DST : CONN` lines.
    Txt,
    /// `[{"src","dst","conn"}]`.
    Json,
    /// `src,dst,conn` rows.
    Csv,
    /// A Markdown table.
    Md,
    /// A Graphviz digraph, namespaces as clusters.
    Dot,
}

impl Format {
    /// Parses `txt`, `json`, `csv`, `md` or `dot`.
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "txt" => Some(Format::Txt),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "md" => Some(Format::Md),
            "dot" => Some(Format::Dot),
            _ => None,
        }
    }
}

/// Which direction of a focus workload's connections to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Connections into the focus workloads.
    Ingress,
    /// Connections out of them.
    Egress,
}

/// What to report and how.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The format.
    pub format: Format,
    /// Only connections with one of these workloads (`name` or `ns/name`) at one end.
    pub focus_workloads: Vec<String>,
    /// With focus workloads: only connections whose other end is one of these.
    pub focus_workload_peers: Vec<String>,
    /// With focus workloads: only this direction of their connections.
    pub focus_direction: Option<Direction>,
    /// Only pairs that allow this connection (the report then lists pairs, not connections).
    pub focus_conn: Option<(Protocol, u16)>,
    /// Add the exposure analysis.
    pub exposure: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            format: Format::Txt,
            focus_workloads: Vec::new(),
            focus_workload_peers: Vec::new(),
            focus_direction: None,
            focus_conn: None,
            exposure: false,
        }
    }
}

/// Whether `peer` is one of `list` (`name` or `ns/name`); true when the list is empty.
fn is_focus(peer: &PeerRef<'_>, list: &[String]) -> bool {
    if list.is_empty() {
        return true;
    }
    match peer {
        PeerRef::Workload(w) => list
            .iter()
            .any(|f| *f == w.name || *f == format!("{}/{}", w.namespace, w.name)),
        PeerRef::External(_) => false,
        // Upstream's controller is a pod `ingress-controller` in `ingress-controller-ns`.
        PeerRef::IngressController => list.iter().any(|f| {
            f == crate::ingress::INGRESS_CONTROLLER_NAME
                || *f
                    == format!(
                        "ingress-controller-ns/{}",
                        crate::ingress::INGRESS_CONTROLLER_NAME
                    )
        }),
    }
}

/// What the focus options say of one end of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Focus {
    /// One of the focus workloads (true without any).
    pub(crate) focus: bool,
    /// One of their peers (true without any).
    pub(crate) focus_peer: bool,
}

impl ReportOptions {
    /// The focus connection as a set.
    pub(crate) fn focus_conn_set(&self) -> Option<ConnectionSet> {
        self.focus_conn
            .map(|(p, port)| ConnectionSet::from_ports(p, PortSet::range(port, port)))
    }

    /// What the focus options say of one end of a connection.
    pub(crate) fn focus_of(&self, peer: &PeerRef<'_>) -> Focus {
        Focus {
            focus: is_focus(peer, &self.focus_workloads),
            focus_peer: is_focus(peer, &self.focus_workload_peers),
        }
    }

    /// Exposure is not reported when both focus workloads and their peers are given.
    pub(crate) fn exposure_enabled(&self) -> bool {
        self.exposure && (self.focus_workloads.is_empty() || self.focus_workload_peers.is_empty())
    }

    /// Whether the report lists connections from `src` to `dst` (the focus options).
    pub(crate) fn includes(&self, src: Focus, dst: Focus) -> bool {
        match self.focus_direction {
            Some(Direction::Ingress) if !dst.focus => return false,
            Some(Direction::Egress) if !src.focus => return false,
            _ => {}
        }
        let no_workloads = self.focus_workloads.is_empty();
        (src.focus && (no_workloads || dst.focus_peer))
            || (dst.focus && (no_workloads || src.focus_peer))
    }

    /// Whether any connection from `src` can be listed: a source that is neither a focus
    /// workload nor one of their peers has none, so its row need not be computed.
    pub(crate) fn may_include_from(&self, src: Focus) -> bool {
        match self.focus_direction {
            Some(Direction::Egress) => src.focus,
            _ => src.focus || self.focus_workloads.is_empty() || src.focus_peer,
        }
    }
}
