//! Z_p elements drawn from a stream **a few at a time**, exactly as
//! [`random_zp_vec`](crate::ring::random_zp_vec) would draw all of them at once: the same
//! 256-byte buffers of the stream, the same rejection rule, the same elements in the same order,
//! and the stream left where `random_zp_vec(n, …)` leaves it (after the buffer in which the
//! n-th element was accepted; the rest of that buffer is dropped). PrivateCompare draws its
//! n·ℓ masks this way, one row of ℓ at a time, instead of materialising them (issue 11: C's
//! peak memory).

use crate::ring::{compact_zp, skip_zp_vec, zp_map};
use rand::RngCore;

/// `n` Z_p elements of a stream, handed out in order.
pub(crate) struct ZpStream<G> {
    rng: G,
    map: &'static [u8; 256],
    /// Elements of Z_p \ {0}, not Z_p.
    nonzero: bool,
    /// Elements of the current buffer: `vals[pos..have]` not yet handed out.
    vals: [u8; 256],
    pos: usize,
    have: usize,
    /// Elements accepted from the buffers read so far, and how many the stream holds in all.
    accepted: usize,
    n: usize,
}

impl<G: RngCore> ZpStream<G> {
    /// The `n` elements (of Z_p \ {0} when `nonzero`) that `random_zp_vec(n, rng, nonzero)`
    /// would draw; nothing is read from `rng` until asked for.
    pub(crate) fn new(rng: G, n: usize, nonzero: bool) -> Self {
        ZpStream {
            rng,
            map: zp_map(nonzero),
            nonzero,
            vals: [0; 256],
            pos: 0,
            have: 0,
            accepted: 0,
            n,
        }
    }

    /// Reads the next buffer of the stream (only while fewer than n elements were accepted,
    /// as `random_zp_vec` does).
    fn refill(&mut self) -> bool {
        if self.accepted >= self.n {
            return false;
        }
        let mut buf = [0u8; 256];
        self.rng.fill_bytes(&mut buf);
        self.have = compact_zp(&buf, self.map, &mut self.vals);
        self.pos = 0;
        self.accepted += self.have;
        true
    }

    /// Fills `out` with the next `out.len()` elements (as bytes 0..67). Past the n-th element
    /// (a caller error) the rest of `out` is left as it is and the stream is not read further.
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            if self.pos == self.have && !self.refill() {
                return;
            }
            let k = (self.have - self.pos).min(out.len() - done);
            out[done..done + k].copy_from_slice(&self.vals[self.pos..self.pos + k]);
            self.pos += k;
            done += k;
        }
    }

    /// Reads the rest of the stream as `random_zp_vec` would (counting the elements not handed
    /// out, not building them) and returns the generator, positioned where `random_zp_vec`
    /// leaves it.
    pub(crate) fn finish(mut self) -> G {
        // The buffers until n elements were accepted in all: `skip_zp_vec` of the rest.
        skip_zp_vec(
            self.n.saturating_sub(self.accepted),
            &mut self.rng,
            self.nonzero,
        );
        self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::ZpStream;
    use crate::ring::random_zp_vec;
    use rand::{RngCore, SeedableRng};

    #[test]
    fn rows_streamed_are_the_elements_drawn_at_once_and_the_stream_ends_in_the_same_place() {
        for n in [0usize, 1, 63, 64, 200, 201, 256, 640, 4096, 64 * 1001] {
            for nonzero in [false, true] {
                for row in [1usize, 7, 64, 300] {
                    let seed = (n * 3 + row) as u64;
                    let mut a = crate::tensor::Prg::seed_from_u64(seed);
                    let mut b = a.clone();
                    let want: Vec<u8> = random_zp_vec(n, &mut a, nonzero)
                        .iter()
                        .map(|z| z.0)
                        .collect();
                    let mut s = ZpStream::new(&mut b, n, nonzero);
                    let mut got = vec![0u8; n];
                    // Rows of `row` elements, then what is left; some of it never taken.
                    let taken = n - n / 3;
                    for piece in got[..taken].chunks_mut(row) {
                        s.fill(piece);
                    }
                    s.finish();
                    assert_eq!(got[..taken], want[..taken], "n {n}, row {row}, {nonzero}");
                    assert_eq!(a.next_u64(), b.next_u64(), "stream position, n {n}");
                }
            }
        }
    }
}
