//! The permutation π of PrivateCompare, applied to many rows at once: the same swaps, from the
//! same words of the stream, as `rand`'s `SliceRandom::shuffle` row by row (so a trace stays
//! bit-identical), without its per-draw overhead.
//!
//! `shuffle` (rand 0.8) is Durstenfeld's Fisher–Yates: for i = len − 1 down to 1 it swaps slot i
//! with slot `gen_range(0..i + 1)`, and `gen_range` over u32 draws one word v at a time and
//! accepts it when the low half of v·(i + 1) is at most `zone(i + 1)` (Lemire's widening
//! multiply with rand's conservative zone), returning the high half. Here the words are read in
//! bulk with `fill_bytes` — which yields the very words `next_u32` would, in the same order —
//! but never more than are certainly needed: every swap still to do consumes at least one word,
//! so a refill asks for at most as many words as swaps remain, and the stream ends exactly where
//! the row-by-row shuffle would leave it.

use rand::RngCore;

/// Words read from the stream per refill (at most; fewer near the end).
const CHUNK: usize = 4096;

/// rand's acceptance zone for `gen_range(0..range)` over u32 (`range` ≥ 2).
const fn zone(range: u32) -> u32 {
    (range << range.leading_zeros()).wrapping_sub(1)
}

/// Words of the stream, read ahead in bulk but never past the last word the shuffle will use.
struct Words<'a, G: ?Sized> {
    rng: &'a mut G,
    buf: Vec<u32>,
    pos: usize,
    /// Draws still to be made (each consumes at least one word) beyond those already buffered.
    unbuffered: usize,
}

impl<G: RngCore + ?Sized> Words<'_, G> {
    /// Makes at least `want` words available (fewer only if fewer draws remain), keeping the
    /// unread ones in order.
    fn reserve(&mut self, want: usize) {
        let have = self.buf.len() - self.pos;
        if have >= want || self.unbuffered == 0 {
            return;
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        let take = CHUNK.max(want).min(self.unbuffered);
        let start = self.buf.len();
        self.buf.resize(start + take, 0);
        // `fill` on [u32] reads the same words, in the same order, as `next_u32` would.
        rand::Rng::fill(self.rng, &mut self.buf[start..]);
        self.unbuffered -= take;
    }

    /// The W − 1 picks of one row's shuffle, `picks[t]` for slot W − 1 − t. Branch-free (a
    /// word is rejected with probability up to ½, which a branch would mispredict): every word
    /// writes its candidate pick at the current swap t, and t only moves on when it is accepted.
    fn row_picks<const W: usize>(&mut self, picks: &mut [u8; W]) {
        let swaps = W - 1;
        let mut t = 0;
        while t < swaps {
            if self.pos == self.buf.len() {
                self.reserve(swaps - t);
            }
            let w = self.buf[self.pos];
            self.pos += 1;
            let range = (W - t) as u32;
            let m = w as u64 * range as u64;
            picks[t] = (m >> 32) as u8;
            let accepted = (m as u32 <= zone(range)) as usize;
            // A rejected word leaves its draw to be made: one more word certainly to come.
            self.unbuffered += 1 - accepted;
            t += accepted;
        }
    }
}

/// The permutations of `rows` rows of W, one row at a time: row i's [`RowShuffle::shuffle`]
/// does what `row.shuffle(rng)` from rand 0.8 does to the i-th row (same permutation, same
/// stream consumption), so other work can be done between rows without another buffer.
/// 2 ≤ W ≤ 256 (narrower rows are left alone; wider ones are refused at compile time).
pub(crate) struct RowShuffle<'a, const W: usize, G: ?Sized> {
    words: Words<'a, G>,
    picks: [u8; W],
    /// Rows still to shuffle.
    rows: usize,
}

impl<'a, const W: usize, G: RngCore + ?Sized> RowShuffle<'a, W, G> {
    const FITS: () = assert!(W <= 256, "rows of at most 256");

    /// The shuffles of `rows` rows, reading words from `rng` as they are needed (never a word
    /// past the last one the `rows` shuffles use).
    pub(crate) fn new(rng: &'a mut G, rows: usize) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::FITS;
        let swaps = W.saturating_sub(1);
        RowShuffle {
            words: Words {
                rng,
                buf: Vec::with_capacity(CHUNK.min(rows * swaps)),
                pos: 0,
                unbuffered: rows * swaps,
            },
            picks: [0u8; W],
            rows,
        }
    }

