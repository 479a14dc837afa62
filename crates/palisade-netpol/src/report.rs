//! The connectivity report in upstream's (np-guard netpol-analyzer) formats: txt, json, csv, md
//! and dot, with the exposure section. What to report (format, focus, exposure) is
//! [`options::ReportOptions`].

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

pub mod options;

pub use options::{Direction, Format, ReportOptions};

use crate::analyze::{Connectivity, PeerRef, RowDestination, RowSource};
use crate::exposure::{self, ExposureBuilder, ExposureLine};
use options::Focus;

/// One end of the report's connections, with what the focus options say of it.
struct Peer<'c, At> {
    /// The name the report prints.
    name: String,
    /// The name the report sorts by.
    key: String,
    peer: PeerRef<'c>,
    at: At,
    /// What the focus options say of it.
    focus: Focus,
}

fn peer<'c, At>(opts: &ReportOptions, peer: PeerRef<'c>, at: At, quoted: bool) -> Peer<'c, At> {
    let name = peer.to_string();
    Peer {
        key: if quoted {
            dot_quote(&name)
        } else {
            name.clone()
        },
        name,
        peer,
        at,
        focus: opts.focus_of(&peer),
    }
}

/// Calls `line` with every listed connection (source, destination, connections as printed),
/// sorted by source and then destination `key` (the name, or with `quoted` its dot id). The
/// peers are sorted once and each source's row is computed when it is reached, so nothing of
/// the size of the report is held.
fn for_each_line<'a>(
    conn: &'a Connectivity<'_>,
    opts: &ReportOptions,
    quoted: bool,
    mut line: impl FnMut(&Peer<'a, RowSource>, &Peer<'a, RowDestination>, &str) -> io::Result<()>,
) -> io::Result<()> {
    let cluster = conn.cluster();
    let workloads = cluster.workloads.iter().enumerate();
    let mut sources: Vec<Peer<'a, RowSource>> = workloads
        .clone()
        .map(|(i, w)| peer(opts, PeerRef::Workload(w), RowSource::Workload(i), quoted))
        .chain(
            conn.source_blocks()
                .iter()
                .enumerate()
                .map(|(a, b)| peer(opts, PeerRef::External(b), RowSource::Block(a), quoted)),
        )
        .collect();
    let mut destinations: Vec<Peer<'a, RowDestination>> = workloads
        .map(|(i, w)| {
            let at = RowDestination::Workload(i);
            peer(opts, PeerRef::Workload(w), at, quoted)
        })
        .chain(
            conn.destination_blocks()
                .iter()
                .enumerate()
                .map(|(a, b)| peer(opts, PeerRef::External(b), RowDestination::Block(a), quoted)),
        )
        .collect();
    sources.sort_by(|a, b| a.key.cmp(&b.key));
    destinations.sort_by(|a, b| a.key.cmp(&b.key));

    // Each destination's place in the sorted order, so that a row visits only the destinations
    // it reaches (in that order), never every destination: with many address blocks, sources x
    // destinations was the quadratic part of the report.
    let mut place_of_workload = vec![0u32; cluster.workloads.len()];
    let mut place_of_block = vec![0u32; conn.destination_blocks().len()];
    for (i, dst) in destinations.iter().enumerate() {
        match dst.at {
            RowDestination::Workload(w) => place_of_workload[w] = i as u32,
            RowDestination::Block(a) => place_of_block[a] = i as u32,
        }
    }
    let mut reached: Vec<RowDestination> = Vec::new();
    let mut places: Vec<u32> = Vec::new();

    let focus = opts.focus_conn_set();
    let focus_text = focus.as_ref().map(ToString::to_string);
    let mut row = conn.source_row();
    // The printed form of each of the current row's sets: a row has few distinct sets.
    let mut texts: Vec<Option<String>> = Vec::new();
    for src in &sources {
        if !opts.may_include_from(src.focus) {
            continue;
        }
        row.load(src.at);
        texts.clear();
        reached.clear();
        row.reached(&mut reached);
        places.clear();
        places.extend(reached.iter().map(|d| match *d {
            RowDestination::Workload(w) => place_of_workload[w],
            RowDestination::Block(a) => place_of_block[a],
        }));
        places.sort_unstable();
        for dst in places.iter().map(|&i| &destinations[i as usize]) {
            if !opts.includes(src.focus, dst.focus) {
                continue;
            }
            let Some((i, set)) = row.to(dst.at) else {
                continue;
            };
            let text = match (&focus, &focus_text) {
                (Some(f), Some(t)) if f.is_subset(set) => t.as_str(),
                (Some(_), _) => continue,
                (None, _) => {
                    if texts.len() <= i {
                        texts.resize(i + 1, None);
                    }
                    texts[i].get_or_insert_with(|| set.to_string()).as_str()
                }
            };
            line(src, dst, text)?;
        }
    }
    // `{` sorts after every namespace name and address, so the ingress controller's lines,
    // sorted by destination, come last.
    // The controller has no row of its own (its connections are precomputed), so its `at` is
    // never loaded.
    let controller = peer(
        opts,
        PeerRef::IngressController,
        RowSource::Block(0),
        quoted,
    );
    if !opts.may_include_from(controller.focus) {
        return Ok(());
    }
    let ingress = conn.ingress_connections();
    for dst in &destinations {
        let RowDestination::Workload(i) = dst.at else {
            continue;
        };
        if !opts.includes(controller.focus, dst.focus) {
            continue;
        }
        let Ok(k) = ingress.binary_search_by_key(&i, |(w, _)| *w) else {
            continue;
        };
        let set = &ingress[k].1;
        match (&focus, &focus_text) {
            (Some(f), Some(t)) if f.is_subset(set) => line(&controller, dst, t)?,
            (Some(_), _) => {}
            (None, _) => line(&controller, dst, &set.to_string())?,
        }
    }
    Ok(())
}

