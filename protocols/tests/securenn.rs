//! SecureNN: every algorithm reconstructed and compared with plaintext, and its exact costs.
//!
//! A tiny in-memory harness: one thread per party, std mpsc channels per directed link, a
//! [`Context`] that counts messages and bytes and computes causal rounds as PROTOCOLS.md defines
//! them (a message's round is 1 + the highest round its sender had received; online and offline
//! traffic each have their own depth, restarted for each op after the key setup).

mod harness;

use harness::{Costs, Link, Meter};
use proptest::prelude::*;
use protocols::context::{Context, Message, Part, PartyId, RingKind, Traffic, ValueClass};
use protocols::pond::Placement;
use protocols::ring::{OddRing, Ring, Zp};
use protocols::securenn::{self, cost, Keys, Product, Variant};
use protocols::tensor::{self, Tensor};
use protocols::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

const PLACE: Placement = Placement {
    server0: 0,
    server1: 1,
    producer: 2,
};
const L1: u64 = u64::MAX; // L − 1
const P62: u64 = 1 << 62;

// ---------------------------------------------------------------- harness

impl Costs {
    fn online(msgs: u64, bytes: u64, rounds: u32) -> Self {
        Costs {
            online_msgs: msgs,
            online_bytes: bytes,
            online_rounds: rounds,
            ..Default::default()
        }
    }
    fn offline(self, msgs: u64, bytes: u64) -> Self {
        Costs {
            offline_msgs: msgs,
            offline_bytes: bytes,
            offline_rounds: (msgs > 0) as u32,
            ..self
        }
    }
}

struct TestCtx {
    link: Link,
    rng: protocols::context::PartyRng,
    meter: Meter,
    steps: Vec<String>,
    /// (label, value) of everything recorded as opened at this party.
    opened: Vec<(String, Tensor<u64>)>,
    /// This party's view of the op: what it received and what it dealt.
    view: View,
}

/// One party's view of an op: every message it received (sender, payload, layout) and every
/// value it dealt, in order.
#[derive(Default, Clone)]
struct View {
    received: Vec<(PartyId, Vec<u8>, Vec<Part>)>,
    dealt: Vec<(String, RingKind, Tensor<u64>)>,
}

impl View {
    /// The `k`-th message received from `from`, decoded as ring R.
    fn message<R: Ring>(&self, from: PartyId, k: usize, part: usize) -> Tensor<R> {
        let (_, payload, parts) = self
            .received
            .iter()
            .filter(|m| m.0 == from)
            .nth(k)
            .expect("message");
        let off: usize = parts[..part].iter().map(Part::bytes).sum();
        let p = &parts[part];
        assert_eq!(p.kind, R::KIND);
        tensor::decode(&payload[off..off + p.bytes()], &p.shape, from).unwrap()
    }
    /// The `k`-th dealt value labelled `label`.
    fn dealt(&self, label: &str, k: usize) -> &Tensor<u64> {
        &self
            .dealt
            .iter()
            .filter(|d| d.0 == label)
            .nth(k)
            .expect("dealt value")
            .2
    }
}

impl TestCtx {
    fn begin_op(&mut self) {
        self.meter.begin();
        self.steps.clear();
        self.opened.clear();
        self.view = View::default();
    }
}

impl Context for TestCtx {
    fn me(&self) -> PartyId {
        self.link.me
    }
    fn send(&mut self, to: PartyId, _label: &str, traffic: Traffic, msg: Message) -> Result<()> {
        self.link.send_metered(&mut self.meter, to, traffic, msg)
    }
    fn recv(&mut self, from: PartyId) -> Result<Vec<u8>> {
        let env = self.link.recv_metered(&mut self.meter, from)?;
        self.view
            .received
            .push((from, env.payload.clone(), env.parts));
        Ok(env.payload)
    }
    fn rng(&mut self) -> &mut protocols::context::PartyRng {
        &mut self.rng
    }
    fn step(&mut self, name: &str) -> Result<()> {
        self.steps.push(name.to_string());
        Ok(())
    }
    fn record(&mut self, class: ValueClass, label: &str, kind: RingKind, value: &Tensor<u64>) {
        match class {
            ValueClass::Share => {}
            ValueClass::Opened => self.opened.push((label.to_string(), value.clone())),
            ValueClass::Dealt => self
                .view
                .dealt
                .push((label.to_string(), kind, value.clone())),
        }
    }
    fn charge(&mut self, _ring_ops: u64) {}
}

