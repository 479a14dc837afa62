//! Compression layers (joblib's compressors, and whatever else wraps a model): each is undone as
//! a stream, metered against the file's expanded-size budget, and what comes out is scanned by
//! its own content.

use std::io::{self, BufRead, Read};

use crate::formats::Kind;
use crate::scan::{self, Ctx, Depth, Hints, Scanned, State, Trail};

/// Dictionary memory an LZMA/XZ stream may ask for. xz's strongest preset uses a 64 MiB
/// dictionary; a header asking for gigabytes is hostile, not a model.
pub(crate) const LZMA_MEMORY_LIMIT_KIB: u32 = 256 * 1024;

/// Opens the decompressor for `kind` over `reader`.
pub(crate) fn decoder<'r>(
    kind: Kind,
    mut reader: Box<dyn BufRead + 'r>,
) -> io::Result<Box<dyn Read + 'r>> {
    Ok(match kind {
        // Concatenated members are legal gzip/bzip2 and each decoder reads them all, as
        // Python's gzip and bz2 modules do.
        Kind::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Kind::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(reader)),
        Kind::Zlib => Box::new(flate2::bufread::ZlibDecoder::new(reader)),
        Kind::JoblibZfile => {
            // "ZF", then the uncompressed length in hex padded to 19 characters; the length is
            // not needed (the zlib stream ends itself) and not trusted.
            let mut header = [0u8; 21];
            reader.read_exact(&mut header)?;
            Box::new(flate2::bufread::ZlibDecoder::new(reader))
        }
        Kind::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
            reader,
            true,
            LZMA_MEMORY_LIMIT_KIB,
        )),
        Kind::Lzma => Box::new(lzma_rust2::LzmaReader::new_mem_limit(
            reader,
            LZMA_MEMORY_LIMIT_KIB,
            None,
        )?),
        Kind::Lz4Frame => Box::new(lz4_flex::frame::FrameDecoder::new(reader)),
        Kind::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(reader)?;
            // zstd's default window cap (128 MiB), stated so a library default cannot raise it.
            decoder.window_log_max(27)?;
            Box::new(decoder)
        }
        other => {
            return Err(io::Error::other(format!(
                "{} is not a compression format",
                other.name()
            )))
        }
    })
}

/// Undoes one compression layer and scans what it held.
pub(crate) fn scan(
    ctx: &Ctx<'_>,
    trail: &Trail,
    kind: Kind,
    reader: &mut dyn BufRead,
    depth: Depth,
    hints: Hints,
) -> Scanned {
    if depth.layers >= ctx.opts.max_compression_depth {
        ctx.limit(
            trail,
            0,
            format!(
                "more than {} nested compression layers",
                ctx.opts.max_compression_depth
            ),
        );
        return Scanned::new(kind.name(), State::Stopped);
    }
    let decoded = match decoder(kind, Box::new(reader)) {
        Ok(decoded) => decoded,
        Err(e) => {
            let failed = scan::stream_failure(
                ctx,
                trail,
                0,
                &e,
                &format!("opening the {} stream", kind.name()),
            );
            return Scanned::new(kind.name(), failed.state);
        }
    };
    let mut metered = ctx.meter(decoded, trail);
    let inner = scan::scan_reader(
        ctx,
        trail,
        &mut metered,
        None,
        Depth {
            layers: depth.layers + 1,
            ..depth
        },
        // The decompressed content is sniffed on its own: a compressed data.pkl is still
        // unpickled by its loader only after decompression, which the hint still covers. It is
        // a new stream, so it gets its own pickle pass.
        Hints {
            pickle_scanned: false,
            ..hints
        },
    );
    Scanned::new(format!("{}: {}", kind.name(), inner.format), inner.state)
}

#[cfg(test)]
mod tests {
    use crate::finding::Severity;
    use crate::scan::ScanOptions;
    use crate::testutil::*;

