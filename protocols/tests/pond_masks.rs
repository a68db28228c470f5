//! Pond's mask cache at the [`PondParty`] level: a cached mask belongs to a value, not to a name.
//!
//! Scenario programs are in SSA form (validation refuses a second definition of a name), but
//! `PondParty::run_op` and `PondParty::share_input` may store a new value under a name that is
//! already bound. Such a rebinding must drop the name's cached mask, or the next product would
//! reuse e = x_old − a and compute with the old value.
//!
//! A tiny in-memory harness: one thread per party, std mpsc channels per directed link.

use protocols::context::{Context, Message, PartyId, RingKind, Traffic, ValueClass};
use protocols::fixed::FixedConfig;
use protocols::pond::{decode_tensor, encode_tensor, Placement, PondConfig, PondParty};
use protocols::program::Op;
use protocols::tensor::Tensor;
use protocols::{ProtocolError, Result};
use rand::SeedableRng;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

const PLACE: Placement = Placement {
    server0: 0,
    server1: 1,
    producer: 2,
};
/// The input provider and output receiver.
const ALICE: PartyId = 3;
const PARTIES: usize = 4;

struct Ctx {
    me: PartyId,
    tx: Vec<Option<Sender<Vec<u8>>>>,
    rx: Vec<Option<Receiver<Vec<u8>>>>,
    rng: protocols::context::PartyRng,
    steps: Vec<String>,
}

