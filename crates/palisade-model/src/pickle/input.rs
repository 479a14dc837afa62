//! A byte cursor over a `BufRead` with its own fixed buffer, so the opcode loop reads bytes and
//! small fixed-size arguments without a call into the reader per opcode, and with a movable read
//! limit, so a nested pickle inside a payload (or joblib's array region) can be parsed in place
//! without copying it out.

use std::io::{self, BufRead, ErrorKind};

/// Large enough that refills are rare, small enough to be irrelevant next to the memo.
const BUF_CAP: usize = 64 * 1024;

pub(super) struct Input<'r> {
    src: &'r mut dyn BufRead,
    buf: Vec<u8>,
    /// Next unread byte in `buf`.
    pos: usize,
    /// End of the bytes read into `buf`.
    end: usize,
    /// End of what may be read now: `end`, or less where the limit falls inside the buffer.
    lim: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Stream offset that reads must not pass.
    limit: u64,
    src_eof: bool,
}

impl<'r> Input<'r> {
    pub(super) fn new(src: &'r mut dyn BufRead) -> Self {
        Self::with_capacity(src, BUF_CAP)
    }

    /// For short in-memory sources (kept payloads), a buffer no larger than the data.
    pub(super) fn with_capacity(src: &'r mut dyn BufRead, capacity: usize) -> Self {
        Input {
            src,
            buf: vec![0; capacity.clamp(16, BUF_CAP)],
            pos: 0,
            end: 0,
            lim: 0,
            base: 0,
            limit: u64::MAX,
            src_eof: false,
        }
    }