    /// Shuffles the next row in place. Past the `rows` announced (a caller error), or for
    /// W < 2, the row is left alone and nothing is read.
    #[inline]
    pub(crate) fn shuffle<T>(&mut self, row: &mut [T; W]) {
        if W < 2 || self.rows == 0 {
            return;
        }
        self.rows -= 1;
        self.words.row_picks(&mut self.picks);
        // Swap t of a row (t = 0..W − 1) is slot i = W − 1 − t with range i + 1.
        for (t, &pk) in self.picks[..W - 1].iter().enumerate() {
            // pk < W − t ≤ W; `% W` only lets the compiler drop the bounds check.
            row.swap(W - 1 - t, pk as usize % W);
        }
    }
}

/// Shuffles each of the `data.len() / W` rows of `data` in place, in row order, exactly as
/// `row.shuffle(rng)` from rand 0.8 would (same permutations, same stream consumption).
/// A trailing part shorter than a row is left alone. 2 ≤ W ≤ 256.
#[cfg(test)]
pub(crate) fn shuffle_rows<const W: usize, T: Copy, G: RngCore + ?Sized>(
    data: &mut [T],
    rng: &mut G,
) {
    let mut rows = RowShuffle::<W, G>::new(rng, data.len() / W);
    for row in data.chunks_exact_mut(W) {
        let row: &mut [T; W] = row.try_into().expect("chunks of W");
        rows.shuffle(row);
    }
    debug_assert_eq!(
        rows.words.pos,
        rows.words.buf.len(),
        "every word read was used"
    );
}

#[cfg(test)]
mod tests {
    use super::shuffle_rows;
    use rand::seq::SliceRandom;
    use rand::{RngCore, SeedableRng};

    /// [`shuffle_rows`] for the widths the tests use.
    fn shuffle_dyn<G: RngCore>(data: &mut [u32], width: usize, rng: &mut G) {
        match width {
            1 => shuffle_rows::<1, _, _>(data, rng),
            2 => shuffle_rows::<2, _, _>(data, rng),
            5 => shuffle_rows::<5, _, _>(data, rng),
            7 => shuffle_rows::<7, _, _>(data, rng),
            64 => shuffle_rows::<64, _, _>(data, rng),
            _ => unreachable!("width {width}"),
        }
    }

    /// Row-by-row `SliceRandom::shuffle`, the reference.
    fn reference<G: RngCore>(data: &mut [u32], width: usize, rng: &mut G) {
        for row in data.chunks_exact_mut(width) {
            row.shuffle(rng);
        }
    }

    /// A stream whose words are often u32::MAX (rejected by every zone but a power of two's):
    /// more rejections than a ChaCha stream gives (up to half the words for some ranges).
    struct Sticky(crate::tensor::Prg);
    impl RngCore for Sticky {
        fn next_u32(&mut self) -> u32 {
            let v = self.0.next_u32();
            if v.is_multiple_of(3) {
                u32::MAX
            } else {
                v
            }
        }
        fn next_u64(&mut self) -> u64 {
            let lo = self.next_u32() as u64;
            lo | (self.next_u32() as u64) << 32
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(4) {
                let w = self.next_u32().to_le_bytes();
                chunk.copy_from_slice(&w[..chunk.len()]);
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    #[test]
    fn rows_are_shuffled_as_slice_shuffle_does_and_the_stream_ends_in_the_same_place() {
        for (rows, width) in [
            (0, 64),
            (1, 64),
            (3, 64),
            (200, 64),
            (70, 5),
            (9, 2),
            (4, 1),
        ] {
            for seed in 0..4u64 {
                let data: Vec<u32> = (0..(rows * width) as u32).collect();
                let (mut got, mut want) = (data.clone(), data);
                let mut a = crate::tensor::Prg::seed_from_u64(seed);
                let mut b = crate::tensor::Prg::seed_from_u64(seed);
                shuffle_dyn(&mut got, width, &mut a);
                reference(&mut want, width, &mut b);
                assert_eq!(got, want, "rows {rows}, width {width}, seed {seed}");
                assert_eq!(a.next_u64(), b.next_u64(), "stream position");
            }
        }
    }

    #[test]
    fn rejected_words_are_skipped_as_slice_shuffle_skips_them() {
        for (rows, width) in [(1, 64), (50, 64), (1100, 64), (30, 7)] {
            let data: Vec<u32> = (0..(rows * width) as u32).collect();
            let (mut got, mut want) = (data.clone(), data);
            let mut a = Sticky(crate::tensor::Prg::seed_from_u64(5));
            let mut b = Sticky(crate::tensor::Prg::seed_from_u64(5));
            shuffle_dyn(&mut got, width, &mut a);
            reference(&mut want, width, &mut b);
            assert_eq!(got, want, "rows {rows}, width {width}");
            assert_eq!(a.next_u32(), b.next_u32(), "stream position");
        }
    }
}