    #[test]
    fn every_compressor_is_undone_and_its_pickle_scanned() {
        type Compressor = fn(&[u8]) -> Vec<u8>;
        let cases: [(&str, Compressor); 8] = [
            ("gzip", gzip),
            ("zlib", zlib),
            ("bzip2", bzip2),
            ("xz", xz),
            ("lzma", lzma_alone),
            ("lz4", lz4),
            ("zstd", zstd),
            ("joblib zlib (ZF)", joblib_zfile),
        ];
        for (name, compress) in cases {
            let outcome = scan(&compress(EVIL_P2));
            assert_eq!(
                format(&outcome),
                format!("{name}: pickle (protocol 2)"),
                "{name}"
            );
            assert_routed(&outcome, &[]);
            let benign = scan(&compress(BENIGN_P2));
            assert!(
                dangerous(&benign).is_empty(),
                "{name}: {:?}",
                benign.findings
            );
        }
    }

    #[test]
    fn nested_compression_is_bounded() {
        let mut data = EVIL_P2.to_vec();
        for _ in 0..6 {
            data = gzip(&data);
        }
        let outcome = scan(&data);
        assert_eq!(rules(&outcome), [crate::rules::LIMIT.code]);
        assert!(format(&outcome).starts_with("gzip: gzip: gzip: gzip: gzip"));
    }

    #[test]
    fn expansion_past_the_budget_stops_with_a_limit() {
        // 64 MiB of zeros compress to a few KiB: far past 1024 times the file's size. (An array,
        // so that the scanner reads it all: content it does not recognise it would not read.)
        let bomb = zstd(&npy("<f8", "(8388608,)", &vec![0u8; 64 << 20]));
        let options = ScanOptions {
            expansion_floor: 1 << 20,
            parallel: false,
            ..ScanOptions::default()
        };
        let outcome = scan_with(&bomb, options);
        let limits = with_rule(&outcome, crate::rules::LIMIT.code);
        assert_eq!(limits.len(), 1, "{:?}", outcome.findings);
        assert_eq!(limits[0].severity, Severity::Suspicious);
        assert!(dangerous(&outcome).is_empty());
    }

    #[test]
    fn damaged_streams_are_suspicious_not_dangerous() {
        let mut broken = gzip(&npy(
            "|u1",
            "(100000,)",
            &(0..100_000u32)
                .map(|i| (i * 7919 % 251) as u8)
                .collect::<Vec<_>>(),
        ));
        let middle = broken.len() / 2;
        broken.truncate(middle);
        let outcome = scan(&broken);
        assert_eq!(rules(&outcome), [crate::rules::UNPARSEABLE.code]);
        assert_eq!(outcome.findings[0].severity, Severity::Suspicious);
        let header_only = scan(b"\x1f\x8b\x08\x00");
        assert_eq!(header_only.findings[0].severity, Severity::Suspicious);
    }

    #[test]
    fn xz_dictionary_demands_are_refused() {
        // An xz stream header then a block header asking for LZMA2's largest dictionary (4 GiB).
        let mut file = xz(EVIL_P2);
        // Block header: size byte, flags (1 filter), filter id 0x21 (LZMA2), props size 1, props.
        // Patch the LZMA2 dictionary property (byte 12 + 4) to 40, the maximum.
        assert_eq!(file[12 + 2], 0x21);
        file[12 + 4] = 40;
        // Re-seal the block header with its CRC32 so that only the dictionary is wrong.
        let header_len = (usize::from(file[12]) + 1) * 4;
        let mut crc = flate2::Crc::new();
        crc.update(&file[12..12 + header_len - 4]);
        file[12 + header_len - 4..12 + header_len].copy_from_slice(&crc.sum().to_le_bytes());
        let outcome = scan(&file);
        assert_eq!(rules(&outcome), [crate::rules::UNPARSEABLE.code]);
        assert_eq!(outcome.findings[0].severity, Severity::Suspicious);
        assert!(
            outcome.findings[0].message.contains("memory"),
            "{}",
            outcome.findings[0].message
        );
    }
}
