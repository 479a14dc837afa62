//! Recognising a model file by its first bytes, never by its name: an attacker chooses the name,
//! and the loader that finally opens the file looks at the bytes (`torch.load` checks for a zip
//! header, `np.load` for `\x93NUMPY` or `PK`, joblib for its compressor magics).

/// How many leading bytes [`sniff`] wants to see. Everything it checks lies in the first 8 KiB
/// (the tar magic sits at 257; HDF5 allows a user block of 512..=4096 bytes before its signature).
pub const SNIFF_LEN: usize = 8192;

/// What the leading bytes say a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No bytes at all.
    Empty,
    /// A zip archive (PyTorch, NumPy .npz, Keras .keras, plain zip).
    Zip,
    /// A 7-Zip archive.
    SevenZip,
    /// A POSIX/GNU tar archive (or a v7 tar whose header checksum verifies).
    Tar,
    Gzip,
    Bzip2,
    Xz,
    /// The legacy `.lzma` ("alone") container, as `lzma.LZMAFile(format=FORMAT_ALONE)` writes it.
    Lzma,
    Lz4Frame,
    Zstd,
    /// A bare zlib stream (joblib's `compress=('zlib', n)`).
    Zlib,
    /// joblib's pre-0.10 `ZF` container: `ZF`, a padded hex length, then a zlib stream.
    JoblibZfile,
    /// A pickle with a PROTO header (protocol 2 to 5) followed by a valid opcode.
    Pickle {
        protocol: u8,
    },
    /// A legacy (pre-1.6, non-zip) `torch.save` file: stacked pickles starting with torch's magic
    /// number, then raw storage bytes.
    TorchLegacy,
    /// Might be a protocol 0/1 pickle (no header exists for those): the first byte is an opcode
    /// that can start one. Only a parse can confirm it.
    PickleCandidate,
    /// NumPy `.npy`.
    Npy,
    /// HDF5 (Keras `.h5` among others).
    Hdf5,
    Gguf,
    Safetensors,
    /// Might be a protobuf message of a known model schema (ONNX ModelProto, TensorFlow SavedModel
    /// or GraphDef): there is no magic, so only a walk of the whole message can confirm it.
    ProtobufCandidate(ProtoHint),
    Unknown,
}

/// Which protobuf schema the first field suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoHint {
    /// Field 1 is a varint: ONNX `ir_version` or SavedModel `saved_model_schema_version`.
    VersionFirst,
    /// Field 2 (length-delimited) first: a SavedModel without its schema version.
    MetaGraphsFirst,
    /// Field 1 length-delimited holding a message whose field 1 is a string: a GraphDef `node`.
    NodesFirst,
}

impl Kind {
    /// Whether the kind needs random access (the directory sits at the end, or the format is read
    /// by the archive library through `Seek`).
    pub fn needs_seek(self) -> bool {
        matches!(self, Kind::Zip | Kind::SevenZip)
    }

    /// Whether the kind is a compression layer around another stream.
    pub fn is_compression(self) -> bool {
        matches!(
            self,
            Kind::Gzip
                | Kind::Bzip2
                | Kind::Xz
                | Kind::Lzma
                | Kind::Lz4Frame
                | Kind::Zstd
                | Kind::Zlib
                | Kind::JoblibZfile
        )
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Empty => "empty",
            Kind::Zip => "zip",
            Kind::SevenZip => "7z",
            Kind::Tar => "tar",
            Kind::Gzip => "gzip",
            Kind::Bzip2 => "bzip2",
            Kind::Xz => "xz",
            Kind::Lzma => "lzma",
            Kind::Lz4Frame => "lz4",
            Kind::Zstd => "zstd",
            Kind::Zlib => "zlib",
            Kind::JoblibZfile => "joblib zlib (ZF)",
            Kind::Pickle { .. } => "pickle",
            Kind::TorchLegacy => "PyTorch legacy",
            Kind::PickleCandidate => "pickle (protocol 0/1)",
            Kind::Npy => "NumPy .npy",
            Kind::Hdf5 => "HDF5",
            Kind::Gguf => "GGUF",
            Kind::Safetensors => "safetensors",
            Kind::ProtobufCandidate(_) => "protobuf",
            Kind::Unknown => "unrecognised",
        }
    }
}

