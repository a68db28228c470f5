//! The one door between protocol kernels and the world.
//!
//! Kernels never touch threads, sockets or clocks. They send and receive byte strings, draw
//! randomness, mark protocol steps and record values through [`Context`]. The simulator implements
//! it over in-memory channels with a network model; a socket implementation could run the same
//! kernels for real.

use crate::error::Result;
use crate::ring::Ring;
use crate::tensor::{self, Tensor};
use serde::{Deserialize, Serialize};

/// Index of a party in the run (see the protocol's placement for which index plays which role).
pub type PartyId = usize;

/// Whether a message belongs to the online phase or to the dealer's offline phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Traffic {
    /// Data-dependent traffic between the parties during evaluation.
    Online,
    /// Correlated randomness from a dealer (crypto producer / helper), independent of the data.
    Offline,
}

/// How to read raw elements: the ring (or kind of value) they belong to. Messages and records
/// carry it so that a view shows a Z_67 element as 0–66, a bit as 0/1 and a seed as bytes,
/// never as fixed point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RingKind {
    /// Z_2^64 (shares, masked values, fixed-point encodings).
    Z64,
    /// Z_2^128 (`ring_bits: 128`): 16 bytes per element on the wire; a record keeps each
    /// element's low word in `values` and its high word beside it.
    Z128,
    /// The odd ring Z_(2^64 − 1).
    Odd,
    /// Z_p, p = 67.
    Zp,
    /// A bit (0 or 1) held in a Z_2^64 word.
    Bit,
    /// Raw bytes of a PRG seed or key (one element per byte).
    Seed,
    /// 64 bits packed in a u64 word: a share (or an opened word) of a boolean (XOR) sharing,
    /// ABY3's bit-sliced values. Not a number: viewers show it in hex.
    BitWords,
}

impl RingKind {
    /// Bytes one element takes on the wire.
    pub fn width(self) -> usize {
        match self {
            RingKind::Z64 | RingKind::Odd | RingKind::Bit | RingKind::BitWords => 8,
            RingKind::Z128 => 16,
            RingKind::Zp | RingKind::Seed => 1,
        }
    }

    /// Human-readable name (`Z_2^64`, `Z_(2^64-1)`, `Z_67`, `bits`, `seed`, `bit words`).
    pub fn name(self) -> &'static str {
        match self {
            RingKind::Z64 => "Z_2^64",
            RingKind::Z128 => "Z_2^128",
            RingKind::Odd => "Z_(2^64-1)",
            RingKind::Zp => "Z_67",
            RingKind::Bit => "bits",
            RingKind::Seed => "seed",
            RingKind::BitWords => "bit words",
        }
    }

    /// Reads element `i` of `bytes` (little-endian; Z_2^128 by its low word, [`RingKind::high`]
    /// gives the high one).
    pub fn element(self, bytes: &[u8], i: usize) -> u64 {
        let w = self.width();
        let e = &bytes[i * w..(i + 1) * w];
        match w {
            1 => e[0] as u64,
            _ => u64::from_le_bytes(e[..8].try_into().expect("8 bytes")),
        }
    }
}

impl RingKind {
    /// The high word of element `i` of `bytes`, for a 16-byte ring (Z_2^128); 0 otherwise.
    pub fn high(self, bytes: &[u8], i: usize) -> u64 {
        if self.width() != 16 {
            return 0;
        }
        let e = &bytes[i * 16 + 8..(i + 1) * 16];
        u64::from_le_bytes(e.try_into().expect("8 bytes"))
    }
}

/// One run of elements inside a message: its ring and shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The ring the elements are in.
    pub kind: RingKind,
    /// Their shape (row-major).
    pub shape: Vec<usize>,
}

impl Part {
    /// Elements in the part.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether the part has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes the part takes on the wire.
    pub fn bytes(&self) -> usize {
        self.len() * self.kind.width()
    }
}

/// A message: its exact wire payload and how to read it (what the receiver's view shows). Only
/// the payload travels and is counted; the parts are the layout the protocol already knows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    payload: Vec<u8>,
    parts: Vec<Part>,
}

impl Message {
    /// A message holding one tensor.
    pub fn tensor<R: Ring>(t: &Tensor<R>) -> Message {
        Message::with_capacity(t.len() * R::BYTES).and(t)
    }

