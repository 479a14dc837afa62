//! The connectivity report in upstream's (np-guard netpol-analyzer) formats: txt, json, csv, md
//! and dot, with its focus options (workloads, their peers, a direction, one connection) and the
//! exposure section.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analyze::{Connectivity, PeerRef};
use crate::connset::{ConnectionSet, PortSet, Protocol};
use crate::exposure::{self, ExposureLine};

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

/// One report line.
#[derive(Debug, Clone)]
struct Line {
    src: String,
    dst: String,
    conn: String,
}

fn is_focus(peer: &PeerRef<'_>, list: &[String]) -> bool {
    if list.is_empty() {
        return true;
    }
    match peer {
        PeerRef::Workload(w) => list
            .iter()
            .any(|f| *f == w.name || *f == format!("{}/{}", w.namespace, w.name)),
        PeerRef::External(_) => false,
    }
}

impl ReportOptions {
    pub(crate) fn includes(&self, src: &PeerRef<'_>, dst: &PeerRef<'_>) -> bool {
        let fw = &self.focus_workloads;
        match self.focus_direction {
            Some(Direction::Ingress) if !is_focus(dst, fw) => return false,
            Some(Direction::Egress) if !is_focus(src, fw) => return false,
            _ => {}
        }
        let focus_peer = |p: &PeerRef<'_>| fw.is_empty() || is_focus(p, &self.focus_workload_peers);
        (is_focus(src, fw) && focus_peer(dst)) || (is_focus(dst, fw) && focus_peer(src))
    }

    fn focus_conn_set(&self) -> Option<ConnectionSet> {
        self.focus_conn
            .map(|(p, port)| ConnectionSet::from_ports(p, PortSet::range(port, port)))
    }

    /// Exposure is not reported when both focus workloads and their peers are given.
    pub(crate) fn exposure_enabled(&self) -> bool {
        self.exposure && (self.focus_workloads.is_empty() || self.focus_workload_peers.is_empty())
    }
}

fn sort_lines(lines: &mut [Line], by_src: bool) {
    lines.sort_by(|a, b| {
        if by_src {
            (&a.src, &a.dst).cmp(&(&b.src, &b.dst))
        } else {
            (&a.dst, &a.src).cmp(&(&b.dst, &b.src))
        }
    });
}

/// Renders the report.
pub fn render(conn: &Connectivity<'_>, opts: &ReportOptions) -> String {
    let focus = opts.focus_conn_set();
    let mut lines = Vec::new();
    let mut edges: Vec<(PeerRef<'_>, PeerRef<'_>, String)> = Vec::new();
    for (src, dst, set) in conn.connections() {
        if !opts.includes(&src, &dst) {
            continue;
        }
        if let Some(f) = &focus {
            if !f.is_subset(&set) {
                continue;
            }
        }
        let text = match &focus {
            Some(f) => f.to_string(),
            None => set.to_string(),
        };
        lines.push(Line {
            src: src.to_string(),
            dst: dst.to_string(),
            conn: text.clone(),
        });
        // Only the graph needs the peers themselves; a copy per connection for every format
        // would double the report's memory.
        if opts.format == Format::Dot {
            edges.push((src, dst, text));
        }
    }
    sort_lines(&mut lines, true);
    let exposure = opts
        .exposure_enabled()
        .then(|| exposure::exposure_lines(conn, opts, &lines_as_pairs(&lines)));
    let focus_str = focus.as_ref().map(ToString::to_string);
    match opts.format {
        Format::Txt => txt(&lines, exposure.as_ref(), focus_str.as_deref()),
        Format::Json => json(&lines, exposure.as_ref(), focus_str.is_some()),
        Format::Csv => csv(&lines, exposure.as_ref(), focus_str.as_deref()),
        Format::Md => md(&lines, exposure.as_ref(), focus_str.as_deref()),
        Format::Dot => dot(conn, opts, &edges, exposure.as_ref()),
    }
}

fn lines_as_pairs(lines: &[Line]) -> Vec<(String, String, String)> {
    lines
        .iter()
        .map(|l| (l.src.clone(), l.dst.clone(), l.conn.clone()))
        .collect()
}