/// torch's serialization magic number (0x1950a86a20f9469cfc6c) as the first pickle of a legacy
/// file writes it: PROTO 2, LONG1 of 10 bytes, STOP.
const TORCH_LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e";

/// Identifies a stream from its first bytes (`head`, up to [`SNIFF_LEN`] of them; fewer means the
/// stream is that short).
pub fn sniff(head: &[u8]) -> Kind {
    if head.is_empty() {
        return Kind::Empty;
    }
    // Order matters only where magics could overlap; the fixed multi-byte magics come first, the
    // weak single-byte heuristics (pickle protocol 0/1, protobuf) last.
    if head.starts_with(b"PK\x03\x04")
        || head.starts_with(b"PK\x05\x06")
        || head.starts_with(b"PK\x07\x08")
    {
        return Kind::Zip;
    }
    if head.starts_with(b"7z\xbc\xaf\x27\x1c") {
        return Kind::SevenZip;
    }
    if head.starts_with(b"\x93NUMPY") {
        return Kind::Npy;
    }
    if hdf5_signature(head) {
        return Kind::Hdf5;
    }
    if head.starts_with(b"GGUF") {
        return Kind::Gguf;
    }
    if head.starts_with(b"\x1f\x8b\x08") {
        return Kind::Gzip;
    }
    if bzip2_magic(head) {
        return Kind::Bzip2;
    }
    if head.starts_with(b"\xfd7zXZ\x00") {
        return Kind::Xz;
    }
    if head.starts_with(b"\x04\x22\x4d\x18") {
        return Kind::Lz4Frame;
    }
    if head.starts_with(b"\x28\xb5\x2f\xfd") {
        return Kind::Zstd;
    }
    if joblib_zfile(head) {
        return Kind::JoblibZfile;
    }
    if zlib_header(head) {
        return Kind::Zlib;
    }
    if tar_header(head) {
        return Kind::Tar;
    }
    if safetensors_header(head) {
        return Kind::Safetensors;
    }
    if head.starts_with(TORCH_LEGACY_MAGIC) {
        return Kind::TorchLegacy;
    }
    if let Some(protocol) = pickle_proto(head) {
        return Kind::Pickle { protocol };
    }
    if lzma_alone_header(head) {
        return Kind::Lzma;
    }
    if let Some(hint) = protobuf_hint(head) {
        return Kind::ProtobufCandidate(hint);
    }
    if PICKLE_OPENERS.contains(&head[0]) {
        return Kind::PickleCandidate;
    }
    Kind::Unknown
}

/// Opcodes that CPython's unpickler executes on an empty stack with an empty memo, and so can
/// open a pickle that loads: MARK, the scalars and strings of every protocol, the empty
/// containers, GLOBAL, PERSID (with a loader's `persistent_load`), EXT1/2/4 (with a registered
/// extension), NEWTRUE/NEWFALSE, LONG1/LONG4, the protocol 4 strings and EMPTY_SET, FRAME,
/// BYTEARRAY8 and NEXT_BUFFER (with out-of-band buffers). PROTO is handled apart (its argument
/// must be a known protocol). Opcodes that pop (`R`, `t`, `.`, `0`, `b`, ...) or read the memo
/// (`g`, `h`, `j`) fail on an empty stack or memo, so a stream starting with one runs nothing.
const PICKLE_OPENERS: &[u8] =
    b"(FIJKLMNPSTUVXcG}])BC\x82\x83\x84\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x95\x96\x97";

/// Every pickle opcode up to protocol 5; after a PROTO header the next byte must be one of them.
const PICKLE_OPCODES: &[u8] = b"(.012BCFGIJKLMNPQRSTUVXabcdeghijlopqrstu}])\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98";

fn pickle_proto(head: &[u8]) -> Option<u8> {
    // CPython accepts PROTO with any protocol up to its highest (5), 0 and 1 included.
    match head {
        [0x80, protocol @ 0..=5, next, ..] if PICKLE_OPCODES.contains(next) => Some(*protocol),
        // A two-byte stream (PROTO n and nothing else) is a truncated pickle, still a pickle.
        [0x80, protocol @ 0..=5] => Some(*protocol),
        _ => None,
    }
}

