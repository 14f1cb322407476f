//! The replication backlog: the last `repl-backlog-size` bytes of the replication stream, so a replica that
//! briefly lost its link can continue (`+CONTINUE`) instead of reloading everything (`+FULLRESYNC`).

use std::collections::VecDeque;

use bytes::Bytes;

/// A bounded window over the replication stream. Stream bytes are numbered from 1; the backlog holds bytes
/// `first_offset ..= end_offset`.
#[derive(Debug, Clone)]
pub struct Backlog {
    data: VecDeque<u8>,
    capacity: usize,
    /// Offset of the last byte ever appended (Redis's `master_repl_offset`).
    end_offset: u64,
}

impl Backlog {
    /// An empty backlog whose next byte will be `end_offset + 1`.
    pub fn new(capacity: usize, end_offset: u64) -> Self {
        Backlog {
            data: VecDeque::new(),
            capacity: capacity.max(1),
            end_offset,
        }
    }

    /// Appends stream bytes, forgetting the oldest beyond capacity.
    pub fn append(&mut self, bytes: &[u8]) {
        self.end_offset += bytes.len() as u64;
        if bytes.len() >= self.capacity {
            self.data.clear();
            self.data.extend(&bytes[bytes.len() - self.capacity..]);
            return;
        }
        let overflow = (self.data.len() + bytes.len()).saturating_sub(self.capacity);
        self.data.drain(..overflow);
        self.data.extend(bytes);
    }

    /// Changes the capacity (`CONFIG SET repl-backlog-size`), dropping the oldest bytes if it shrinks.
    pub fn resize(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        let overflow = self.data.len().saturating_sub(self.capacity);
        self.data.drain(..overflow);
    }

    /// Offset of the last byte appended.
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// Offset of the oldest byte held (`end_offset + 1` when empty).
    pub fn first_offset(&self) -> u64 {
        self.end_offset + 1 - self.data.len() as u64
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// The bytes from `offset` to the end, if `offset` is inside the window (or just past its end, which
    /// continues with nothing to send).
    pub fn since(&self, offset: u64) -> Option<Bytes> {
        if offset < self.first_offset() || offset > self.end_offset + 1 {
            return None;
        }
        let skip = (offset - self.first_offset()) as usize;
        Some(self.data.iter().skip(skip).copied().collect::<Vec<u8>>().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_offsets() {
        let mut b = Backlog::new(4, 10);
        b.append(b"ab");
        assert_eq!((b.first_offset(), b.end_offset()), (11, 12));
        b.append(b"cde");
        assert_eq!((b.first_offset(), b.end_offset()), (12, 15));
        assert_eq!(b.since(13).unwrap(), Bytes::from_static(b"cde"));
        assert_eq!(b.since(16).unwrap(), Bytes::new());
        assert!(b.since(11).is_none());
        assert!(b.since(17).is_none());
        b.append(b"0123456789");
        assert_eq!(b.since(22).unwrap(), Bytes::from_static(b"6789"));
    }
}