/// What one run returns: each party's output, the op's costs, the step count and every party's
/// opened values.
struct Run<T> {
    out: Vec<T>,
    costs: Costs,
    setup: Costs,
    steps: usize,
    opened: Vec<Vec<(String, Tensor<u64>)>>,
    views: Vec<View>,
}

/// Runs `f` on `parties` parties (0, 1, 2 = P0, P1, P2; more are bystanders) after the key setup.
fn run_n<T: Send>(
    parties: usize,
    seed: u64,
    f: impl Fn(&mut TestCtx, &mut Keys) -> Result<T> + Sync,
) -> Run<T> {
    let results = harness::spawn(parties, seed, |link, rng| {
        let mut ctx = TestCtx {
            link,
            rng,
            meter: Meter::default(),
            steps: vec![],
            opened: vec![],
            view: View::default(),
        };
        let mut keys = Keys::setup(&mut ctx, &PLACE).expect("key setup");
        let setup = ctx.meter.costs;
        ctx.begin_op();
        let out = f(&mut ctx, &mut keys).expect("protocol runs");
        (out, ctx.meter.costs, setup, ctx.steps, ctx.opened, ctx.view)
    });
    let mut costs = Costs::default();
    let mut setup = Costs::default();
    let mut out = vec![];
    let mut opened = vec![];
    let mut views = vec![];
    let steps0 = results[0].3.clone();
    for (o, c, s, steps, op, view) in results {
        views.push(view);
        assert_eq!(steps, steps0, "every party walks the same steps");
        costs.merge(&c);
        setup.merge(&s);
        out.push(o);
        opened.push(op);
    }
    Run {
        out,
        costs,
        setup,
        steps: steps0.len(),
        opened,
        views,
    }
}

fn run3<T: Send>(seed: u64, f: impl Fn(&mut TestCtx, &mut Keys) -> Result<T> + Sync) -> Run<T> {
    run_n(3, seed, f)
}

/// Additive shares over R of `x`: (x − s, s) for a random s.
fn share<R: Ring>(x: &Tensor<R>, rng: &mut ChaCha20Rng) -> [Tensor<R>; 2] {
    let s: Tensor<R> = tensor::random(x.shape(), rng);
    [tensor::sub(x, &s).unwrap(), s]
}

/// The share of party `me` (None for the helper and bystanders).
fn mine<R: Ring>(sh: &[Tensor<R>; 2], me: usize) -> Option<&Tensor<R>> {
    (me < 2).then(|| &sh[me])
}

fn open<R: Ring>(out: &[Option<Tensor<R>>]) -> Tensor<R> {
    assert!(
        out[2..].iter().all(Option::is_none),
        "only servers hold shares"
    );
    tensor::add(out[0].as_ref().unwrap(), out[1].as_ref().unwrap()).unwrap()
}

fn vec_t(v: Vec<u64>) -> Tensor<u64> {
    let n = v.len();
    Tensor::from_shape_vec(vec![n], v).unwrap()
}

/// `n` random values from `gen` followed by the edge values.
fn values(seed: u64, n: usize, edges: &[u64], gen: impl Fn(&mut ChaCha20Rng) -> u64) -> Vec<u64> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut v: Vec<u64> = (0..n).map(|_| gen(&mut rng)).collect();
    v.extend_from_slice(edges);
    v
}

/// Uniform in the DReLU domain [−2^62, 2^62).
fn in_domain(rng: &mut ChaCha20Rng) -> u64 {
    (rng.gen_range(-(P62 as i64)..P62 as i64)) as u64
}

const DOMAIN_EDGES: &[u64] = &[0, 1, L1, P62.wrapping_neg(), P62 - 1, 2, (1 << 16)];

/// Every variant: the secure default and the two labelled insecure ones.
fn variants() -> impl Strategy<Value = Variant> {
    prop_oneof![
        Just(Variant::Secure),
        Just(Variant::AsPublished),
        Just(Variant::Shortcut)
    ]
}

fn sizes() -> impl Strategy<Value = (u64, usize)> {
    (any::<u64>(), 1usize..12)
}

// ---------------------------------------------------------------- costs per n elements

// The formulas are `protocols::securenn::cost` (the one source: `sharescope check` estimates
// with them); its unit tests pin them to the numbers of docs/securenn.md. Every offline message
// comes from P2, which receives none: offline depth 1 whenever there is one.

impl From<protocols::cost::Cost> for Costs {
    fn from(c: protocols::cost::Cost) -> Self {
        Costs::online(c.messages, c.bytes, c.rounds).offline(c.offline_messages, c.offline_bytes)
    }
}

