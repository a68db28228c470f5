//! A party's log of step records, kept in fixed-size chunks instead of one `Vec`.
//!
//! Why (issue 11, per-step memory): a long run logs hundreds of thousands of steps per party.
//! One growing `Vec` doubles its buffer, so at each growth the old and the new buffer exist at
//! once (3× the records' size for a moment), and the whole buffer stays allocated while the
//! trace is built from it. Chunks grow by one chunk at a time and are freed one by one as the
//! trace takes the records out ([`StepLog::pop`]).

/// Records per chunk: 4096 × 136-byte `PartyStep` ≈ 0.5 MiB.
const CHUNK: usize = 4096;

/// A `Vec`-like log of `T`, indexed from 0, stored in chunks of [`CHUNK`] elements.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepLog<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for StepLog<T> {
    fn default() -> Self {
        StepLog {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone + Default> StepLog<T> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `x`.
    pub fn push(&mut self, x: T) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(x),
            _ => {
                // The first chunk grows like a `Vec` (small runs stay small); later ones are
                // allocated whole.
                let mut c = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                c.push(x);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }

    /// Sets element `i`, first extending the log with defaults up to it.
    pub fn set(&mut self, i: usize, x: T) {
        while self.len <= i {
            self.push(T::default());
        }
        self.chunks[i / CHUNK][i % CHUNK] = x;
    }

    /// Element `i`.
    pub fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| &self.chunks[i / CHUNK][i % CHUNK])
    }

    /// Clones of the elements from `from` on (none when `from ≥ len`).
    pub fn tail(&self, from: usize) -> Vec<T> {
        (from..self.len)
            .filter_map(|i| self.get(i).cloned())
            .collect()
    }

    /// Keeps the first `n` elements.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len {
            return;
        }
        let keep_chunks = n.div_ceil(CHUNK);
        self.chunks.truncate(keep_chunks);
        if let Some(c) = self.chunks.last_mut() {
            c.truncate(n - (keep_chunks - 1) * CHUNK);
        }
        self.len = n;
    }

    /// Removes and returns the last element; an emptied chunk is freed at once.
    pub fn pop(&mut self) -> Option<T> {
        let c = self.chunks.last_mut()?;
        let x = c.pop();
        if c.is_empty() {
            self.chunks.pop();
        }
        if x.is_some() {
            self.len -= 1;
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a `Vec` doing the same, across chunk boundaries.
    #[test]
    fn behaves_as_a_vec() {
        let mut log = StepLog::default();
        let mut v: Vec<u32> = Vec::new();
        for i in 0..(2 * CHUNK + 5) as u32 {
            log.push(i);
            v.push(i);
        }
        assert_eq!(log.len(), v.len());
        log.set(3 * CHUNK + 1, 7);
        v.resize(3 * CHUNK + 2, 0);
        v[3 * CHUNK + 1] = 7;
        assert_eq!(log.len(), v.len());
        for from in [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 3, v.len(), v.len() + 9] {
            assert_eq!(
                log.tail(from),
                v.get(from..).unwrap_or_default(),
                "tail {from}"
            );
        }
        for n in [3 * CHUNK + 2, 3 * CHUNK, 2 * CHUNK + 1, CHUNK, CHUNK - 1] {
            log.truncate(n);
            v.truncate(n);
            assert_eq!(log.tail(0), v, "truncate {n}");
        }
        while let Some(x) = log.pop() {
            assert_eq!(Some(x), v.pop());
            assert_eq!(log.len(), v.len());
            assert_eq!(log.chunks.len(), v.len().div_ceil(CHUNK));
        }
        assert!(v.is_empty() && log.len() == 0);
        assert_eq!(log.get(0), None);
    }
}