/// Renders the report into a string.
pub fn render(conn: &Connectivity<'_>, opts: &ReportOptions) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every piece written is a str.
    let _ = render_to(conn, opts, &mut out);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes the report to `out` as it is produced: the connectivity list is not held in memory
/// (the exposure section and the dot graph's nodes are, being about the size of the input).
/// Write it to a buffered writer: it writes in small pieces.
pub fn render_to(
    conn: &Connectivity<'_>,
    opts: &ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let focus = opts.focus_conn_set().map(|f| f.to_string());
    let focus = focus.as_deref();
    let exposure = opts
        .exposure_enabled()
        .then(|| ExposureBuilder::new(conn, opts));
    match opts.format {
        Format::Txt => txt(conn, opts, exposure, focus, out),
        Format::Json => json(conn, opts, exposure, focus.is_some(), out),
        Format::Csv => csv(conn, opts, exposure, focus, out),
        Format::Md => md(conn, opts, exposure, focus, out),
        Format::Dot => dot(conn, opts, exposure, out),
    }
}

fn txt(
    conn: &Connectivity<'_>,
    opts: &ReportOptions,
    mut exposure: Option<ExposureBuilder<'_>>,
    focus: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut wrote = false;
    if let Some(f) = focus {
        writeln!(out, "Permitted connections on {f}:")?;
        wrote = true;
    }
    for_each_line(conn, opts, false, |src, dst, c| {
        if let Some(b) = &mut exposure {
            b.add_connection(&src.name, &dst.name, c);
        }
        wrote = true;
        match focus {
            Some(_) => writeln!(out, "{} => {}", src.name, dst.name),
            None => writeln!(out, "{} => {} : {c}", src.name, dst.name),
        }
    })?;
    let Some(exp) = exposure.map(ExposureBuilder::finish) else {
        return Ok(());
    };
    if wrote {
        out.write_all(b"\n")?;
    }
    let width = exp.max_peer_len;
    let write_line = |out: &mut dyn Write, l: &ExposureLine, ingress: bool| -> io::Result<()> {
        let (wl, other) = if ingress {
            (&l.dst, &l.src)
        } else {
            (&l.src, &l.dst)
        };
        let arrow = if ingress { "<=" } else { "=>" };
        match focus {
            Some(_) => writeln!(out, "{wl:<width$} \t{arrow} \t{other}"),
            None => writeln!(out, "{wl:<width$} \t{arrow} \t{other} : {}", l.conn),
        }
    };
    out.write_all(b"Exposure Analysis Result")?;
    if let Some(f) = focus {
        write!(out, " On {f}")?;
    }
    out.write_all(b":\n")?;
    if !exp.egress.is_empty() {
        out.write_all(b"Egress Exposure:\n")?;
        for l in &exp.egress {
            write_line(out, l, false)?;
        }
    }
    if !exp.ingress.is_empty() {
        if !exp.egress.is_empty() {
            out.write_all(b"\n")?;
        }
        out.write_all(b"Ingress Exposure:\n")?;
        for l in &exp.ingress {
            write_line(out, l, true)?;
        }
    }
    if focus.is_none() && !exp.unprotected.is_empty() {
        out.write_all(b"\nWorkloads not protected by network policies:\n")?;
        for u in &exp.unprotected {
            writeln!(out, "{u}")?;
        }
    }
    Ok(())
}

fn json_str(out: &mut dyn Write, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(io::Error::other)
}

/// A JSON array of `{"src","dst"[,"conn"]}` objects written an item at a time, laid out as
/// `serde_json::to_string_pretty` lays it out at `depth` (in two-space steps).
struct JsonArray {
    pad: String,
    with_conn: bool,
    items: usize,
}

impl JsonArray {
    fn new(depth: usize, with_conn: bool) -> Self {
        Self {
            pad: "  ".repeat(depth),
            with_conn,
            items: 0,
        }
    }

    fn item(&mut self, out: &mut dyn Write, src: &str, dst: &str, conn: &str) -> io::Result<()> {
        // The bracket waits for the first item: an empty array is `[]`.
        out.write_all(if self.items == 0 { b"[\n" } else { b",\n" })?;
        self.items += 1;
        let pad = &self.pad;
        write!(out, "{pad}  {{\n{pad}    \"src\": ")?;
        json_str(out, src)?;
        write!(out, ",\n{pad}    \"dst\": ")?;
        json_str(out, dst)?;
        if self.with_conn {
            write!(out, ",\n{pad}    \"conn\": ")?;
            json_str(out, conn)?;
        }
        write!(out, "\n{pad}  }}")
    }

    fn finish(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.items == 0 {
            out.write_all(b"[]")
        } else {
            write!(out, "\n{}]", self.pad)
        }
    }
}

fn json(
    conn: &Connectivity<'_>,
    opts: &ReportOptions,
    mut exposure: Option<ExposureBuilder<'_>>,
    focus: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (top, ex) = if focus {
        ("connlist_conn_focus_results", "exposure_conn_focus_results")
    } else {
        ("connlist_results", "exposure_results")
    };
    let mut conns = JsonArray::new(usize::from(exposure.is_some()), !focus);
    if exposure.is_some() {
        write!(out, "{{\n  \"{top}\": ")?;
    }
    for_each_line(conn, opts, false, |src, dst, c| {
        if let Some(b) = &mut exposure {
            b.add_connection(&src.name, &dst.name, c);
        }
        conns.item(out, &src.name, &dst.name, c)
    })?;
    conns.finish(out)?;
    let Some(exp) = exposure.map(ExposureBuilder::finish) else {
        return Ok(());
    };
    write!(out, ",\n  \"{ex}\": {{")?;
    for (key, lines) in [
        ("egress_exposure", &exp.egress),
        ("ingress_exposure", &exp.ingress),
    ] {
        let sep = if key == "egress_exposure" { "" } else { "," };
        write!(out, "{sep}\n    \"{key}\": ")?;
        if lines.is_empty() && !focus {
            // Upstream's exposure lists are nil when empty, which Go encodes as `null` (with a
            // focus connection they are made, empty, and encode as `[]`).
            out.write_all(b"null")?;
            continue;
        }
        let mut items = JsonArray::new(2, !focus);
        for l in lines {
            items.item(out, &l.src, &l.dst, &l.conn)?;
        }
        items.finish(out)?;
    }
    out.write_all(b"\n  }\n}")
}

fn csv_field(out: &mut dyn Write, field: &str) -> io::Result<()> {
    if field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') {
        write!(out, "\"{}\"", field.replace('"', "\"\""))
    } else {
        out.write_all(field.as_bytes())
    }
}