fn txt(lines: &[Line], exposure: Option<&exposure::Exposure>, focus: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(f) = focus {
        let _ = writeln!(out, "Permitted connections on {f}:");
        for l in lines {
            let _ = writeln!(out, "{} => {}", l.src, l.dst);
        }
    } else {
        for l in lines {
            let _ = writeln!(out, "{} => {} : {}", l.src, l.dst, l.conn);
        }
    }
    let Some(exp) = exposure else { return out };
    if !out.is_empty() {
        out.push('\n');
    }
    let width = exp.max_peer_len;
    let fmt_line = |l: &ExposureLine, ingress: bool| -> String {
        let (wl, other) = if ingress {
            (&l.dst, &l.src)
        } else {
            (&l.src, &l.dst)
        };
        let arrow = if ingress { "<=" } else { "=>" };
        match focus {
            Some(_) => format!("{wl:<width$} \t{arrow} \t{other}"),
            None => format!("{wl:<width$} \t{arrow} \t{other} : {}", l.conn),
        }
    };
    out.push_str("Exposure Analysis Result");
    if let Some(f) = focus {
        let _ = write!(out, " On {f}");
    }
    out.push_str(":\n");
    if !exp.egress.is_empty() {
        out.push_str("Egress Exposure:\n");
        for l in &exp.egress {
            out.push_str(&fmt_line(l, false));
            out.push('\n');
        }
    }
    if !exp.ingress.is_empty() {
        if !exp.egress.is_empty() {
            out.push('\n');
        }
        out.push_str("Ingress Exposure:\n");
        for l in &exp.ingress {
            out.push_str(&fmt_line(l, true));
            out.push('\n');
        }
    }
    if focus.is_none() && !exp.unprotected.is_empty() {
        out.push_str("\nWorkloads not protected by network policies:\n");
        for u in &exp.unprotected {
            out.push_str(u);
            out.push('\n');
        }
    }
    out
}

fn json_items(
    lines: impl Iterator<Item = (String, String, String)>,
    with_conn: bool,
) -> serde_json::Value {
    serde_json::Value::Array(
        lines
            .map(|(src, dst, conn)| {
                let mut m = serde_json::Map::new();
                m.insert("src".into(), src.into());
                m.insert("dst".into(), dst.into());
                if with_conn {
                    m.insert("conn".into(), conn.into());
                }
                serde_json::Value::Object(m)
            })
            .collect(),
    )
}

fn json(lines: &[Line], exposure: Option<&exposure::Exposure>, focus: bool) -> String {
    let conns = json_items(
        lines
            .iter()
            .map(|l| (l.src.clone(), l.dst.clone(), l.conn.clone())),
        !focus,
    );
    let value = match exposure {
        None => conns,
        Some(exp) => {
            let items = |v: &[ExposureLine]| {
                json_items(
                    v.iter()
                        .map(|l| (l.src.clone(), l.dst.clone(), l.conn.clone())),
                    !focus,
                )
            };
            let (top, ex) = if focus {
                ("connlist_conn_focus_results", "exposure_conn_focus_results")
            } else {
                ("connlist_results", "exposure_results")
            };
            serde_json::json!({
                top: conns,
                ex: {
                    "egress_exposure": items(&exp.egress),
                    "ingress_exposure": items(&exp.ingress),
                }
            })
        }
    };
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    if exposure.is_some() && !focus {
        // Upstream's exposure lists are nil when empty, which Go encodes as `null` (with a focus
        // connection they are made, empty, and encode as `[]`).
        text = text.replace("\"egress_exposure\": []", "\"egress_exposure\": null");
        text = text.replace("\"ingress_exposure\": []", "\"ingress_exposure\": null");
    }
    text
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

fn csv_row(out: &mut String, fields: &[&str]) {
    let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&row.join(","));
    out.push('\n');
}

fn csv(lines: &[Line], exposure: Option<&exposure::Exposure>, focus: Option<&str>) -> String {
    let mut out = String::new();
    let row = |out: &mut String, a: &str, b: &str, c: &str| {
        if focus.is_some() {
            csv_row(out, &[a, b]);
        } else {
            csv_row(out, &[a, b, c]);
        }
    };
    row(&mut out, "src", "dst", "conn");
    for l in lines {
        row(&mut out, &l.src, &l.dst, &l.conn);
    }
    if let Some(exp) = exposure {
        let header = match focus {
            Some(f) => format!("Exposure Analysis Result On {f}:"),
            None => "Exposure Analysis Result:".to_string(),
        };
        csv_row(&mut out, &[&header, "", ""]);
        if !exp.egress.is_empty() {
            csv_row(&mut out, &["Egress Exposure:", "", ""]);
            row(&mut out, "src", "dst", "conn");
            for l in &exp.egress {
                row(&mut out, &l.src, &l.dst, &l.conn);
            }
        }
        if !exp.ingress.is_empty() {
            csv_row(&mut out, &["Ingress Exposure:", "", ""]);
            row(&mut out, "dst", "src", "conn");
            for l in &exp.ingress {
                row(&mut out, &l.dst, &l.src, &l.conn);
            }
        }
    }
    out
}