    /// Stream offset of the next unread byte.
    #[inline]
    pub(super) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// Moves the read limit. Callers only ever lower it for a nested view and restore it after.
    pub(super) fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
        self.recompute_lim();
    }

    fn recompute_lim(&mut self) {
        let room = self.limit.saturating_sub(self.base);
        self.lim = if room < self.end as u64 {
            (room as usize).max(self.pos)
        } else {
            self.end
        };
    }

    /// Whether the limit (not the end of the stream) stops further reads.
    pub(super) fn at_limit(&self) -> bool {
        self.offset() >= self.limit
    }

    #[inline]
    pub(super) fn next(&mut self) -> io::Result<Option<u8>> {
        if self.pos < self.lim {
            let b = self.buf[self.pos];
            self.pos += 1;
            return Ok(Some(b));
        }
        self.next_slow()
    }

    #[cold]
    fn next_slow(&mut self) -> io::Result<Option<u8>> {
        if self.fill(1)? == 0 {
            return Ok(None);
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(Some(b))
    }

    /// The next `n` (<= 16) bytes without consuming them; fewer at the end.
    pub(super) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let avail = self.fill(n)?;
        Ok(&self.buf[self.pos..self.pos + avail.min(n)])
    }

    /// The buffer's size: the most [`Input::take`] can return.
    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The next `n` (<= [`Input::capacity`]) bytes, consumed, straight from the buffer; `None`
    /// if the stream (or limit) ends first.
    pub(super) fn take(&mut self, n: usize) -> io::Result<Option<&[u8]>> {
        if self.lim - self.pos < n && self.fill(n)? < n {
            return Ok(None);
        }
        let start = self.pos;
        self.pos += n;
        Ok(Some(&self.buf[start..start + n]))
    }

    /// A fixed-size argument, or `None` if the stream (or limit) ends first.
    #[inline]
    pub(super) fn array<const N: usize>(&mut self) -> io::Result<Option<[u8; N]>> {
        if self.lim - self.pos < N && self.fill(N)? < N {
            return Ok(None);
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        Ok(Some(out))
    }

    /// Makes up to `want` (<= the buffer size) bytes readable without another refill and returns
    /// how many are (fewer only at the end of the stream or the limit).
    pub(super) fn fill(&mut self, want: usize) -> io::Result<usize> {
        loop {
            let avail = self.lim - self.pos;
            if avail >= want || self.src_eof || self.base + self.end as u64 >= self.limit {
                return Ok(avail);
            }
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.end, 0);
                self.base += self.pos as u64;
                self.end -= self.pos;
                self.pos = 0;
            }
            if self.end == self.buf.len() {
                // Only a request larger than the buffer gets here; no caller makes one.
                return Ok(avail);
            }
            let n = loop {
                match self.src.read(&mut self.buf[self.end..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                self.src_eof = true;
            }
            self.end += n;
            self.recompute_lim();
        }
    }

    /// Consumes `n` bytes without looking at them, straight from the reader once the buffer is
    /// empty. Returns how many were consumed (fewer at the end of the stream or the limit).
    pub(super) fn skip(&mut self, n: u64) -> io::Result<u64> {
        let from_buf = n.min((self.lim - self.pos) as u64);
        self.pos += from_buf as usize;
        let mut done = from_buf;
        if done == n || self.lim < self.end {
            return Ok(done);
        }
        // The buffer is used up: drop it and consume the reader's own buffer directly.
        self.base += self.end as u64;
        self.pos = 0;
        self.end = 0;
        self.lim = 0;
        while done < n && !self.src_eof {
            let room = (n - done).min(self.limit.saturating_sub(self.base));
            if room == 0 {
                break;
            }
            let chunk = match self.src.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                self.src_eof = true;
                break;
            }
            let k = (chunk.len() as u64).min(room) as usize;
            self.src.consume(k);
            self.base += k as u64;
            done += k as u64;
        }
        Ok(done)
    }

    /// Consumes `n` bytes, handing them to `each` in chunks. Returns how many were consumed
    /// (fewer at the end), or stops early when `each` returns false.
    pub(super) fn chunks(
        &mut self,
        n: u64,
        mut each: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<u64> {
        let mut done = 0u64;
        while done < n {
            if self.pos == self.lim && self.fill(1)? == 0 {
                break;
            }
            let take = ((n - done) as usize).min(self.lim - self.pos);
            let keep_going = each(&self.buf[self.pos..self.pos + take]);
            self.pos += take;
            done += take as u64;
            if !keep_going {
                break;
            }
        }
        Ok(done)
    }

    /// Reads through the next `\n`, keeping at most `keep` bytes of the line (newline excluded)
    /// in `out`. Returns the line's full length and whether a newline ended it.
    pub(super) fn line(&mut self, keep: usize, out: &mut Vec<u8>) -> io::Result<(u64, bool)> {
        out.clear();
        let mut len = 0u64;
        loop {
            if self.pos == self.lim && self.fill(1)? == 0 {
                return Ok((len, false));
            }
            let chunk = &self.buf[self.pos..self.lim];
            let (part, found) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], true),
                None => (chunk, false),
            };
            let room = keep.saturating_sub(out.len());
            out.extend_from_slice(&part[..part.len().min(room)]);
            len += part.len() as u64;
            self.pos += part.len() + usize::from(found);
            if found {
                return Ok((len, true));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call, to exercise refills.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl io::Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    impl BufRead for Trickle<'_> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            let n = self.step.min(self.data.len());
            Ok(&self.data[..n])
        }
        fn consume(&mut self, n: usize) {
            self.data = &self.data[n..];
        }
    }

    #[test]
    fn reads_across_refills_and_respects_limits() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut src = Trickle {
            data: &data,
            step: 3,
        };
        let mut input = Input::new(&mut src);
        assert_eq!(input.next().unwrap(), Some(0));
        assert_eq!(input.array::<4>().unwrap(), Some([1, 2, 3, 4]));
        input.set_limit(10);
        assert_eq!(input.skip(100).unwrap(), 5);
        assert!(input.at_limit());
        assert_eq!(input.next().unwrap(), None);
        input.set_limit(u64::MAX);
        assert_eq!(input.next().unwrap(), Some(10));
        assert_eq!(input.skip(500).unwrap(), 500);
        assert_eq!(input.offset(), 511);
        assert_eq!(input.peek(2).unwrap(), &[255, 0]);
        let mut seen = 0u64;
        assert_eq!(
            input
                .chunks(400, |c| {
                    seen += c.len() as u64;
                    true
                })
                .unwrap(),
            400
        );
        assert_eq!(seen, 400);
        assert_eq!(input.skip(1000).unwrap(), 89);
        assert_eq!(input.next().unwrap(), None);
    }

    #[test]
    fn lines_keep_a_bounded_prefix() {
        let mut src: &[u8] = b"hello world\nrest";
        let mut input = Input::new(&mut src);
        let mut out = Vec::new();
        assert_eq!(input.line(5, &mut out).unwrap(), (11, true));
        assert_eq!(out, b"hello");
        assert_eq!(input.line(100, &mut out).unwrap(), (4, false));
        assert_eq!(out, b"rest");
    }
}