    /// An empty message whose payload has room for `bytes` bytes, so that appending parts of
    /// that many bytes in all never moves it (no reallocation and copy as it grows).
    pub fn with_capacity(bytes: usize) -> Message {
        Message {
            payload: Vec::with_capacity(bytes),
            parts: Vec::new(),
        }
    }

    /// A message holding one tensor of ring `R` and shape `shape` whose wire encoding (what
    /// [`Message::tensor`] would write) is already `payload`: taken as it is, without a copy.
    /// `None` when `payload` is not `shape`'s length in bytes.
    pub fn from_payload<R: Ring>(shape: &[usize], payload: Vec<u8>) -> Option<Message> {
        (payload.len() == tensor::numel(shape) * R::BYTES).then(|| Message {
            payload,
            parts: vec![Part {
                kind: R::KIND,
                shape: shape.to_vec(),
            }],
        })
    }

    /// A message holding a 32-byte seed or key.
    pub fn seed(seed: &[u8; 32]) -> Message {
        Message {
            payload: seed.to_vec(),
            parts: vec![Part {
                kind: RingKind::Seed,
                shape: vec![32],
            }],
        }
    }

    /// Appends a tensor.
    pub fn and<R: Ring>(mut self, t: &Tensor<R>) -> Message {
        tensor::encode_into(t, &mut self.payload);
        self.parts.push(Part {
            kind: R::KIND,
            shape: t.shape().to_vec(),
        });
        self
    }

    /// Appends a tensor of `shape` whose elements are computed straight into the payload, in
    /// row-major order, a [`tensor::PIECE`] at a time: `fill(start, piece)` writes elements
    /// `start..start + piece.len()`. The same message as [`Message::and`] of the tensor those
    /// elements make, without building the tensor.
    pub fn and_computed<R: Ring>(
        mut self,
        shape: &[usize],
        mut fill: impl FnMut(usize, &mut [R]),
    ) -> Message {
        let n = tensor::numel(shape);
        self.payload.reserve(n * R::BYTES);
        let mut piece = tensor::piece_buf::<R>(n);
        let mut start = 0;
        while start < n {
            let len = tensor::PIECE.min(n - start);
            fill(start, &mut piece[..len]);
            R::encode_slice(&piece[..len], &mut self.payload);
            start += len;
        }
        self.parts.push(Part {
            kind: R::KIND,
            shape: shape.to_vec(),
        });
        self
    }

    /// Appends a tensor of u64 words tagged as ring `kind` (an 8-byte kind, e.g.
    /// [`RingKind::BitWords`] for boolean share words, which travel like Z_2^64 elements).
    pub fn and_words(mut self, kind: RingKind, t: &Tensor<u64>) -> Message {
        debug_assert_eq!(kind.width(), 8, "u64 words need an 8-byte kind");
        tensor::encode_into(t, &mut self.payload);
        self.parts.push(Part {
            kind,
            shape: t.shape().to_vec(),
        });
        self
    }

    /// The wire payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The layout of the payload.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Splits into payload and layout.
    pub fn into_parts(self) -> (Vec<u8>, Vec<Part>) {
        (self.payload, self.parts)
    }
}

/// What a recorded value is to the party that records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueClass {
    /// The party's share of a secret (or a local value).
    Share,
    /// A value opened to the party (known to it in the clear).
    Opened,
    /// Randomness the party drew or a value it dealt to others (the plaintext of what it
    /// secret-shared out, the seeds and keys it holds): part of its view.
    Dealt,
}

/// A party's private randomness: the AES-128-CTR generator of [`crate::prg`] (ChaCha20 until
/// session 20).
pub type PartyRng = crate::prg::AesCtrPrg;