fn md(lines: &[Line], exposure: Option<&exposure::Exposure>, focus: Option<&str>) -> String {
    let header = |src_first: bool| -> String {
        let (a, b) = if src_first {
            ("src", "dst")
        } else {
            ("dst", "src")
        };
        match focus {
            Some(_) => format!("| {a} | {b} |\n|-----|-----|"),
            None => format!("| {a} | {b} | conn |\n|-----|-----|------|"),
        }
    };
    let row = |a: &str, b: &str, c: &str| -> String {
        match focus {
            Some(_) => format!("| {a} | {b} |"),
            None => format!("| {a} | {b} | {c} |"),
        }
    };
    let mut all = vec![header(true)];
    all.extend(lines.iter().map(|l| row(&l.src, &l.dst, &l.conn)));
    let Some(exp) = exposure else {
        return all.join("\n") + "\n";
    };
    let title = match focus {
        Some(f) => format!("## Exposure Analysis Result On {f}:"),
        None => "## Exposure Analysis Result:".to_string(),
    };
    all.push(title);
    let section = |name: &str, rows: Vec<String>, src_first: bool| -> String {
        if rows.is_empty() {
            return String::new();
        }
        format!("### {name}\n{}\n{}\n", header(src_first), rows.join("\n"))
    };
    all.push(section(
        "Egress Exposure:",
        exp.egress
            .iter()
            .map(|l| row(&l.src, &l.dst, &l.conn))
            .collect(),
        true,
    ));
    all.push(section(
        "Ingress Exposure:",
        exp.ingress
            .iter()
            .map(|l| row(&l.dst, &l.src, &l.conn))
            .collect(),
        false,
    ));
    all.join("\n")
}

fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dot_node(id: &str, label: &str, color: &str, extra: &str) -> String {
    format!(
        "\t{} [label={} color={} fontcolor={}{extra}]",
        dot_quote(id),
        dot_quote(label),
        dot_quote(color),
        dot_quote(color)
    )
}

fn dot_edge(src: &str, dst: &str, label: &str, color: &str, weight: &str, style: &str) -> String {
    format!(
        "\t{} -> {} [label={} color={} fontcolor=\"darkgreen\" weight={weight}{style}]",
        dot_quote(src),
        dot_quote(dst),
        dot_quote(label),
        dot_quote(color)
    )
}

