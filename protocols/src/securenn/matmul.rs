//! **MatMul** (Alg. 1) and **SelectShare** (Alg. 2).

use super::{need, peer, recv_t, role, send_t, Keys, Role};
use crate::context::{within, Context, Message, RingKind, Traffic};
use crate::error::{ProtocolError, Result};
use crate::pond::Placement;
use crate::tensor::{self, Tensor};

/// The bilinear map ∘ of Alg. 1: the paper states it for matrices; the elementwise product is the
/// same protocol with a different ∘ (used by SelectShare and ComputeMSB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// Elementwise product of equal shapes.
    Elementwise,
    /// Matrix product (m×k)·(k×v).
    MatMul,
}

impl Product {
    fn apply(self, x: &Tensor<u64>, y: &Tensor<u64>) -> Result<Tensor<u64>> {
        match self {
            Product::Elementwise => tensor::mul(x, y),
            Product::MatMul => tensor::matmul(x, y),
        }
    }

    /// Output shape of x ∘ y.
    fn out_shape(self, x: &[usize], y: &[usize]) -> Result<Vec<usize>> {
        let bad = || ProtocolError::Shape {
            op: "SecureNN MatMul".into(),
            detail: format!("{self:?} of {x:?} and {y:?}"),
        };
        match self {
            Product::Elementwise if x == y => Ok(x.to_vec()),
            Product::MatMul if x.len() == 2 && y.len() == 2 && x[1] == y[0] => Ok(vec![x[0], y[1]]),
            _ => Err(bad()),
        }
    }

    /// Ring multiplications of one x ∘ y.
    fn work(self, x: &[usize], out: &[usize]) -> u64 {
        let n = tensor::numel(out) as u64;
        match self {
            Product::Elementwise => n,
            Product::MatMul => n * x[1] as u64,
        }
    }
}

/// **MatMul** (Alg. 1): Beaver's protocol with P2 as dealer. Input shares of X and Y over Z_L
/// (at P0, P1); output shares of Z = X ∘ Y plus a fresh zero-sharing (no fixed-point truncation:
/// that is the caller's business). Every party passes the public shapes.
///
/// Cost: online 2 messages, 16(|X| + |Y|) bytes, 1 round; offline 1 message (⟨C⟩₁), 8|Z| bytes.
/// Steps: 3.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    product: Product,
    x: Option<&Tensor<u64>>,
    y: Option<&Tensor<u64>>,
    x_shape: &[usize],
    y_shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "MatMul", |ctx| {
        matmul_steps(ctx, place, keys, product, x, y, x_shape, y_shape)
    })
}

/// The steps of [`matmul`], inside its sub-protocol (the call path the trace records).
#[allow(clippy::too_many_arguments)]
fn matmul_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    product: Product,
    x: Option<&Tensor<u64>>,
    y: Option<&Tensor<u64>>,
    x_shape: &[usize],
    y_shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    let z_shape = product.out_shape(x_shape, y_shape)?;
    let me = role(ctx, place);

    // Step 1 (offline): P2 picks A, B and sends shares of A, B and C = A ∘ B. ⟨A⟩ⱼ, ⟨B⟩ⱼ come
    // from the P2–Pⱼ keys, ⟨C⟩₀ from the P2–P0 key; only ⟨C⟩₁ = C − ⟨C⟩₀ travels.
    ctx.step("MatMul 1: P2 deals ⟨A⟩, ⟨B⟩, ⟨C = A∘B⟩")?;
    let mut triple = None;
    match me {
        Role::Helper => {
            let a0: Tensor<u64> = tensor::random(x_shape, keys.helper(0)?);
            let b0: Tensor<u64> = tensor::random(y_shape, keys.helper(0)?);
            let c0: Tensor<u64> = tensor::random(&z_shape, keys.helper(0)?);
            let a1: Tensor<u64> = tensor::random(x_shape, keys.helper(1)?);
            let b1: Tensor<u64> = tensor::random(y_shape, keys.helper(1)?);
            let a = tensor::add(&a0, &a1)?;
            let b = tensor::add(&b0, &b1)?;
            let c = product.apply(&a, &b)?;
            ctx.charge(product.work(x_shape, &z_shape));
            let c1 = tensor::sub(&c, &c0)?;
            ctx.record_dealt("A", RingKind::Z64, &a);
            ctx.record_dealt("B", RingKind::Z64, &b);
            ctx.record_dealt("C = A∘B", RingKind::Z64, &c);
            send_t(
                ctx,
                place.server1,
                "⟨C⟩₁ = A∘B − ⟨C⟩₀",
                Traffic::Offline,
                &c1,
            )?;
        }
        Role::Server(j) => {
            let a: Tensor<u64> = tensor::random(x_shape, keys.helper(j)?);
            let b: Tensor<u64> = tensor::random(y_shape, keys.helper(j)?);
            let c: Tensor<u64> = if j == 0 {
                tensor::random(&z_shape, keys.helper(0)?)
            } else {
                recv_t(ctx, place.producer, &z_shape)?
            };
            triple = Some((a, b, c));
        }
        Role::Bystander => {}
    }

    // Steps 2–3: Pⱼ computes ⟨E⟩ⱼ = ⟨X⟩ⱼ − ⟨A⟩ⱼ, ⟨F⟩ⱼ = ⟨Y⟩ⱼ − ⟨B⟩ⱼ; P0 and P1 reconstruct E, F.
    ctx.step("MatMul 2–3: open E = X − A, F = Y − B")?;
    let mut opened = None;
    if let (Role::Server(j), Some((a, b, _))) = (me, &triple) {
        let (xj, yj) = (need(x, "X")?, need(y, "Y")?);
        let ej = tensor::sub(xj, a)?;
        let fj = tensor::sub(yj, b)?;
        let msg = Message::tensor(&ej).and(&fj);
        let other = peer(place, j);
        ctx.send(other, &format!("⟨E⟩{j}, ⟨F⟩{j}"), Traffic::Online, msg)?;
        let theirs = ctx.recv(other)?;
        let parts = super::split(&theirs, &[8 * ej.len(), 8 * fj.len()], other)?;
        let e = tensor::add(&ej, &tensor::decode(parts[0], x_shape, other)?)?;
        let f = tensor::add(&fj, &tensor::decode(parts[1], y_shape, other)?)?;
        ctx.record_opened("E = X − A", &e);
        ctx.record_opened("F = Y − B", &f);
        opened = Some((e, f));
    }

    // Step 4: Pⱼ outputs −j·E∘F + ⟨X⟩ⱼ∘F + E∘⟨Y⟩ⱼ + ⟨C⟩ⱼ + uⱼ.
    ctx.step("MatMul 4: ⟨Z⟩ⱼ = −j·E∘F + ⟨X⟩ⱼ∘F + E∘⟨Y⟩ⱼ + ⟨C⟩ⱼ + uⱼ")?;
    if let (Role::Server(j), Some((_, _, c)), Some((e, f))) = (me, triple, opened) {
        let (xj, yj) = (need(x, "X")?, need(y, "Y")?);
        let mut z = tensor::add(&c, &product.apply(xj, &f)?)?;
        z = tensor::add(&z, &product.apply(&e, yj)?)?;
        if j == 1 {
            z = tensor::sub(&z, &product.apply(&e, &f)?)?;
        }
        z = tensor::add(&z, &keys.zero_share(j, &z_shape)?)?;
        ctx.charge((2 + j as u64) * product.work(x_shape, &z_shape));
        ctx.record_share("Z = X∘Y", &z);
        return Ok(Some(z));
    }
    Ok(None)
}