fn cost_mul(nx: u64, ny: u64, nz: u64) -> Costs {
    cost::matmul(nx, ny, nz).into()
}
fn cost_pc(n: u64) -> Costs {
    cost::private_compare(n).into()
}
fn cost_sc(n: u64) -> Costs {
    cost::share_convert(n).into()
}
fn cost_msb(n: u64) -> Costs {
    cost::compute_msb(n).into()
}
fn cost_drelu(v: Variant, n: u64) -> Costs {
    cost::drelu(v, n).into()
}
fn cost_relu(v: Variant, n: u64) -> Costs {
    cost::relu(v, n).into()
}
/// Comparison tree over k candidates for m columns, selecting values (MaxPool) or values and
/// indices (argmax).
fn cost_tree(v: Variant, k: u64, m: u64, with_index: bool) -> Costs {
    if with_index {
        cost::argmax(v, k, m).into()
    } else {
        cost::maxpool(v, k, m).into()
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn key_setup_costs_three_offline_messages_of_32_bytes() {
    let run = run3(1, |_, _| Ok(()));
    assert_eq!(
        run.setup,
        Costs::default().offline(3, 96),
        "P0→P1, P2→P0, P2→P1 keys"
    );
    assert_eq!(run.setup, cost::key_setup().into());
    assert_eq!(run.costs, Costs::default());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    #[test]
    fn matmul_reconstructs_the_ring_product(seed in any::<u64>(), m in 1usize..5, k in 1usize..5, v in 1usize..5) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let x: Tensor<u64> = tensor::random(&[m, k], &mut rng);
        let mut y: Tensor<u64> = tensor::random(&[k, v], &mut rng);
        y[[0, 0]] = L1;
        let (sx, sy) = (share(&x, &mut rng), share(&y, &mut rng));
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::matmul(ctx, &PLACE, keys, Product::MatMul, mine(&sx, me), mine(&sy, me), &[m, k], &[k, v])
        });
        prop_assert_eq!(open(&run.out), tensor::matmul(&x, &y).unwrap());
        let (nx, ny, nz) = ((m * k) as u64, (k * v) as u64, (m * v) as u64);
        prop_assert_eq!(run.costs, cost_mul(nx, ny, nz));
        prop_assert_eq!(run.steps, 3);
    }

    #[test]
    fn elementwise_matmul_reconstructs_the_product((seed, n) in sizes()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let x = vec_t(values(seed, n, &[0, L1, P62, P62.wrapping_neg()], |r| r.gen()));
        let y = vec_t(values(seed ^ 1, n, &[L1, L1, 2, 3], |r| r.gen()));
        let (sx, sy) = (share(&x, &mut rng), share(&y, &mut rng));
        let len = x.len();
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::matmul(ctx, &PLACE, keys, Product::Elementwise, mine(&sx, me), mine(&sy, me), &[len], &[len])
        });
        prop_assert_eq!(open(&run.out), tensor::mul(&x, &y).unwrap());
        prop_assert_eq!(run.costs, cost_mul(len as u64, len as u64, len as u64));
    }

    #[test]
    fn select_share_picks_x_or_y((seed, n) in sizes()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let alpha = vec_t(values(seed, n, &[0, 1], |r| r.gen_range(0..2)));
        let len = alpha.len();
        let x = vec_t(values(seed ^ 2, n, &[L1, 0], |r| r.gen()));
        let y = vec_t(values(seed ^ 3, n, &[0, L1], |r| r.gen()));
        let (sa, sx, sy) = (share(&alpha, &mut rng), share(&x, &mut rng), share(&y, &mut rng));
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::select_share(ctx, &PLACE, keys, mine(&sa, me), mine(&sx, me), mine(&sy, me), &[len])
        });
        let want: Vec<u64> = (0..len).map(|i| if alpha[i] == 1 { y[i] } else { x[i] }).collect();
        prop_assert_eq!(open(&run.out), vec_t(want));
        prop_assert_eq!(run.costs, cost_mul(len as u64, len as u64, len as u64));
        prop_assert_eq!(run.steps, 5);
    }

    #[test]
    fn private_compare_tells_the_helper_beta_xor_x_greater_r((seed, n) in sizes(), variant in variants()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        // Random x and r, then the edges: r = L − 1 with β = 1 (the special case) and β = 0,
        // x = r, x = r ± 1, x = 0, x = L − 1.
        let xs = values(seed, n, &[5, 5, 0, L1, 7, 7, 8, L1, 0, 0], |r| r.gen());
        let mut rs = values(seed ^ 5, n, &[L1, L1, L1, L1, 7, 8, 7, 0, 0, L1], |r| r.gen());
        let betas = values(seed ^ 6, n, &[1, 0, 1, 1, 0, 1, 0, 1, 1, 0], |r| r.gen_range(0..2));
        // A few near misses: r equal to x in its high bits.
        for i in 0..n.min(3) {
            rs[i] = xs[i] ^ (1 << rng.gen_range(0..64));
        }
        let len = xs.len();
        let bits: Vec<Zp> = xs.iter().flat_map(|&x| (0..64).map(move |k| Zp(((x >> k) & 1) as u8))).collect();
        let bits = Tensor::from_shape_vec(vec![len, 64], bits).unwrap();
        let sb = share(&bits, &mut rng);
        let (r, beta) = (vec_t(rs.clone()), vec_t(betas.clone()));
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            let (r, b) = if me < 2 { (Some(&r), Some(&beta)) } else { (None, None) };
            securenn::private_compare(ctx, &PLACE, keys, variant, mine(&sb, me), r, b, len)
        });
        prop_assert!(run.out[0].is_none() && run.out[1].is_none());
        let want: Vec<u64> = (0..len).map(|i| betas[i] ^ (xs[i] > rs[i]) as u64).collect();
        prop_assert_eq!(run.out[2].clone().unwrap(), vec_t(want));
        prop_assert_eq!(run.costs, cost_pc(len as u64));
        prop_assert_eq!(run.steps, 2);
    }

    #[test]
    fn share_convert_gives_the_same_value_in_the_odd_ring((seed, n) in sizes()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let a = vec_t(values(seed, n, &[0, 1, L1 - 1, 1 << 63, (1 << 63) - 1, P62], |r| loop {
            let v: u64 = r.gen();
            if v != L1 { break v; }
        }));
        let len = a.len();
        let sa = share(&a, &mut rng);
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::share_convert(ctx, &PLACE, keys, Variant::Secure, mine(&sa, me), &[len])
        });
        prop_assert_eq!(open(&run.out), a.mapv(OddRing));
        prop_assert_eq!(run.costs, cost_sc(len as u64));
        prop_assert_eq!(run.steps, 6);
    }

    #[test]
    fn share_convert_handles_shares_that_wrap_and_shares_that_do_not(seed in any::<u64>()) {
        // Hand-picked shares: both wrap cases and the largest shares.
        let a0 = vec_t(vec![L1, 0, L1, 1 << 63, 5, L1 - 1]);
        let a1 = vec_t(vec![L1, 0, 1, 1 << 63, L1 - 1, 0]);
        let a = tensor::add(&a0, &a1).unwrap();
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            let s = [&a0, &a1];
            securenn::share_convert(ctx, &PLACE, keys, Variant::Secure, (me < 2).then(|| s[me]), &[6])
        });
        prop_assert_eq!(open(&run.out), a.mapv(OddRing));
    }

    #[test]
    fn compute_msb_gives_the_top_bit_of_an_odd_ring_value((seed, n) in sizes(), variant in variants()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let a: Vec<u64> = values(seed, n, &[0, 1, L1 - 1, 1 << 63, (1 << 63) - 1], |r| OddRing::random(r).0);
        let len = a.len();
        let at = Tensor::from_shape_vec(vec![len], a.iter().map(|&v| OddRing(v)).collect()).unwrap();
        let sa = share(&at, &mut rng);
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::compute_msb(ctx, &PLACE, keys, variant, mine(&sa, me), &[len])
        });
        prop_assert_eq!(open(&run.out), vec_t(a.iter().map(|v| v >> 63).collect()));
        prop_assert_eq!(run.costs, cost_msb(len as u64));
        prop_assert_eq!(run.steps, 10);
    }

    #[test]
    fn drelu_is_one_exactly_for_nonnegative_values((seed, n) in sizes()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let a = vec_t(values(seed, n, DOMAIN_EDGES, in_domain));
        let len = a.len();
        let sa = share(&a, &mut rng);
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::drelu(ctx, &PLACE, keys, Variant::Secure, mine(&sa, me), &[len])
        });
        prop_assert_eq!(open(&run.out), a.mapv(|v| (v as i64 >= 0) as u64));
        prop_assert_eq!(run.costs, cost_drelu(Variant::Secure, len as u64));
        prop_assert_eq!(run.steps, 18);
    }

    #[test]
    fn relu_is_max_of_x_and_zero((seed, n) in sizes(), variant in variants()) {
        let shortcut = variant == Variant::Shortcut;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        // The shortcut is only trusted away from −1 and −2 (see the shortcut tests).
        let bad = |v: u64| shortcut && (v == L1 || v == L1 - 1);
        let edges: Vec<u64> = DOMAIN_EDGES.iter().copied().filter(|&v| !bad(v)).collect();
        let a = vec_t(values(seed, n, &edges, |r| loop {
            let v = in_domain(r);
            if !bad(v) { break v; }
        }));
        let len = a.len();
        let sa = share(&a, &mut rng);
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::relu(ctx, &PLACE, keys, variant, mine(&sa, me), &[len])
        });
        prop_assert_eq!(open(&run.out), a.mapv(|v| (v as i64).max(0) as u64));
        prop_assert_eq!(run.costs, cost_relu(variant, len as u64));
        prop_assert_eq!(run.steps, if shortcut { 17 } else { 23 });
    }

    #[test]
    fn greater_and_less_compare_like_plaintext((seed, n) in sizes()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let half = |r: &mut ChaCha20Rng| (r.gen_range(-(1i64 << 61)..(1i64 << 61))) as u64;
        let x = vec_t(values(seed, n, &[0, 5, L1, (1 << 61) - 1, (1u64 << 61).wrapping_neg()], half));
        let mut y = vec_t(values(seed ^ 9, n, &[0, 4, 0, (1u64 << 61).wrapping_neg(), (1 << 61) - 1], half));
        y[0] = x[0]; // a tie
        let len = x.len();
        let (sx, sy) = (share(&x, &mut rng), share(&y, &mut rng));
        let gt = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::greater(ctx, &PLACE, keys, Variant::Secure, mine(&sx, me), mine(&sy, me), &[len])
        });
        let lt = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::less(ctx, &PLACE, keys, Variant::Secure, mine(&sx, me), mine(&sy, me), &[len])
        });
        let want_gt: Vec<u64> = (0..len).map(|i| ((x[i] as i64) > (y[i] as i64)) as u64).collect();
        let want_lt: Vec<u64> = (0..len).map(|i| ((x[i] as i64) < (y[i] as i64)) as u64).collect();
        prop_assert_eq!(open(&gt.out), vec_t(want_gt));
        prop_assert_eq!(open(&lt.out), vec_t(want_lt));
        prop_assert_eq!(gt.costs, cost_drelu(Variant::Secure, len as u64));
        prop_assert_eq!(lt.costs, cost_drelu(Variant::Secure, len as u64));
        prop_assert_eq!(gt.steps, 20);
    }

    #[test]
    fn maxpool_takes_the_window_maximum(seed in any::<u64>(), b in 1usize..3, c in 1usize..3, case in 0usize..3, variant in variants()) {
        let shortcut = variant == Variant::Shortcut;
        let (h, kernel, stride) = [(4, 2, 2), (5, 3, 1), (6, 3, 3)][case];
        let shape = [b, c, h, h];
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut x: Tensor<u64> = Tensor::from_shape_fn(ndarray::IxDyn(&shape), |_| {
            (rng.gen_range(-(1i64 << 40)..(1i64 << 40))) as u64
        });
        x[[0, 0, 0, 0]] = x[[0, 0, 0, 1]]; // a tie
        let sx = share(&x, &mut rng);
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::maxpool(ctx, &PLACE, keys, variant, mine(&sx, me), &shape, kernel, stride)
        });
        let o = (h - kernel) / stride + 1;
        let want = Tensor::from_shape_fn(ndarray::IxDyn(&[b, c, o, o]), |d| {
            let mut m = i64::MIN;
            for di in 0..kernel {
                for dj in 0..kernel {
                    m = m.max(x[[d[0], d[1], d[2] * stride + di, d[3] * stride + dj]] as i64);
                }
            }
            m as u64
        });
        prop_assert_eq!(open(&run.out), want);
        let k = (kernel * kernel) as u64;
        prop_assert_eq!(run.costs, cost_tree(variant, k, (b * c * o * o) as u64, false));
        let levels = 64 - (k - 1).leading_zeros() as usize;
        prop_assert_eq!(run.steps, 1 + levels * if shortcut { 18 } else { 24 });
    }

    #[test]
    fn argmax_finds_the_first_maximum(seed in any::<u64>(), m in 1usize..4, k in 1usize..11) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        // Few distinct values, so ties are common.
        let x: Tensor<u64> = Tensor::from_shape_fn(ndarray::IxDyn(&[m, k]), |_| {
            (rng.gen_range(-3i64..4) << 16) as u64
        });
        let sx = share(&x, &mut rng);
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::argmax(ctx, &PLACE, keys, Variant::Secure, mine(&sx, me), &[m, k])
        });
        let want: Vec<u64> = (0..m)
            .map(|i| {
                let row: Vec<i64> = (0..k).map(|j| x[[i, j]] as i64).collect();
                let best = *row.iter().max().unwrap();
                row.iter().position(|&v| v == best).unwrap() as u64
            })
            .collect();
        prop_assert_eq!(open(&run.out), Tensor::from_shape_vec(vec![m], want).unwrap());
        prop_assert_eq!(run.costs, cost_tree(Variant::Secure, k as u64, m as u64, true));
        let levels = 64 - (k as u64 - 1).leading_zeros() as usize;
        prop_assert_eq!(run.steps, 1 + levels * 24);
    }
}