/// Whether CPython's `pickle.load` would execute anything of a stream starting with `head`:
/// after any PROTO (of a known protocol) and FRAME headers, an opcode that can open a pickle.
/// Such a stream is scanned as a pickle whatever format it also looks like, because the loader
/// that unpickles it does not look at magics. A head that ends inside those headers counts as a
/// pickle: only the pickle scanner can tell how the rest reads.
pub fn opens_pickle(head: &[u8]) -> bool {
    let mut at = 0;
    loop {
        match head.get(at) {
            None => return at > 0,
            Some(0x80) => match head.get(at + 1) {
                Some(0..=5) => at += 2,
                Some(_) => return false,
                None => return true,
            },
            // FRAME and its 8-byte length.
            Some(0x95) => at += 9,
            Some(op) => return PICKLE_OPENERS.contains(op),
        }
    }
}

fn hdf5_signature(head: &[u8]) -> bool {
    const SIG: &[u8] = b"\x89HDF\r\n\x1a\n";
    // The superblock may follow a user block of 512 bytes or any larger power of two.
    [0usize, 512, 1024, 2048, 4096]
        .iter()
        .any(|&at| head.get(at..at + SIG.len()) == Some(SIG))
}

fn bzip2_magic(head: &[u8]) -> bool {
    // "BZh", the block size digit, then a block header or the end-of-stream marker.
    match head {
        [b'B', b'Z', b'h', b'1'..=b'9', rest @ ..] => {
            rest.starts_with(b"\x31\x41\x59\x26\x53\x59")
                || rest.starts_with(b"\x17\x72\x45\x38\x50\x90")
                || rest.len() < 6
        }
        _ => false,
    }
}

fn joblib_zfile(head: &[u8]) -> bool {
    // joblib writes b"ZF", then hex(len) such as "0x1a2b" left-justified in 19 characters.
    head.len() >= 2 + 19
        && head.starts_with(b"ZF0x")
        && head[4..21]
            .iter()
            .all(|b| b.is_ascii_hexdigit() || *b == b' ')
}

fn zlib_header(head: &[u8]) -> bool {
    // Only the 32 KiB window (0x78) that zlib.compress always writes: the smaller windows share
    // their first byte with pickle opcodes such as '(' and 'X'.
    matches!(head, [0x78, flg, ..] if (0x7800u16 | u16::from(*flg)).is_multiple_of(31) && flg & 0x20 == 0)
}

/// A ustar/GNU magic at 257, or (for v7 archives, which have none) a header checksum that verifies.
fn tar_header(head: &[u8]) -> bool {
    let Some(block) = head.get(..512) else {
        return false;
    };
    if &block[257..262] == b"ustar" {
        return true;
    }
    // v7: an ASCII name, an octal checksum at 148..156 equal to the byte sum with that field
    // counted as spaces.
    if block[0] == 0
        || !block[..100]
            .iter()
            .all(|b| *b == 0 || b.is_ascii_graphic() || *b == b' ')
    {
        return false;
    }
    let Some(stored) = octal(&block[148..156]) else {
        return false;
    };
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum();
    stored == sum
}

/// Parses a NUL/space-terminated octal tar field.
pub(crate) fn octal(field: &[u8]) -> Option<u64> {
    let text: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| *b != 0 && *b != b' ')
        .collect();
    if text.is_empty() || !text.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    text.iter().try_fold(0u64, |acc, b| {
        acc.checked_mul(8)?.checked_add(u64::from(b - b'0'))
    })
}

fn safetensors_header(head: &[u8]) -> bool {
    // An 8-byte little-endian header length, then the JSON header, which starts with '{'. The
    // length must be at least "{}" long; its upper bound is checked (and reported) by the parser.
    match head {
        [l0, l1, l2, l3, l4, l5, l6, l7, b'{', ..] => {
            let len = u64::from_le_bytes([*l0, *l1, *l2, *l3, *l4, *l5, *l6, *l7]);
            // Bytes 0..8 of a text file would make an absurd length; a real header is at most a
            // few MB (safetensors refuses more than 100 MB).
            (2..=1 << 32).contains(&len)
        }
        _ => false,
    }
}