impl Context for Ctx {
    fn me(&self) -> PartyId {
        self.me
    }
    fn send(&mut self, to: PartyId, _: &str, _: Traffic, msg: Message) -> Result<()> {
        self.tx[to]
            .as_ref()
            .expect("link")
            .send(msg.into_parts().0)
            .map_err(|_| ProtocolError::Transport(format!("party {to} has gone")))
    }
    fn recv(&mut self, from: PartyId) -> Result<Vec<u8>> {
        // A generous bound only turns a protocol deadlock into a test failure instead of a hang.
        match self.rx[from]
            .as_ref()
            .expect("link")
            .recv_timeout(Duration::from_secs(120))
        {
            Ok(p) => Ok(p),
            Err(RecvTimeoutError::Timeout) => Err(ProtocolError::Transport(format!(
                "party {} waits forever for {from}",
                self.me
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(ProtocolError::Transport(format!("party {from} has gone")))
            }
        }
    }
    fn rng(&mut self) -> &mut protocols::context::PartyRng {
        &mut self.rng
    }
    fn step(&mut self, name: &str) -> Result<()> {
        self.steps.push(name.to_string());
        Ok(())
    }
    fn record(&mut self, _: ValueClass, _: &str, _: RingKind, _: &Tensor<u64>) {}
    fn charge(&mut self, _: u64) {}
}

/// Runs `f` on every party (0, 1 servers, 2 producer, 3 = alice) and returns what alice returns.
fn run(f: impl Fn(&mut Ctx, &mut PondParty) -> Result<Option<Tensor<u64>>> + Sync) -> Tensor<u64> {
    let mut tx: Vec<Vec<Option<Sender<Vec<u8>>>>> = (0..PARTIES)
        .map(|_| (0..PARTIES).map(|_| None).collect())
        .collect();
    let mut rx: Vec<Vec<Option<Receiver<Vec<u8>>>>> = (0..PARTIES)
        .map(|_| (0..PARTIES).map(|_| None).collect())
        .collect();
    for a in 0..PARTIES {
        for b in 0..PARTIES {
            if a != b {
                let (s, r) = channel();
                tx[a][b] = Some(s);
                rx[b][a] = Some(r);
            }
        }
    }
    let results: Vec<(Option<Tensor<u64>>, Vec<String>)> = std::thread::scope(|sc| {
        let handles: Vec<_> = tx
            .into_iter()
            .zip(rx)
            .enumerate()
            .map(|(me, (tx, rx))| {
                let f = &f;
                sc.spawn(move || {
                    let mut ctx = Ctx {
                        me,
                        tx,
                        rx,
                        rng: protocols::context::PartyRng::seed_from_u64(7 + me as u64),
                        steps: vec![],
                    };
                    let mut party = PondParty::new(me, PLACE, PondConfig::default());
                    let out = f(&mut ctx, &mut party).expect("protocol runs");
                    (out, ctx.steps)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread"))
            .collect()
    });
    for (_, steps) in &results {
        assert_eq!(steps, &results[0].1, "every party walks the same steps");
    }
    results
        .into_iter()
        .nth(ALICE)
        .and_then(|(out, _)| out)
        .expect("alice receives the output")
}

fn scalar(x: f64) -> Tensor<u64> {
    encode_tensor(&FixedConfig::default(), &ndarray::arr1(&[x]).into_dyn())
}

fn mul(a: &str, b: &str) -> Op {
    Op::Mul(a.into(), b.into())
}

/// x = 3 and y = 2 are shared by alice; `program` runs; `out` is revealed to alice.
fn reveal_after(program: &[(&str, Op)], out: &str) -> f64 {
    let t = run(|ctx, p| {
        let mine = ctx.me == ALICE;
        p.share_input(ctx, "x", ALICE, &[1], mine.then(|| scalar(3.0)).as_ref())?;
        p.share_input(ctx, "y", ALICE, &[1], mine.then(|| scalar(2.0)).as_ref())?;
        for (name, op) in program {
            p.run_op(ctx, name, op)?;
        }
        p.reveal_to(ctx, out, ALICE)
    });
    decode_tensor(&FixedConfig::default(), &t)[0]
}

#[test]
fn rebinding_a_name_drops_its_cached_mask() {
    // x·y caches the masks of x and y; x is then rebound to x + x = 6, so x·y must be 12.
    let got = reveal_after(
        &[
            ("z", mul("x", "y")),
            ("x", Op::Add("x".into(), "x".into())),
            ("w", mul("x", "y")),
        ],
        "w",
    );
    assert!((got - 12.0).abs() < 1e-3, "x·y after x = x + x gave {got}");
}

#[test]
fn rebinding_a_name_by_a_product_drops_its_cached_mask() {
    // x = x·y rebinds x inside the product that cached its mask: x² afterwards is 36, not 9.
    let got = reveal_after(&[("x", mul("x", "y")), ("s", Op::Square("x".into()))], "s");
    assert!((got - 36.0).abs() < 1e-3, "x² after x = x·y gave {got}");
}

#[test]
fn resharing_an_input_under_a_cached_name_drops_its_mask() {
    let t = run(|ctx, p| {
        let mine = ctx.me == ALICE;
        p.share_input(ctx, "x", ALICE, &[1], mine.then(|| scalar(3.0)).as_ref())?;
        p.share_input(ctx, "y", ALICE, &[1], mine.then(|| scalar(2.0)).as_ref())?;
        p.run_op(ctx, "z", &mul("x", "y"))?;
        p.share_input(ctx, "x", ALICE, &[1], mine.then(|| scalar(5.0)).as_ref())?;
        p.run_op(ctx, "w", &mul("x", "y"))?;
        p.reveal_to(ctx, "w", ALICE)
    });
    let got = decode_tensor(&FixedConfig::default(), &t)[0];
    assert!(
        (got - 10.0).abs() < 1e-3,
        "x·y after resharing x = 5 gave {got}"
    );
}

#[test]
fn an_unchanged_name_still_reuses_its_mask() {
    // Mask reuse itself must survive the fix: y·x after x·y opens nothing new.
    let t = run(|ctx, p| {
        let mine = ctx.me == ALICE;
        p.share_input(ctx, "x", ALICE, &[1], mine.then(|| scalar(3.0)).as_ref())?;
        p.share_input(ctx, "y", ALICE, &[1], mine.then(|| scalar(2.0)).as_ref())?;
        p.run_op(ctx, "z", &mul("x", "y"))?;
        let before = ctx.steps.len();
        p.run_op(ctx, "w", &mul("y", "x"))?;
        assert_eq!(ctx.steps[before + 1], "reuse masks");
        p.reveal_to(ctx, "w", ALICE)
    });
    let got = decode_tensor(&FixedConfig::default(), &t)[0];
    assert!((got - 6.0).abs() < 1e-3, "y·x gave {got}");
}