#[test]
fn drelu_domain_ends_below_2_62() {
    // DReLU works on 2a: a = 2^62 doubles to 2^63, which reads as negative. Pinned so the
    // documented domain [−2^62, 2^62) cannot silently change.
    let a = vec_t(vec![
        P62,
        P62 - 1,
        P62.wrapping_neg(),
        P62.wrapping_neg() - 1,
    ]);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let sa = share(&a, &mut rng);
    let run = run3(3, |ctx, keys| {
        let me = ctx.me();
        securenn::drelu(ctx, &PLACE, keys, Variant::Secure, mine(&sa, me), &[4])
    });
    assert_eq!(open(&run.out), vec_t(vec![0, 1, 0, 1]));
}

#[test]
fn shortcut_drelu_is_wrong_exactly_where_the_cast_shares_say() {
    // Without ShareConvert the cast shares sum to a + θ mod (L − 1), θ = wrap(⟨a⟩₀, ⟨a⟩₁):
    // −1 is always wrong; −2 and 2^63 − 1 are wrong when the shares wrap.
    let (mut wraps_seen, mut plain_seen) = (0, 0);
    for seed in 0..24u64 {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut v = vec![L1, L1 - 1, (1 << 63) - 1, 1 << 63, 0];
        v.extend((0..8).map(|_| rng.gen::<u64>()));
        let a = vec_t(v);
        let n = a.len();
        let sa = share(&a, &mut rng);
        let run = |variant| {
            let run = run3(seed, |ctx, keys| {
                let me = ctx.me();
                securenn::drelu(ctx, &PLACE, keys, variant, mine(&sa, me), &[n])
            });
            (open(&run.out), run.costs, run.steps)
        };
        let (got, costs, steps) = run(Variant::Shortcut);
        assert_eq!(costs, cost_drelu(Variant::Shortcut, n as u64));
        assert_eq!(steps, 12);
        for i in 0..n {
            let theta = sa[0][i].overflowing_add(sa[1][i]).1;
            let truth = (a[i] as i64 >= 0) as u64;
            let wrong = a[i] == L1 || (theta && (a[i] == L1 - 1 || a[i] == (1 << 63) - 1));
            assert_eq!(got[i], truth ^ wrong as u64, "a = {:#x}, θ = {theta}", a[i]);
            if a[i] == (1 << 63) - 1 {
                if theta {
                    wraps_seen += 1
                } else {
                    plain_seen += 1
                }
            }
        }
        // The paper's DReLU is exact on its domain (−1, −2 and 0 are in it).
        let exact = vec_t(vec![L1, L1 - 1, 0]);
        let se = share(&exact, &mut rng);
        let paper = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::drelu(ctx, &PLACE, keys, Variant::Secure, mine(&se, me), &[3])
        });
        assert_eq!(open(&paper.out), vec_t(vec![0, 0, 1]));
    }
    assert!(wraps_seen > 0 && plain_seen > 0, "both cases exercised");
    // −2 wraps only for the share pair (L − 1, L − 1): hand-picked, with −1 and 7 beside it.
    let a0 = vec_t(vec![L1, L1, 3, L1]);
    let a1 = vec_t(vec![L1, 0, 4, 8]);
    let got = open(
        &run3(7, |ctx, keys| {
            let me = ctx.me();
            let s = [&a0, &a1];
            securenn::drelu(
                ctx,
                &PLACE,
                keys,
                Variant::Shortcut,
                (me < 2).then(|| s[me]),
                &[4],
            )
        })
        .out,
    );
    // −2 (wraps), −1 (no wrap), 7 (no wrap), 7 (wraps): right only for 7.
    assert_eq!(got, vec_t(vec![1, 1, 1, 1]));
}