fn dot(
    conn: &Connectivity<'_>,
    opts: &ReportOptions,
    edges: &[(PeerRef<'_>, PeerRef<'_>, String)],
    exposure: Option<&exposure::Exposure>,
) -> String {
    let mut ns_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rep_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut external = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut add_peer = |p: &PeerRef<'_>, ns_groups: &mut BTreeMap<String, Vec<String>>| {
        let id = p.to_string();
        if !seen.insert(id.clone()) {
            return;
        }
        match p {
            PeerRef::External(_) => external.push(dot_node(&id, &id, "red2", "")),
            PeerRef::Workload(w) => ns_groups
                .entry(format!("{}[namespace]", w.namespace))
                .or_default()
                .push(format!(
                    "\t{}",
                    dot_node(&id, &format!("{}[{}]", w.name, w.kind), "blue", "")
                )),
        }
    };
    let mut lines = Vec::new();
    for (src, dst, label) in edges {
        let (s, d) = (src.to_string(), dst.to_string());
        let weight = if s <= d { "0.5" } else { "1" };
        lines.push(dot_edge(&s, &d, label, "gold2", weight, ""));
        add_peer(src, &mut ns_groups);
        add_peer(dst, &mut ns_groups);
    }
    let focus_peers = !opts.focus_workload_peers.is_empty() && !opts.focus_workloads.is_empty();
    for w in &conn.cluster().workloads {
        let p = PeerRef::Workload(w);
        if is_focus(&p, &opts.focus_workloads)
            || (focus_peers && is_focus(&p, &opts.focus_workload_peers))
        {
            add_peer(&p, &mut ns_groups);
        }
    }
    if let Some(exp) = exposure {
        for p in &exp.exposed_peers {
            add_peer(p, &mut ns_groups);
        }
        let (ext, exp_edges) = exposure::dot_data(exp, &mut ns_groups, &mut rep_groups);
        external.extend(ext);
        lines.extend(exp_edges);
    }
    lines.sort();
    external.sort();
    let mut out = vec!["digraph {".to_string()];
    for (groups, color) in [(&ns_groups, "black"), (&rep_groups, "red2")] {
        for (ns, peers) in groups {
            let mut peers = peers.clone();
            peers.sort();
            out.push(format!(
                "\tsubgraph \"cluster_{}\" {{",
                ns.replace('-', "_")
            ));
            out.push(format!("\t\tcolor=\"{color}\""));
            out.push(format!("\t\tfontcolor=\"{color}\""));
            out.extend(peers);
            out.push(format!("\t\tlabel=\"{ns}\""));
            out.push("\t}".to_string());
        }
    }
    out.extend(external);
    out.extend(lines);
    out.push("}".to_string());
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze, load_str};

    const YAML: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: ns, labels: {app: a}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: ns, labels: {app: b}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: ns}\nspec:\n  podSelector: {matchLabels: {app: b}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {app: a}}}]\n    ports: [{port: 80}, {port: 443}]\n";

    fn render_with(opts: ReportOptions) -> String {
        let cluster = load_str("t.yaml", YAML).unwrap();
        let connectivity = analyze(&cluster).unwrap();
        render(&connectivity, &opts)
    }

    fn format(format: Format) -> String {
        render_with(ReportOptions {
            format,
            ..ReportOptions::default()
        })
    }

    #[test]
    fn txt_lines_are_sorted_by_source_then_destination() {
        assert_eq!(
            format(Format::Txt),
            "0.0.0.0-255.255.255.255[External] => ns/a[Pod] : All Connections\nns/a[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections\nns/a[Pod] => ns/b[Pod] : TCP 80,443\nns/b[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections\nns/b[Pod] => ns/a[Pod] : All Connections\n"
        );
    }

    #[test]
    fn csv_quotes_fields_with_commas_and_md_is_a_table() {
        let csv = format(Format::Csv);
        assert!(csv.starts_with("src,dst,conn\n"), "{csv}");
        assert!(
            csv.contains("ns/a[Pod],ns/b[Pod],\"TCP 80,443\"\n"),
            "{csv}"
        );
        let md = format(Format::Md);
        assert!(
            md.starts_with("| src | dst | conn |\n|-----|-----|------|\n"),
            "{md}"
        );
        assert!(
            md.contains("| ns/a[Pod] | ns/b[Pod] | TCP 80,443 |"),
            "{md}"
        );
    }

    #[test]
    fn json_is_a_list_of_src_dst_conn() {
        let json: serde_json::Value = serde_json::from_str(&format(Format::Json)).unwrap();
        assert_eq!(json[2]["src"], "ns/a[Pod]");
        assert_eq!(json[2]["dst"], "ns/b[Pod]");
        assert_eq!(json[2]["conn"], "TCP 80,443");
    }

    #[test]
    fn dot_groups_namespaces_and_weights_edges() {
        let dot = format(Format::Dot);
        assert!(
            dot.starts_with("digraph {\n\tsubgraph \"cluster_ns[namespace]\" {"),
            "{dot}"
        );
        assert!(
            dot.contains("\t\t\"ns/a[Pod]\" [label=\"a[Pod]\" color=\"blue\" fontcolor=\"blue\"]")
        );
        assert!(dot.contains("\t\"ns/a[Pod]\" -> \"ns/b[Pod]\" [label=\"TCP 80,443\" color=\"gold2\" fontcolor=\"darkgreen\" weight=0.5]"));
        assert!(dot.contains("\t\"ns/b[Pod]\" -> \"ns/a[Pod]\" [label=\"All Connections\" color=\"gold2\" fontcolor=\"darkgreen\" weight=1]"));
        assert!(dot.ends_with("\n}"));
    }

    #[test]
    fn focus_options_filter_pairs() {
        let only_b = render_with(ReportOptions {
            focus_workloads: vec!["b".into()],
            focus_direction: Some(Direction::Ingress),
            ..ReportOptions::default()
        });
        assert_eq!(only_b, "ns/a[Pod] => ns/b[Pod] : TCP 80,443\n");
        let on_443 = render_with(ReportOptions {
            focus_conn: Some((Protocol::Tcp, 443)),
            focus_workloads: vec!["ns/a".into()],
            ..ReportOptions::default()
        });
        assert_eq!(
            on_443,
            "Permitted connections on TCP 443:\n0.0.0.0-255.255.255.255[External] => ns/a[Pod]\nns/a[Pod] => 0.0.0.0-255.255.255.255[External]\nns/a[Pod] => ns/b[Pod]\nns/b[Pod] => ns/a[Pod]\n"
        );
    }

    #[test]
    fn exposure_reports_unprotected_and_representative_peers() {
        let text = render_with(ReportOptions {
            exposure: true,
            ..ReportOptions::default()
        });
        let section = text.split("Exposure Analysis Result:\n").nth(1).unwrap();
        assert!(
            section.contains("ns/a[Pod] \t=> \tentire-cluster : All Connections"),
            "{section}"
        );
        assert!(
            section.contains("ns/a[Pod] is not protected on Ingress"),
            "{section}"
        );
        assert!(
            !section.contains("ns/b[Pod] is not protected on Ingress"),
            "{section}"
        );
        // b admits only pods labelled app=a of its namespace; that selector matches a workload
        // of the input exactly, so it is not a representative peer.
        assert!(!section.contains("ns/b[Pod] \t<= \tns/[pod"), "{section}");
    }
}
