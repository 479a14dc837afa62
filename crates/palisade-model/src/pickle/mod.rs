//! Pickle streams, scanned without being loaded.
//!
//! A streaming parser of every opcode of protocols 0-5 feeds a small abstract machine (stack,
//! marks and memo of abstract values), so that each global the pickle imports is named even when
//! it is assembled through the memo (STACK_GLOBAL operands fetched by GET), and classified by the
//! [`Policy`]. Beyond plain pickles the scan follows:
//!
//! * several pickles stacked in one stream (joblib, legacy PyTorch, and attackers hiding a second
//!   pickle after a harmless first one);
//! * joblib's raw array bytes, written between the opcodes after each `NumpyArrayWrapper`: they
//!   are skipped exactly (and, for object arrays, the nested pickle joblib writes instead is
//!   scanned), so what follows an array is still parsed; the skipped bytes are also read the way
//!   a plain `pickle.load` would read them, as opcodes;
//! * pickles inside bytes values, scanned when they are handed to a loader (`pickle.loads`,
//!   `torch.load`, ...) and reported as suspicious when merely embedded.
//!
//! Memory is bounded by [`Limits`] and fixed caps, not by the size of the stream: payloads beyond
//! `max_kept_bytes` are consumed without being stored (and past 64 MiB of kept payload per pickle,
//! only strings of up to 256 bytes are kept), dicts keep only the entries the scanner reads back,
//! containers at most 64 items, and declared lengths are never trusted for an allocation.
//!
//! A memo or stack over its limit is an error, like a damaged stream: a pickle of more than
//! `max_memo` memoized objects (each string, tuple, list and dict counts) needs a higher limit.

mod input;
mod machine;
mod numpy;
mod text;
mod value;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

use std::io::BufRead;

use crate::finding::{Finding, Location};
use crate::policy::Policy;

pub use machine::{
    RULE_AMBIGUOUS_ARRAY, RULE_ARRAY, RULE_DANGEROUS, RULE_EXTENSION, RULE_INDIRECT, RULE_MUTATION,
    RULE_NESTED, RULE_UNKNOWN, RULE_UNKNOWN_CALL, RULE_UNRESOLVED,
};

/// Bounds that keep a hostile pickle from exhausting memory or time.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Memo entries tracked.
    pub max_memo: usize,
    /// Stack depth tracked.
    pub max_stack: usize,
    /// The longest string or bytes value kept (longer ones are skipped, recorded by length only).
    pub max_kept_bytes: usize,
    /// How deep pickles nested inside pickles are followed.
    pub max_nesting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memo: 1 << 20,
            max_stack: 1 << 16,
            max_kept_bytes: 1 << 16,
            max_nesting: 8,
        }
    }
}

/// What a scan of one stream saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Complete pickles (one per STOP) in the stream.
    pub pickles: usize,
    pub opcodes: u64,
    /// Every global referenced, `module.name`, in order of first appearance (the first 4096).
    pub globals: Vec<String>,
    /// References to globals beyond the first 4096 distinct ones.
    pub globals_omitted: u64,
    /// Bytes after the last complete pickle that are not a pickle (0 if none).
    pub trailing_bytes: u64,
    /// Why the bytes after the last complete pickle were not read as another one, if they
    /// started like one.
    pub trailing_error: Option<String>,
    /// joblib arrays whose data was skipped or (object arrays) scanned as a nested pickle.
    pub arrays: u64,
    /// Raw array bytes skipped.
    pub array_bytes: u64,
    /// Pickles found inside bytes values or joblib object arrays and scanned.
    pub nested_pickles: u64,
    /// PERSID/BINPERSID opcodes (PyTorch's storages): resolved by the loader, not the pickle.
    pub persistent_ids: u64,
    /// Findings dropped after the per-stream cap (1000).
    pub findings_suppressed: u64,
}

/// Scans every pickle in `reader` (several may be stacked, as joblib and legacy PyTorch write
/// them) and appends findings. `location` names the stream; findings carry its file and members
/// with their own byte offsets. A stream that cannot be parsed yields an `Err` *and* whatever
/// findings were made before the damage.
///
/// Reads the stream to its end, except after an error. Bytes after a complete pickle that do not
/// form another one end the scan without an error (see [`Summary::trailing_bytes`]).
pub fn scan_stream(
    reader: &mut dyn BufRead,
    location: &Location,
    policy: &Policy,
    limits: &Limits,
    out: &mut Vec<Finding>,
) -> Result<Summary, PickleError> {
    let mut input = input::Input::new(reader);
    let mut shared = machine::Shared::new(policy, limits);
    let ctx = shared.context(location.clone(), 0);
    match machine::scan_top(&mut input, &mut shared, out, ctx) {
        Ok(()) => Ok(shared.summary),
        Err(fail) => Err(PickleError {
            offset: fail.offset,
            message: fail.message,
        }),
    }
}

/// Why a stream is not a (complete, valid) pickle, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset}: {message}")]
pub struct PickleError {
    pub offset: u64,
    pub message: String,
}