#[test]
fn shortcut_private_compare_shows_the_helper_the_first_differing_bit() {
    // β = 0 and x > r: exactly one d_i is zero, at the first (most significant) differing bit k*
    // when nothing is permuted. With the paper's π its position is random.
    let (x, r) = (0xF0F0_1234_0000_0000u64, 0xF0F0_1200_FFFF_FFFFu64);
    let kstar = 63 - (x ^ r).leading_zeros() as usize;
    let bits: Vec<Zp> = (0..64).map(|k| Zp(((x >> k) & 1) as u8)).collect();
    let bits = Tensor::from_shape_vec(vec![1, 64], bits).unwrap();
    let zero_at = |variant, seed| {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let sb = share(&bits, &mut rng);
        let (rt, bt) = (vec_t(vec![r]), vec_t(vec![0]));
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            let (r, b) = if me < 2 {
                (Some(&rt), Some(&bt))
            } else {
                (None, None)
            };
            securenn::private_compare(ctx, &PLACE, keys, variant, mine(&sb, me), r, b, 1)
        });
        assert_eq!(run.out[2].clone().unwrap(), vec_t(vec![1]));
        let (label, d) = &run.opened[2][0];
        assert!(label.starts_with("d = "), "{label}");
        let zeros: Vec<usize> = (0..64).filter(|&k| d[[0, k]] == 0).collect();
        assert_eq!(zeros.len(), 1, "exactly one zero");
        zeros[0]
    };
    let shortcut: Vec<usize> = (0..16).map(|s| zero_at(Variant::Shortcut, s)).collect();
    assert!(
        shortcut.iter().all(|&k| k == kstar),
        "shortcut leaks k* = {kstar}: {shortcut:?}"
    );
    let paper: Vec<usize> = (0..16).map(|s| zero_at(Variant::Secure, s)).collect();
    assert!(
        paper.iter().any(|&k| k != kstar),
        "π hides the position (all 16 equal has probability 64^−16): {paper:?}"
    );
}

