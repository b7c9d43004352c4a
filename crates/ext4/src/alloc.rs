//! Block allocation: one cursor moving up from block 0.
//!
//! Everything is placed in the order it is asked for, stepping over the
//! superblock backups. So the image's content is contiguous and ordered
//! like the tree, there is no free-space fragmentation at all, and the
//! cursor at the end is exactly how many blocks the content needs. It may
//! run past the end of the filesystem: sizing uses that to find how much
//! more room is needed.

/// Contiguous blocks `start..start + len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub start: u64,
    pub len: u64,
}

impl Run {
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

pub(crate) struct Allocator {
    next: u64,
    /// Sorted, non-overlapping areas never handed out.
    reserved: Vec<Run>,
    /// The first reserved area not yet behind the cursor.
    ahead: usize,
    used: Vec<Run>,
}

impl Allocator {
    pub fn new(reserved: Vec<Run>) -> Self {
        Allocator { next: 0, reserved, ahead: 0, used: Vec::new() }
    }

    /// `n` blocks, split only where a reserved area is in the way.
    pub fn alloc(&mut self, n: u64) -> Vec<Run> {
        let mut runs = Vec::new();
        let mut left = n;
        while left > 0 {
            let room = self.room();
            let len = left.min(room);
            runs.push(self.take(len));
            left -= len;
        }
        runs
    }

    /// `n` blocks in one piece, skipping a gap too short for it.
    pub fn alloc_contiguous(&mut self, n: u64) -> u64 {
        while self.room() < n {
            self.next += self.room();
        }
        self.take(n).start
    }

    /// One past the last block handed out.
    pub fn end(&self) -> u64 {
        self.next
    }

    /// Every block in use, reserved ones included, as sorted merged runs.
    pub fn into_used(self) -> Vec<Run> {
        let mut all = self.used;
        all.extend(self.reserved.into_iter().filter(|r| r.len > 0));
        all.sort_by_key(|r| r.start);
        let mut merged: Vec<Run> = Vec::with_capacity(all.len());
        for r in all {
            match merged.last_mut() {
                Some(last) if last.end() >= r.start => last.len = last.len.max(r.end() - last.start),
                _ => merged.push(r),
            }
        }
        merged
    }

    /// Free blocks from the cursor to the next reserved area, after moving
    /// the cursor past any reserved area it stands on.
    fn room(&mut self) -> u64 {
        while let Some(r) = self.reserved.get(self.ahead) {
            if r.start > self.next {
                return r.start - self.next;
            }
            self.next = self.next.max(r.end());
            self.ahead += 1;
        }
        u64::MAX - self.next
    }

    fn take(&mut self, len: u64) -> Run {
        let run = Run { start: self.next, len };
        self.next += len;
        match self.used.last_mut() {
            Some(last) if last.end() == run.start => last.len += len,
            _ => self.used.push(run),
        }
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_over_reserved_areas() {
        let mut a = Allocator::new(vec![Run { start: 0, len: 2 }, Run { start: 10, len: 3 }]);
        assert_eq!(a.alloc(5), [Run { start: 2, len: 5 }]);
        assert_eq!(a.alloc(5), [Run { start: 7, len: 3 }, Run { start: 13, len: 2 }]);
        assert_eq!(a.alloc_contiguous(1), 15);
        assert_eq!(a.end(), 16);
        assert_eq!(a.into_used(), [Run { start: 0, len: 16 }]);
    }

    #[test]
    fn contiguous_requests_skip_short_gaps() {
        let mut a = Allocator::new(vec![Run { start: 4, len: 1 }]);
        assert_eq!(a.alloc_contiguous(3), 0);
        assert_eq!(a.alloc_contiguous(3), 5);
        assert_eq!(a.into_used(), [Run { start: 0, len: 3 }, Run { start: 4, len: 4 }]);
    }
}
