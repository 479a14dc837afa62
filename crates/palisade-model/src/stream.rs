//! Readers the scanner composes: byte windows into a seekable source, counters, the meter that
//! enforces the expanded-size budget, and the wrapper that tells a failing disk from damaged
//! content.

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, Read, Seek, SeekFrom};

/// Random access, as zip and 7z need it.
pub(crate) trait ReadSeek: Read + Seek {}
impl<T: Read + Seek + ?Sized> ReadSeek for T {}

/// Reads up to `limit` bytes, fewer only at the end of the stream. Never allocates more than it
/// reads.
pub(crate) fn read_up_to(reader: &mut dyn Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(limit.min(1 << 16));
    reader.take(limit as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Reads and discards the rest of a stream, returning how many bytes there were.
pub(crate) fn drain(reader: &mut dyn Read) -> io::Result<u64> {
    io::copy(reader, &mut io::sink())
}

/// A fixed byte range of a seekable source, itself seekable: lets a stored zip member (a nested
/// archive, say) be read in place instead of being copied out first.
pub(crate) struct Window<'a> {
    inner: &'a mut dyn ReadSeek,
    start: u64,
    len: u64,
    pos: u64,
}

impl<'a> Window<'a> {
    pub(crate) fn new(inner: &'a mut dyn ReadSeek, start: u64, len: u64) -> Self {
        Self {
            inner,
            start,
            len,
            pos: 0,
        }
    }
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.len.saturating_sub(self.pos);
        if remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        // Seek on every read: the window shares its source with whoever else holds it.
        self.inner.seek(SeekFrom::Start(self.start + self.pos))?;
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of a window",
            )
        })?;
        self.pos = target;
        Ok(target)
    }
}

/// Counts the bytes read through it.
pub(crate) struct Counting<R> {
    pub(crate) inner: R,
    pub(crate) count: u64,
}

impl<R> Counting<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self { inner, count: 0 }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count += amt as u64;
        self.inner.consume(amt);
    }
}

/// The file being scanned. An I/O error from it means the file could not be read (reported as a
/// read error, exit 2), which must not be confused with damaged content (a finding): the first
/// such error is kept for the caller, and `failed` is raised so that every parser reading through
/// the file stops without blaming the content.
pub(crate) struct Tracked<'f, R> {
    inner: R,
    error: RefCell<Option<String>>,
    failed: &'f Cell<bool>,
}

impl<'f, R> Tracked<'f, R> {
    pub(crate) fn new(inner: R, failed: &'f Cell<bool>) -> Self {
        Self {
            inner,
            error: RefCell::new(None),
            failed,
        }
    }
    pub(crate) fn error(&self) -> Option<String> {
        self.error.borrow().clone()
    }
    fn note<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            if e.kind() != io::ErrorKind::Interrupted {
                self.error.borrow_mut().get_or_insert_with(|| e.to_string());
                self.failed.set(true);
            }
        }
        result
    }
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.inner.read(buf);
        self.note(result)
    }
}

impl<R: Seek> Seek for Tracked<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let result = self.inner.seek(pos);
        self.note(result)
    }
}

/// A streaming multi-pattern search: feed it bytes in any chunking and it reports every match
/// with its absolute offset, including matches that straddle two chunks.
pub(crate) struct Searcher {
    patterns: Vec<Vec<u8>>,
    carry: Vec<u8>,
    /// Absolute offset of `carry[0]`.
    carry_at: u64,
    longest: usize,
    /// (pattern index, offset) of every match, capped.
    pub(crate) hits: Vec<(usize, u64)>,
}

/// More matches than this are not recorded one by one: a file full of them is flagged anyway.
const MAX_HITS: usize = 64;

impl Searcher {
    pub(crate) fn new(patterns: &[&[u8]]) -> Self {
        let longest = patterns.iter().map(|p| p.len()).max().unwrap_or(1).max(1);
        let patterns = patterns.iter().map(|p| p.to_vec()).collect();
        Self {
            patterns,
            carry: Vec::new(),
            carry_at: 0,
            longest,
            hits: Vec::new(),
        }
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        // Search the carried tail joined with the new chunk; the tail is shorter than the longest
        // pattern, so a match found starting inside it is new unless it also ended there.
        let mut window = std::mem::take(&mut self.carry);
        let carried = window.len();
        window.extend_from_slice(chunk);
        // One pass over the bytes, looking closer only where some pattern could start: this runs
        // over whole multi-gigabyte HDF5 and protobuf files.
        let mut starts = [false; 256];
        for pattern in &self.patterns {
            if let Some(first) = pattern.first() {
                starts[usize::from(*first)] = true;
            }
        }
        for (start, byte) in window.iter().enumerate() {
            if !starts[usize::from(*byte)] || self.hits.len() >= MAX_HITS {
                continue;
            }
            for (index, pattern) in self.patterns.iter().enumerate() {
                let end = start + pattern.len();
                if pattern.is_empty() || end <= carried || end > window.len() {
                    continue;
                }
                if window[start..end] == pattern[..] {
                    self.hits.push((index, self.carry_at + start as u64));
                }
            }
        }
        let keep = (self.longest - 1).min(window.len());
        let cut = window.len() - keep;
        self.carry_at += cut as u64;
        self.carry = window.split_off(cut);
    }
}

/// Passes every byte read through it to a [`Searcher`].
pub(crate) struct Tap<'s, R> {
    pub(crate) inner: R,
    pub(crate) searcher: &'s mut Searcher,
}

impl<R: Read> Read for Tap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.searcher.feed(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn window_reads_and_seeks_within_its_range() {
        let mut source = Cursor::new(b"0123456789".to_vec());
        let mut window = Window::new(&mut source, 3, 4);
        let mut out = String::new();
        window.read_to_string(&mut out).unwrap();
        assert_eq!(out, "3456");
        window.seek(SeekFrom::Start(1)).unwrap();
        let mut two = [0u8; 2];
        window.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"45");
        window.seek(SeekFrom::End(-1)).unwrap();
        assert_eq!(read_up_to(&mut window, 10).unwrap(), b"6");
        assert!(window.seek(SeekFrom::Current(-5)).is_err());
    }

    #[test]
    fn searcher_finds_matches_across_chunks_once() {
        let text = b"xx\"class_name\": \"Lambda\"yy\"class_name\":\"Lambda\"";
        for chunk in [1usize, 2, 3, 7, 64] {
            let mut searcher =
                Searcher::new(&[b"\"class_name\": \"Lambda\"", b"\"class_name\":\"Lambda\""]);
            for piece in text.chunks(chunk) {
                searcher.feed(piece);
            }
            searcher.hits.sort_by_key(|(_, at)| *at);
            assert_eq!(searcher.hits, vec![(0, 2), (1, 26)], "chunk size {chunk}");
        }
    }

    #[test]
    fn tracked_keeps_the_first_error() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::PermissionDenied, "denied"))
            }
        }
        let failed = Cell::new(false);
        let mut tracked = Tracked::new(Failing, &failed);
        assert!(tracked.read(&mut [0u8; 4]).is_err());
        assert_eq!(tracked.error().as_deref(), Some("denied"));
        assert!(failed.get());
    }
}