#[test]
fn share_convert_shows_the_helper_only_the_masked_value() {
    // What P2 opens in ShareConvert is a + r for a uniform r: two runs on the same a with
    // different seeds show different values.
    let a = vec_t(vec![42]);
    let seen = |seed| {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let sa = share(&a, &mut rng);
        let run = run3(seed, |ctx, keys| {
            let me = ctx.me();
            securenn::share_convert(ctx, &PLACE, keys, Variant::Secure, mine(&sa, me), &[1])
        });
        let (label, x) = run.opened[2][0].clone();
        assert!(label.starts_with("x = a + r"), "{label}");
        x[0]
    };
    assert_ne!(seen(1), seen(2));
    assert_ne!(seen(1), 42);
}

#[test]
fn bystanders_walk_the_steps_and_send_nothing() {
    let a = vec_t(vec![5, L1, 0]);
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let sa = share(&a, &mut rng);
    let run = run_n(4, 4, |ctx, keys| {
        let me = ctx.me();
        let sent_before = ctx.meter.costs;
        let out = securenn::relu(ctx, &PLACE, keys, Variant::Secure, mine(&sa, me), &[3])?;
        Ok((out, ctx.meter.costs == sent_before || me != 3))
    });
    assert!(run.out[3].0.is_none() && run.out[3].1);
    let outs: Vec<Option<Tensor<u64>>> = run.out.into_iter().map(|(o, _)| o).collect();
    assert_eq!(open(&outs), vec_t(vec![5, 0, 0]));
    assert_eq!(run.costs, cost_relu(Variant::Secure, 3));
}