fn csv_row(out: &mut dyn Write, fields: &[&str]) -> io::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        csv_field(out, f)?;
    }
    out.write_all(b"\n")
}

fn csv(
    conn: &Connectivity<'_>,
    opts: &ReportOptions,
    mut exposure: Option<ExposureBuilder<'_>>,
    focus: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let row = |out: &mut dyn Write, a: &str, b: &str, c: &str| {
        if focus.is_some() {
            csv_row(out, &[a, b])
        } else {
            csv_row(out, &[a, b, c])
        }
    };
    row(out, "src", "dst", "conn")?;
    for_each_line(conn, opts, false, |src, dst, c| {
        if let Some(b) = &mut exposure {
            b.add_connection(&src.name, &dst.name, c);
        }
        row(out, &src.name, &dst.name, c)
    })?;
    let Some(exp) = exposure.map(ExposureBuilder::finish) else {
        return Ok(());
    };
    let header = match focus {
        Some(f) => format!("Exposure Analysis Result On {f}:"),
        None => "Exposure Analysis Result:".to_string(),
    };
    csv_row(out, &[&header, "", ""])?;
    if !exp.egress.is_empty() {
        csv_row(out, &["Egress Exposure:", "", ""])?;
        row(out, "src", "dst", "conn")?;
        for l in &exp.egress {
            row(out, &l.src, &l.dst, &l.conn)?;
        }
    }
    if !exp.ingress.is_empty() {
        csv_row(out, &["Ingress Exposure:", "", ""])?;
        row(out, "dst", "src", "conn")?;
        for l in &exp.ingress {
            row(out, &l.dst, &l.src, &l.conn)?;
        }
    }
    Ok(())
}