/// The 13-byte `.lzma` header: a properties byte (lc/lp/pb, < 225), a dictionary size that
/// encoders only write as 2^n or 2^n + 2^(n-1), and an uncompressed size that is either unknown
/// (all ones) or plausible. The properties byte is usually 0x5d, which is also the pickle opcode
/// EMPTY_LIST, so the dictionary and size checks carry the weight.
fn lzma_alone_header(head: &[u8]) -> bool {
    let Some(header) = head.get(..13) else {
        return false;
    };
    if header[0] >= 225 {
        return false;
    }
    let dict = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    let dict_ok = dict >= 1 << 12 && {
        let top = 31 - dict.leading_zeros();
        dict == 1 << top || (top >= 1 && dict == (1 << top) | (1 << (top - 1)))
    };
    let size = u64::from_le_bytes([
        header[5], header[6], header[7], header[8], header[9], header[10], header[11], header[12],
    ]);
    dict_ok && (size == u64::MAX || size < 1 << 48)
}

/// Reads a protobuf varint from `bytes`, returning it and its length.
pub(crate) fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn protobuf_hint(head: &[u8]) -> Option<ProtoHint> {
    match head.first()? {
        // ONNX ir_version (1..=~12) or SavedModel schema version (1), then another field tag.
        0x08 => {
            let (version, used) = varint(&head[1..])?;
            let next = head.get(1 + used).copied();
            ((1..=64).contains(&version)
                && matches!(
                    next,
                    None | Some(0x12 | 0x1a | 0x22 | 0x28 | 0x32 | 0x3a | 0x42)
                ))
            .then_some(ProtoHint::VersionFirst)
        }
        0x12 => {
            let (len, used) = varint(&head[1..])?;
            // A MetaGraphDef starts with meta_info_def (1) or graph_def (2), both messages.
            let inner = head.get(1 + used).copied();
            (len >= 2 && matches!(inner, None | Some(0x0a | 0x12)))
                .then_some(ProtoHint::MetaGraphsFirst)
        }
        0x0a => {
            let (len, used) = varint(&head[1..])?;
            // NodeDef.name (field 1, a string) comes first.
            let inner = head.get(1 + used).copied();
            (len >= 2 && inner == Some(0x0a)).then_some(ProtoHint::NodesFirst)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_magics() {
        assert_eq!(sniff(b""), Kind::Empty);
        assert_eq!(sniff(b"PK\x03\x04rest"), Kind::Zip);
        assert_eq!(sniff(b"PK\x05\x06"), Kind::Zip);
        assert_eq!(sniff(b"7z\xbc\xaf\x27\x1c\x00\x04"), Kind::SevenZip);
        assert_eq!(sniff(b"\x93NUMPY\x01\x00"), Kind::Npy);
        assert_eq!(sniff(b"\x89HDF\r\n\x1a\n\x00"), Kind::Hdf5);
        assert_eq!(sniff(b"GGUF\x03\x00\x00\x00"), Kind::Gguf);
        assert_eq!(sniff(b"\x1f\x8b\x08\x00"), Kind::Gzip);
        assert_eq!(sniff(b"BZh91AY&SY"), Kind::Bzip2);
        assert_eq!(sniff(b"\xfd7zXZ\x00\x00"), Kind::Xz);
        assert_eq!(sniff(b"\x04\x22\x4d\x18"), Kind::Lz4Frame);
        assert_eq!(sniff(b"\x28\xb5\x2f\xfd"), Kind::Zstd);
        assert_eq!(sniff(b"x\x9c\x01\x02"), Kind::Zlib);
        assert_eq!(sniff(b"ZF0x1a               x\x9c"), Kind::JoblibZfile);
        assert_eq!(sniff(b"\x80\x04\x95\x10"), Kind::Pickle { protocol: 4 });
        assert_eq!(sniff(b"\x80\x02}q\x00"), Kind::Pickle { protocol: 2 });
        assert_eq!(sniff(TORCH_LEGACY_MAGIC), Kind::TorchLegacy);
    }

    #[test]
    fn hdf5_after_a_user_block() {
        let mut head = vec![0u8; 600];
        head[512..520].copy_from_slice(b"\x89HDF\r\n\x1a\n");
        assert_eq!(sniff(&head), Kind::Hdf5);
    }

    #[test]
    fn headerless_pickles_are_only_candidates() {
        assert_eq!(
            sniff(b"cos\nsystem\n(S'echo hi'\ntR."),
            Kind::PickleCandidate
        );
        assert_eq!(sniff(b"(dp0\nS'a'\np1\nI1\ns."), Kind::PickleCandidate);
        assert_eq!(sniff(b"]q\x00(K\x01K\x02e."), Kind::PickleCandidate);
        assert_eq!(sniff(b"N."), Kind::PickleCandidate);
        // Opcodes that need a stack, and text that is no pickle.
        assert_eq!(sniff(b"tR."), Kind::Unknown);
        assert_eq!(sniff(b"{\"a\": 1}"), Kind::Unknown);
        // A PNG opens with NEWFALSE, which CPython executes: only a parse tells it is no pickle.
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), Kind::PickleCandidate);
        // A PROTO header needs a valid opcode after it, and a known protocol.
        assert_eq!(sniff(b"\x80\x04\x00"), Kind::Unknown);
        assert_eq!(sniff(b"\x80\x09N."), Kind::Unknown);
    }

    #[test]
    fn safetensors_needs_a_json_header() {
        let mut file = 12u64.to_le_bytes().to_vec();
        file.extend_from_slice(b"{\"a\":\"b\"}   ");
        assert_eq!(sniff(&file), Kind::Safetensors);
        let mut absurd = u64::MAX.to_le_bytes().to_vec();
        absurd.push(b'{');
        assert_ne!(sniff(&absurd), Kind::Safetensors);
    }

    #[test]
    fn lzma_alone_header_is_checked_beyond_its_first_byte() {
        // Preset 6: properties 0x5d, 8 MiB dictionary, unknown size.
        let mut header = vec![0x5d, 0, 0, 0x80, 0];
        header.extend_from_slice(&[0xff; 8]);
        header.extend_from_slice(b"\x00\x3f");
        assert_eq!(sniff(&header), Kind::Lzma);
        // ']' followed by pickle opcodes is not an lzma header.
        assert_eq!(
            sniff(b"]q\x00(X\x01\x00\x00\x00aq\x01e."),
            Kind::PickleCandidate
        );
    }

    #[test]
    fn tar_by_magic_or_checksum() {
        let mut block = vec![0u8; 512];
        block[..5].copy_from_slice(b"a.pkl");
        block[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(sniff(&block), Kind::Tar);
        let mut v7 = vec![0u8; 512];
        v7[..5].copy_from_slice(b"a.pkl");
        v7[148..156].copy_from_slice(b"        ");
        let sum: u32 = v7.iter().map(|b| u32::from(*b)).sum();
        let field = format!("{sum:06o}\0 ");
        v7[148..156].copy_from_slice(field.as_bytes());
        assert_eq!(sniff(&v7), Kind::Tar);
        v7[0] = b'b';
        assert_ne!(sniff(&v7), Kind::Tar);
    }

    #[test]
    fn protobuf_candidates() {
        // ONNX: ir_version 8, producer_name "pytorch".
        assert_eq!(
            sniff(b"\x08\x08\x12\x07pytorch"),
            Kind::ProtobufCandidate(ProtoHint::VersionFirst)
        );
        // SavedModel without schema version: meta_graphs { graph_def { ... } }.
        assert_eq!(
            sniff(b"\x12\x21\x12\x1f\x0a\x0e"),
            Kind::ProtobufCandidate(ProtoHint::MetaGraphsFirst)
        );
        // GraphDef: node { name: "x" }.
        assert_eq!(
            sniff(b"\x0a\x05\x0a\x01x\x12\x00"),
            Kind::ProtobufCandidate(ProtoHint::NodesFirst)
        );
        // A text file starting with a blank line is not.
        assert_eq!(sniff(b"\n\nhello"), Kind::Unknown);
    }

    #[test]
    fn octal_fields() {
        assert_eq!(octal(b"0000644\0"), Some(0o644));
        assert_eq!(octal(b"  17 \0"), Some(0o17));
        assert_eq!(octal(b"\0\0"), None);
        assert_eq!(octal(b"9"), None);
    }
}