#[test]
fn rounds_do_not_grow_with_the_number_of_elements() {
    for n in [1usize, 100] {
        let a = vec_t(vec![3; n]);
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let sa = share(&a, &mut rng);
        let run = run3(5, |ctx, keys| {
            let me = ctx.me();
            securenn::relu(ctx, &PLACE, keys, Variant::Secure, mine(&sa, me), &[n])
        });
        assert_eq!(run.costs.online_rounds, 9);
        assert_eq!(run.costs.online_msgs, 15);
        assert_eq!(run.costs.online_bytes, 440 * n as u64);
    }
}

// ---------------------------------------------------------------- the PrivateCompare flaw

/// Runs DReLU on `inputs` in `variant` and attacks P2's view as `securenn::attack` describes:
/// both of DReLU's PrivateCompares (ShareConvert's and ComputeMSB's) are searched and their
/// answers intersected. Returns, per input, the candidates P2 is left with.
fn attack_drelu(variant: Variant, seed: u64, inputs: &[u64]) -> Vec<Vec<u64>> {
    use securenn::attack;
    let a = vec_t(inputs.to_vec());
    let n = a.len();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let sa = share(&a, &mut rng);
    let run = run3(seed, |ctx, keys| {
        let me = ctx.me();
        securenn::drelu(ctx, &PLACE, keys, variant, mine(&sa, me), &[n])
    });
    let view = &run.views[2];
    // What P2 received: ã from each server, then each PrivateCompare's d from each server
    // (the shortcut has no ShareConvert: only ComputeMSB's d).
    let shortcut = variant == Variant::Shortcut;
    let masked = (!shortcut).then(|| {
        tensor::add(&view.message::<u64>(0, 0, 0), &view.message::<u64>(1, 0, 0)).unwrap()
    });
    let rows = |t: &Tensor<u64>| -> Vec<Zp> { t.iter().map(|&v| Zp(v as u8)).collect() };
    let pcs: &[usize] = if shortcut { &[0] } else { &[0, 1] };
    let searches: Vec<Vec<Vec<u64>>> = pcs
        .iter()
        .map(|&pc| {
            let bits = rows(view.dealt("bits of x", pc));
            let bits0 = rows(view.dealt("⟨x[i]⟩₀ (P0's share, from the P2–P0 key)", pc));
            let bits1: Vec<Zp> = bits.iter().zip(&bits0).map(|(&b, &b0)| b.sub(b0)).collect();
            let k = if shortcut { 0 } else { 1 + pc };
            let d0: Tensor<Zp> = view.message(0, k, 0);
            let d1: Tensor<Zp> = view.message(1, k, 0);
            let (d0, d1) = (
                d0.into_raw_vec_and_offset().0,
                d1.into_raw_vec_and_offset().0,
            );
            (0..n)
                .map(|e| {
                    let row = e * 64..(e + 1) * 64;
                    attack::recover_r(
                        attack::CompareView {
                            bits0: &bits0[row.clone()],
                            bits1: &bits1[row.clone()],
                            d0: &d0[row.clone()],
                            d1: &d1[row],
                        },
                        1 << 20,
                    )
                    .candidates
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let x_msb = view.dealt("x", 0);
    if shortcut {
        // The cast shares sum to a + θ over Z_{L−1}: P2 recovers that.
        return (0..n)
            .map(|e| {
                searches[0][e]
                    .iter()
                    .map(|&r| attack::compute_msb_input(r, x_msb[e]))
                    .collect()
            })
            .collect();
    }
    let masked = masked.expect("ShareConvert ran");
    (0..n)
        .map(|e| {
            let from_sc: Vec<u64> = searches[0][e]
                .iter()
                .map(|&r1| attack::share_convert_input(r1, masked[e]))
                .collect();
            let mut both: Vec<u64> = searches[1][e]
                .iter()
                .map(|&r| attack::compute_msb_input(r, x_msb[e]))
                .filter(|c| from_sc.contains(c))
                .map(attack::drelu_input)
                .collect();
            both.dedup();
            both
        })
        .collect()
}

#[test]
fn the_helper_recovers_every_drelu_input_from_its_view_when_private_compare_runs_as_published() {
    let inputs = values(7, 1000, &[], in_domain);
    let found = attack_drelu(Variant::AsPublished, 7, &inputs);
    let unique = (0..inputs.len())
        .filter(|&e| found[e] == [inputs[e]])
        .count();
    let among = (0..inputs.len())
        .filter(|&e| found[e].contains(&inputs[e]))
        .count();
    assert!(
        unique >= 990,
        "recovered {unique} of 1000 uniquely ({among} among candidates)"
    );
    // The shortcut (no π, no v) leaks the same way: P2 gets a + θ (θ the shares' wrap bit).
    let found = attack_drelu(Variant::Shortcut, 8, &inputs[..100]);
    let hit = (0..100)
        .filter(|&e| {
            let a = OddRing::from_u64(inputs[e]);
            [a, a.add(OddRing(1))]
                .iter()
                .any(|y| found[e].contains(&(y.to_u128() as u64)))
        })
        .count();
    assert!(hit >= 99, "shortcut: {hit} of 100");
}

#[test]
fn the_fixed_private_compare_gives_the_helper_nothing_to_recover() {
    let inputs = values(7, 1000, &[], in_domain);
    let found = attack_drelu(Variant::Secure, 7, &inputs);
    let recovered = (0..inputs.len())
        .filter(|&e| found[e].contains(&inputs[e]))
        .count();
    assert_eq!(recovered, 0);
}