/// What a protocol kernel may do besides computing.
pub trait Context {
    /// This party's index.
    fn me(&self) -> PartyId;
    /// Sends `msg` to party `to`. `label` says what the message carries (e.g. "e = x − a"), for
    /// the trace; the payload is the exact wire encoding and its length is what is counted.
    fn send(&mut self, to: PartyId, label: &str, traffic: Traffic, msg: Message) -> Result<()>;
    /// Receives the next message from party `from` (links are FIFO).
    fn recv(&mut self, from: PartyId) -> Result<Vec<u8>>;
    /// This party's private randomness (an AES-CTR stream derived from the scenario seed,
    /// [`crate::prg::party_rng`]).
    fn rng(&mut self) -> &mut PartyRng;
    /// Ends the current protocol step and starts the one named `name`. Every party calls the same
    /// sequence of steps for an op, whether or not it has work in them, so steps line up.
    fn step(&mut self, name: &str) -> Result<()>;
    /// Records `value` (elements of ring `kind`, widened to u64) at the current step.
    fn record(&mut self, class: ValueClass, label: &str, kind: RingKind, value: &Tensor<u64>);
    /// Records a Z_2^128 `value` ([`RingKind::Z128`]) at the current step. The default keeps
    /// the low 64 bits of each element (what [`Context::record`] can hold); the simulator keeps
    /// the high words too, so the trace shows 128-bit shares whole.
    fn record_wide(&mut self, class: ValueClass, label: &str, value: &Tensor<u128>) {
        self.record(class, label, RingKind::Z128, &value.mapv(|v| v as u64))
    }
    /// Records a Z_p `value` ([`RingKind::Zp`]) at the current step, as
    /// `record(class, label, RingKind::Zp, widened)` would with every element widened to u64
    /// (the default does exactly that). The simulator overrides it to read only the elements it
    /// keeps, so recording SecureNN's n·ℓ-element Z_p tensors costs O(`max_values`), not a
    /// fresh u64 copy of the whole tensor (issue 11).
    fn record_zp(&mut self, class: ValueClass, label: &str, value: &Tensor<crate::ring::Zp>) {
        self.record(class, label, RingKind::Zp, &value.mapv(|v| v.0 as u64))
    }
    /// Records, as [`Context::record`] records the whole tensor, a value of `shape` (ring
    /// `kind`, widened to u64) whose elements `fill` computes: each call writes the next
    /// `piece.len()` elements in row-major order, on consecutive pieces from the first element
    /// (at most [`tensor::PIECE`] each). For a value a protocol never holds whole (a mask
    /// expanded from seeds as it is used). The default builds the whole tensor and records it;
    /// the simulator computes only the elements it keeps (issue 11).
    fn record_with(
        &mut self,
        class: ValueClass,
        label: &str,
        kind: RingKind,
        shape: &[usize],
        fill: &mut dyn FnMut(&mut [u64]),
    ) {
        let mut v = vec![0u64; tensor::numel(shape)];
        v.chunks_mut(tensor::PIECE).for_each(&mut *fill);
        let t = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), v).expect("numel(shape)");
        self.record(class, label, kind, &t)
    }
    /// Records this party's share (or local value) over Z_2^64 at the current step.
    fn record_share(&mut self, label: &str, share: &Tensor<u64>) {
        self.record(ValueClass::Share, label, RingKind::Z64, share)
    }
    /// Records a Z_2^64 value that was opened (is known in the clear to this party).
    fn record_opened(&mut self, label: &str, value: &Tensor<u64>) {
        self.record(ValueClass::Opened, label, RingKind::Z64, value)
    }
    /// Records randomness this party drew or a value it dealt, in ring `kind` (its view).
    fn record_dealt(&mut self, label: &str, kind: RingKind, value: &Tensor<u64>) {
        self.record(ValueClass::Dealt, label, kind, value)
    }
    /// Declares `ring_ops` ring operations of local work (used by the deterministic cost model).
    fn charge(&mut self, ring_ops: u64);
    /// Enters the sub-protocol `name` (e.g. `DReLU` inside `ReLU`): the steps until the matching
    /// [`Context::leave`] belong to it, so a trace can give every step its call path
    /// (`ReLU › DReLU › ComputeMSB`). Every party enters and leaves the same sub-protocols at the
    /// same points of its step sequence. Use [`within`] rather than calling the pair by hand.
    /// The default does nothing.
    fn enter(&mut self, name: &str) {
        let _ = name;
    }
    /// Leaves the sub-protocol entered last (nothing when none is open). The default does nothing.
    fn leave(&mut self) {}
}

/// Runs `f` inside the sub-protocol `name`: [`Context::enter`] before, [`Context::leave`] after,
/// whether `f` succeeds or fails.
pub fn within<T>(
    ctx: &mut dyn Context,
    name: &str,
    f: impl FnOnce(&mut dyn Context) -> Result<T>,
) -> Result<T> {
    ctx.enter(name);
    let out = f(ctx);
    ctx.leave();
    out
}
