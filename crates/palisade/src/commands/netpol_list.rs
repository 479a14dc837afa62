//! `palisade netpol list`: the connections that manifests allow. The analysis lives in
//! palisade-netpol; this module reads the arguments and writes the report.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use palisade_netpol::{Direction, Format, Protocol, ReportOptions};

use crate::cli::{NetpolFocusDirection, NetpolListArgs, NetpolListFormat};

/// Parses `--focus-conn` (`tcp-8080`).
fn focus_conn(text: &str) -> anyhow::Result<(Protocol, u16)> {
    let Some((proto, port)) = text.split_once('-') else {
        bail!("invalid --focus-conn {text:?}: expected <protocol>-<port>, e.g. tcp-8080");
    };
    let Some(protocol) = Protocol::parse(proto) else {
        bail!("invalid --focus-conn {text:?}: unknown protocol {proto:?} (tcp, udp or sctp)");
    };
    match port.parse::<u16>() {
        Ok(p) if p >= 1 => Ok((protocol, p)),
        _ => bail!("invalid --focus-conn {text:?}: port {port:?} is not in 1-65535"),
    }
}

/// A writer that remembers the last byte written through it.
struct LastByte<W> {
    inner: W,
    last: Option<u8>,
}

impl<W: Write> Write for LastByte<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The format and the output file: `-o` is an output file as in every command, except that a
/// format name there is np-guard's `-o FORMAT` (documented); `-f`/`--format` and `--file` say
/// the same without ambiguity.
fn format_and_file(
    args: &NetpolListArgs,
) -> anyhow::Result<(NetpolListFormat, Option<std::path::PathBuf>)> {
    use clap::ValueEnum;
    let alias = args
        .output
        .as_deref()
        .and_then(|o| NetpolListFormat::from_str(o, false).ok());
    let file = match (&args.output, alias, &args.file) {
        (Some(_), None, Some(_)) => bail!("-o FILE and --file both name an output file"),
        (Some(path), None, None) => Some(std::path::PathBuf::from(path)),
        (_, _, file) => file.clone(),
    };
    let format = match (args.format, alias) {
        (Some(f), Some(a)) if f != a => bail!("--format and -o name different formats"),
        (Some(f), _) | (None, Some(f)) => f,
        (None, None) => NetpolListFormat::Txt,
    };
    Ok((format, file))
}

pub fn run(args: NetpolListArgs) -> anyhow::Result<ExitCode> {
    let (format, file) = format_and_file(&args)?;
    let options = ReportOptions {
        format: match format {
            NetpolListFormat::Txt => Format::Txt,
            NetpolListFormat::Json => Format::Json,
            NetpolListFormat::Csv => Format::Csv,
            NetpolListFormat::Md => Format::Md,
            NetpolListFormat::Dot => Format::Dot,
        },
        focus_workloads: args.focus_workloads,
        focus_workload_peers: args.focus_workload_peers,
        focus_direction: args.focus_direction.map(|d| match d {
            NetpolFocusDirection::Ingress => Direction::Ingress,
            NetpolFocusDirection::Egress => Direction::Egress,
        }),
        focus_conn: args.focus_conn.as_deref().map(focus_conn).transpose()?,
        exposure: args.exposure,
    };
    let started = std::time::Instant::now();
    let cluster = palisade_netpol::load_dir(&args.dirpath)?;
    tracing::debug!(elapsed = ?started.elapsed(), workloads = cluster.workloads.len(), "loaded");
    for warning in &cluster.warnings {
        tracing::warn!("{warning}");
    }
    let connectivity = palisade_netpol::analyze(&cluster)?;
    tracing::debug!(elapsed = ?started.elapsed(), classes = connectivity.class_count(), "analysed");
    // Streamed: the report can be far larger than the analysis (every pair of workloads).
    let sink: Box<dyn Write> = match &file {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = LastByte {
        inner: std::io::BufWriter::new(sink),
        last: None,
    };
    palisade_netpol::report::render_to(&connectivity, &options, &mut out)
        .and_then(|()| {
            // Upstream's files end without a newline; a terminal wants one (comparisons ignore
            // it).
            // A file gets upstream's bytes exactly.
            match out.last {
                Some(b) if b != b'\n' && file.is_none() => out.write_all(b"\n"),
                _ => Ok(()),
            }
        })
        .and_then(|()| out.flush())
        .context("writing the report")?;
    tracing::debug!(elapsed = ?started.elapsed(), "rendered");
    Ok(ExitCode::SUCCESS)
}
