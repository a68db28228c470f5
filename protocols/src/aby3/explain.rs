//! The explain pane's texts for every ABY3 step: what the step computes, why what it sends
//! reveals nothing, and (for truncation) how it can fail. The first sentence of each is its
//! title.

use super::steps;

/// The text for `step` (a step name, with or without a `x^k: ` prefix), if ABY3 uses it.
pub fn explain(step: &str) -> Option<&'static str> {
    let base = step.rsplit(": ").next().unwrap_or(step);
    Some(match base {
        "relu of a public value (local)"
        | "maxpool2d of a public value (local)"
        | "argmax of a public value (local)" => {
            "The operand is public (every party knows it), so the op is computed in the clear, \
             locally, on the ring's signed reading of the encoded value: no message, nothing to \
             hide. Only a private operand goes through the boolean circuits (A2B, the carry \
             chain to the most significant bit, bit2A)."
        }
        steps::KEY_SETUP => {
            "Pairwise PRF keys, once per run. Every server i draws a 32-byte key k_i and sends it \
             to server i−1, so server i holds k_i and k_{i+1} and each key is shared by exactly \
             two servers. From them every later op draws, without any message, zero-sharings \
             α_i = F(k_i) − F(k_{i+1}) (they sum to 0) and random sharings r_i = F(k_i). The \
             keys depend on no data (offline traffic: 3 messages, 96 B); a single server learns \
             two of the three keys, and the third makes everything it did not draw look uniform."
        }
        steps::SHARE_INPUT => {
            "Input sharing by its owner. The owner splits x = x0 + x1 + x2 (mod 2^64) with x0, \
             x1 uniform and gives server i the pair (x_i, x_{i+1}); seeded, x0 and x1 travel as \
             32-byte seeds and only x2 = x − x0 − x1 in full. Why a pair reveals nothing: each \
             server lacks exactly one component, and the one it lacks is uniform and unknown to \
             it, so the two it holds are distributed the same whatever x is. Any two servers \
             together hold all three components (2-out-of-3)."
        }
        steps::OPEN => {
            "Opening to the three servers. Server i already holds x_i and x_{i+1}; it lacks only \
             x_{i+2}, which server i+1 holds as its second component and sends it (one message \
             per server, one round). The value becomes public to the servers, by the program's \
             choice; the component received is exactly what makes the sum, nothing more."
        }
        steps::REVEAL_TO => {
            "Output to a receiver. Each server sends its first component x_i; the receiver adds \
             x0 + x1 + x2. The receiver learns the value, which is the point; the servers learn \
             nothing new. A public value is sent by server0 alone."
        }
        steps::LOCAL => {
            "A local linear op. Adding two shared values adds their pairs componentwise; \
             reshape, transpose and sums apply to both components. A public constant is added \
             to component x0 only — server0 holds it as its first and server2 as its second \
             component, so both add it and the pairs stay consistent. No message: nothing new \
             is seen."
        }
        steps::LOCAL_PRODUCT => {
            "A product with a public operand. Multiplying by a public matrix (or elementwise by a \
             public tensor) is linear, so each server applies it to both components locally; the \
             result carries 2f fractional bits and is truncated next. No message."
        }
        steps::WINDOW_SUM => {
            "Average pooling's window sum. Each server sums every k×k window of both components \
             and multiplies by the public 1/k² (at f fractional bits): local and linear, the \
             result has 2f fractional bits and is truncated next. No message."
        }
        steps::RESHARE => {
            "A product with one round of resharing. Server i computes z_i = x_i·y_i + x_i·y_{i+1} \
             + x_{i+1}·y_i from its two pairs: the three z_i add up to x·y, but z_i alone is a \
             3-out-of-3 share — no server has two of them, so the product is not yet replicated \
             and could not be multiplied again. Each server adds α_i (a zero-sharing from the \
             keys) and sends z_i + α_i to server i−1, which then holds (z_{i−1}, z_i): a fresh \
             2-out-of-3 sharing. Why it reveals nothing: α_i = F(k_i) − F(k_{i+1}) and the \
             receiver lacks k_{i+1}, so what it receives is uniform; without α it would see \
             x_i·y_i + …, a function of shares it partly knows. 3n elements in all, one round."
        }
        steps::PRODUCT_2OF2 => {
            "Π_trunc1, step 1: the product becomes 2-out-of-2. Each server computes its \
             3-out-of-3 share z_i = x_i·y_i + x_i·y_{i+1} + x_{i+1}·y_i and rerandomises it with \
             α_i; server2 sends z'2 to server1, so server0 holds A = z'0 and server1 holds \
             B = z'1 + z'2, with A + B = x·y (at 2f fractional bits). server1 cannot read z'2: \
             α2 comes from k0, a key it does not hold."
        }
        steps::TRUNC_RESHARE => {
            "Π_trunc1, step 2: local truncation, then a 2-out-of-3 reshare (ABY3 §5.1.1, \
             SecureML's truncation made three-party). server0 computes y0 = A >> f, server1 \
             y1 = −((−B) >> f) − r with r = F(k2), a value it shares with server2; the new \
             components are (y0, y1, r): server0 sends y0 to server2 and server1 sends y1 to \
             server0 (after a product with a public operand server2 holds x0 already and only y1 \
             travels). y1 is masked by r, which server0 does not know. How it fails: the two \
             shifted halves add up to the truncated value within one ulp unless A and B straddle \
             the wrap-around of Z_2^64 — probability |z|/2^64 per element, and then the result is \
             off by about 2^(64−f): a huge error, flagged as a local-truncation hazard when it \
             becomes likely."
        }
        steps::TRUNC_PAIR => {
            "Π_trunc2, step 1: the truncation pair (r, r/2^f), replicated. ABY3 §5.1.2 \
             preprocesses a random r with its shift r/2^f; here (deviation D1, docs/aby3.md) the \
             pair comes from the keys with no message: components r1 = F(k1) >> 2 and \
             r2 = F(k2) >> 2 (uniform below 2^62), r0 = 0, and r/2^f taken componentwise. Each \
             server lacks one component of r, which is uniform to it."
        }
        steps::OPEN_MASKED => {
            "Π_trunc2, step 2: open c = z + 2^k + r to server0 and server2. After a product each \
             server's share of c is its z_i + α_i + r_i; server1 sends its own to both, server0 \
             and server2 to each other (one round). Why it reveals nothing: z + 2^k lies in \
             [0, 2^(k+1)) when |z| < 2^k (k = int + 2f), and r's component the receiver lacks is \
             uniform on [0, 2^62), so c is within statistical distance 2^(k+1−62) of a value \
             independent of z (σ = 61 − k bits)."
        }
        steps::TRUNCATE => {
            "Π_trunc2, step 3: the truncated sharing. z' = (c >> f) − 2^(k−f) − 1 − r/2^f: the \
             public part goes into component 0 (server0 and server2 opened c), the rest is minus \
             the pair's shifted components. c never wraps, so the result is within one ulp of \
             ⌊z/2^f⌋ — unless |z| ≥ 2^k, where the headroom hazard says the result is wrong."
        }
        steps::LOCAL_POLYNOMIAL => {
            "A polynomial on a public value, computed in the clear by every party. No message."
        }
        steps::WEIGHTED_SUM => {
            "A polynomial's weighted sum. The powers x^k were computed by products (steps \
             x^k: …); each server multiplies both components of each power by the public \
             coefficient c_k and adds them up (c_0 goes into component x0); the sum has 2f \
             fractional bits and is truncated once. Local: no message."
        }
        _ => return None,
    })
}