fn md(
    conn: &Connectivity<'_>,
    opts: &ReportOptions,
    mut exposure: Option<ExposureBuilder<'_>>,
    focus: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let header = |out: &mut dyn Write, src_first: bool| -> io::Result<()> {
        let (a, b) = if src_first {
            ("src", "dst")
        } else {
            ("dst", "src")
        };
        match focus {
            Some(_) => write!(out, "| {a} | {b} |\n|-----|-----|"),
            None => write!(out, "| {a} | {b} | conn |\n|-----|-----|------|"),
        }
    };
    let row = |out: &mut dyn Write, a: &str, b: &str, c: &str| -> io::Result<()> {
        match focus {
            Some(_) => write!(out, "| {a} | {b} |"),
            None => write!(out, "| {a} | {b} | {c} |"),
        }
    };
    // Upstream joins the table's lines, then the exposure title and sections, with newlines.
    header(out, true)?;
    for_each_line(conn, opts, false, |src, dst, c| {
        if let Some(b) = &mut exposure {
            b.add_connection(&src.name, &dst.name, c);
        }
        out.write_all(b"\n")?;
        row(out, &src.name, &dst.name, c)
    })?;
    let Some(exp) = exposure.map(ExposureBuilder::finish) else {
        return out.write_all(b"\n");
    };
    match focus {
        Some(f) => write!(out, "\n## Exposure Analysis Result On {f}:")?,
        None => out.write_all(b"\n## Exposure Analysis Result:")?,
    }
    for (name, lines, ingress) in [
        ("Egress Exposure:", &exp.egress, false),
        ("Ingress Exposure:", &exp.ingress, true),
    ] {
        out.write_all(b"\n")?;
        if lines.is_empty() {
            continue;
        }
        writeln!(out, "### {name}")?;
        header(out, !ingress)?;
        for l in lines {
            out.write_all(b"\n")?;
            if ingress {
                row(out, &l.dst, &l.src, &l.conn)?;
            } else {
                row(out, &l.src, &l.dst, &l.conn)?;
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(())
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

/// The graph: its nodes come first, so the connections are gone through twice (once for the
/// peers that have any, once to write the edges); only the nodes are held.
fn dot(
    conn: &Connectivity<'_>,
    opts: &ReportOptions,
    exposure: Option<ExposureBuilder<'_>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut ns_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rep_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut external = Vec::new();
    let mut seen = HashSet::new();
    let mut add_peer =
        |id: &str, p: &PeerRef<'_>, ns_groups: &mut BTreeMap<String, Vec<String>>| {
            if seen.contains(id) {
                return;
            }
            seen.insert(id.to_string());
            match p {
                PeerRef::External(_) => external.push(dot_node(id, id, "red2", "")),
                // Outside every namespace cluster, drawn as a workload; it sorts after the
                // address blocks as its id does.
                PeerRef::IngressController => external.push(dot_node(id, id, "blue", "")),
                PeerRef::Workload(w) => ns_groups
                    .entry(format!("{}[namespace]", w.namespace))
                    .or_default()
                    .push(format!(
                        "\t{}",
                        dot_node(id, &format!("{}[{}]", w.name, w.kind), "blue", "")
                    )),
            }
        };
    for_each_line(conn, opts, true, |src, dst, _| {
        add_peer(&src.name, &src.peer, &mut ns_groups);
        add_peer(&dst.name, &dst.peer, &mut ns_groups);
        Ok(())
    })?;
    let focus_peers = !opts.focus_workload_peers.is_empty() && !opts.focus_workloads.is_empty();
    for w in &conn.cluster().workloads {
        let p = PeerRef::Workload(w);
        let focus = opts.focus_of(&p);
        if focus.focus || (focus_peers && focus.focus_peer) {
            add_peer(&p.to_string(), &p, &mut ns_groups);
        }
    }
    // The graph leaves out the section's lines with external blocks, so the builder is not
    // offered the connectivity lines.
    let mut exposure_edges = Vec::new();
    if let Some(exp) = exposure.map(ExposureBuilder::finish) {
        for p in &exp.exposed_peers {
            add_peer(&p.to_string(), p, &mut ns_groups);
        }
        let (ext, edges) = exposure::dot_data(&exp, &mut ns_groups, &mut rep_groups);
        external.extend(ext);
        exposure_edges = edges;
    }
    exposure_edges.sort();
    external.sort();
    out.write_all(b"digraph {")?;
    for (groups, color) in [(&ns_groups, "black"), (&rep_groups, "red2")] {
        for (ns, peers) in groups {
            let mut peers = peers.clone();
            peers.sort();
            write!(
                out,
                "\n\tsubgraph \"cluster_{}\" {{\n\t\tcolor=\"{color}\"\n\t\tfontcolor=\"{color}\"",
                ns.replace('-', "_")
            )?;
            for p in &peers {
                write!(out, "\n{p}")?;
            }
            write!(out, "\n\t\tlabel=\"{ns}\"\n\t}}")?;
        }
    }
    for e in &external {
        write!(out, "\n{e}")?;
    }
    // The edges are sorted as text. Sorting the peers by their quoted ids gives the
    // connectivity edges in that order (a quoted id is never a prefix of another), and the
    // exposure section's few edges are merged in.
    let mut pending = exposure_edges.iter().peekable();
    for_each_line(conn, opts, true, |src, dst, c| {
        let (s, d) = (&src.name, &dst.name);
        let weight = if s <= d { "0.5" } else { "1" };
        let edge = dot_edge(s, d, c, "gold2", weight, "");
        while let Some(e) = pending.next_if(|e| **e < edge) {
            write!(out, "\n{e}")?;
        }
        write!(out, "\n{edge}")
    })?;
    for e in pending {
        write!(out, "\n{e}")?;
    }
    out.write_all(b"\n}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze, load_str, Protocol};

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
    fn streamed_json_is_laid_out_as_serde_pretty_prints_it() {
        let plain = format(Format::Json);
        let value: serde_json::Value = serde_json::from_str(&plain).unwrap();
        assert_eq!(plain, serde_json::to_string_pretty(&value).unwrap());
        // With the exposure section and a focus connection (its lists are `[]`, never `null`).
        let nested = render_with(ReportOptions {
            format: Format::Json,
            exposure: true,
            focus_conn: Some((Protocol::Tcp, 80)),
            ..ReportOptions::default()
        });
        let value: serde_json::Value = serde_json::from_str(&nested).unwrap();
        assert_eq!(nested, serde_json::to_string_pretty(&value).unwrap());
        assert!(value["exposure_conn_focus_results"]["egress_exposure"].is_array());
        let empty = render_with(ReportOptions {
            format: Format::Json,
            focus_conn: Some((Protocol::Udp, 1)),
            focus_workloads: vec!["b".into()],
            // b admits only TCP 80 and 443.
            focus_direction: Some(Direction::Ingress),
            ..ReportOptions::default()
        });
        assert_eq!(empty, "[]");
    }

    #[test]
    fn dot_edges_with_exposure_are_sorted_as_text() {
        let dot = render_with(ReportOptions {
            format: Format::Dot,
            exposure: true,
            ..ReportOptions::default()
        });
        let edges: Vec<&str> = dot.lines().filter(|l| l.contains(" -> ")).collect();
        assert!(edges.iter().any(|e| e.contains("style=dashed")), "{dot}");
        assert!(edges.iter().any(|e| e.contains("gold2")), "{dot}");
        let mut sorted = edges.clone();
        sorted.sort_unstable();
        assert_eq!(edges, sorted);
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