/// **SelectShare** (Alg. 2): z = x + α·(y − x), i.e. x if α = 0 and y if α = 1, for a shared bit
/// α ∈ {0, 1} ⊂ Z_L. All three inputs have shape `shape`.
///
/// Cost: that of one elementwise [`matmul`] on n = |shape| elements: online 2 messages, 32n
/// bytes, 1 round; offline 1 message, 8n bytes. Steps: 5.
#[allow(clippy::too_many_arguments)]
pub fn select_share(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    alpha: Option<&Tensor<u64>>,
    x: Option<&Tensor<u64>>,
    y: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    within(ctx, "SelectShare", |ctx| {
        select_share_steps(ctx, place, keys, alpha, x, y, shape)
    })
}

/// The steps of [`select_share`], inside its sub-protocol (the call path the trace records).
#[allow(clippy::too_many_arguments)]
fn select_share_steps(
    ctx: &mut dyn Context,
    place: &Placement,
    keys: &mut Keys,
    alpha: Option<&Tensor<u64>>,
    x: Option<&Tensor<u64>>,
    y: Option<&Tensor<u64>>,
    shape: &[usize],
) -> Result<Option<Tensor<u64>>> {
    // Step 1: Pⱼ computes ⟨w⟩ⱼ = ⟨y⟩ⱼ − ⟨x⟩ⱼ.
    ctx.step("SelectShare 1: ⟨w⟩ⱼ = ⟨y⟩ⱼ − ⟨x⟩ⱼ")?;
    let w = match role(ctx, place) {
        Role::Server(_) => Some(tensor::sub(need(y, "y")?, need(x, "x")?)?),
        _ => None,
    };
    // Step 2: MatMul (elementwise) of α and w gives ⟨c⟩ⱼ = ⟨α·w⟩ⱼ.
    let c = matmul(
        ctx,
        place,
        keys,
        Product::Elementwise,
        alpha,
        w.as_ref(),
        shape,
        shape,
    )?;
    // Step 3: Pⱼ outputs ⟨z⟩ⱼ = ⟨x⟩ⱼ + ⟨c⟩ⱼ + uⱼ.
    ctx.step("SelectShare 3: ⟨z⟩ⱼ = ⟨x⟩ⱼ + ⟨c⟩ⱼ + uⱼ")?;
    if let (Role::Server(j), Some(c)) = (role(ctx, place), c) {
        let mut z = tensor::add(need(x, "x")?, &c)?;
        z = tensor::add(&z, &keys.zero_share(j, shape)?)?;
        ctx.charge(2 * z.len() as u64);
        ctx.record_share("z = x + α(y − x)", &z);
        return Ok(Some(z));
    }
    Ok(None)
}
