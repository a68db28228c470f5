//! The network model: per-link latency (fixed or seeded jitter), bandwidth and state, and the
//! delivery-time rule of the virtual clock.
//!
//! A message of `b` bytes sent at virtual time `t` on a link that is free from `free` starts
//! transmitting at `max(t, free)`, occupies the link for `8b / bandwidth` seconds and is
//! delivered `latency (+ jitter)` after its last bit left: delivery = start + tx + latency.

use crate::scenario::{LinkConfig, LinkState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// One sender's view of one outgoing link.
#[derive(Debug, Clone)]
pub struct LinkModel {
    config: LinkConfig,
    free_at_ns: u64,
    jitter: ChaCha20Rng,
}

/// When a message will arrive, or that it never will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered at this virtual time (ns).
    At(u64),
    /// The link holds it.
    Held,
}

impl LinkModel {
    /// The model of link `from → to` under `config`, with jitter seeded from the run seed.
    pub fn new(config: LinkConfig, seed: u64, from: usize, to: usize) -> Self {
        let s = seed ^ 0x11fe_d0c5 ^ ((from as u64) << 32) ^ ((to as u64) << 48);
        LinkModel {
            config,
            free_at_ns: 0,
            jitter: ChaCha20Rng::seed_from_u64(s),
        }
    }

    /// The link's configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Transmission time of `bytes` at the link's bandwidth, ns (0 for unlimited bandwidth).
    pub fn transmission_ns(&self, bytes: u64) -> u64 {
        if self.config.bandwidth_bps == 0 {
            0
        } else {
            ((bytes as u128 * 8 * 1_000_000_000).div_ceil(self.config.bandwidth_bps as u128)) as u64
        }
    }

    /// Schedules a message of `bytes` sent at `send_ns`; updates when the link is free again.
    pub fn schedule(&mut self, send_ns: u64, bytes: u64) -> Delivery {
        if self.config.state == LinkState::Held {
            return Delivery::Held;
        }
        let start = send_ns.max(self.free_at_ns);
        let done = start + self.transmission_ns(bytes);
        self.free_at_ns = done;
        let jitter_ns = if self.config.jitter_us > 0 {
            self.jitter.gen_range(0..=self.config.jitter_us) * 1000
        } else {
            0
        };
        Delivery::At(done + self.config.latency_us * 1000 + jitter_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_is_send_plus_transmission_plus_latency() {
        let cfg = LinkConfig {
            latency_us: 20_000,
            jitter_us: 0,
            bandwidth_bps: 100_000_000,
            state: LinkState::Healthy,
        };
        let mut l = LinkModel::new(cfg, 1, 0, 1);
        // 1250 bytes = 10,000 bits at 100 Mbit/s = 100 µs.
        assert_eq!(l.schedule(0, 1250), Delivery::At(100_000 + 20_000_000));
        // The link is busy until 100 µs: a second message queues behind the first.
        assert_eq!(l.schedule(50_000, 1250), Delivery::At(200_000 + 20_000_000));
    }

    #[test]
    fn jitter_is_seeded_and_bounded() {
        let cfg = LinkConfig {
            latency_us: 100,
            jitter_us: 50,
            bandwidth_bps: 0,
            state: LinkState::Healthy,
        };
        let run = || {
            let mut l = LinkModel::new(cfg, 9, 0, 1);
            (0..100)
                .map(|i| l.schedule(i * 1_000_000, 8))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        for (i, d) in a.iter().enumerate() {
            let Delivery::At(t) = *d else {
                panic!("healthy link")
            };
            let lat = t - i as u64 * 1_000_000;
            assert!((100_000..=150_000).contains(&lat));
        }
    }

    #[test]
    fn held_links_never_deliver() {
        let cfg = LinkConfig {
            state: LinkState::Held,
            ..LinkConfig::default()
        };
        assert_eq!(LinkModel::new(cfg, 0, 0, 1).schedule(0, 8), Delivery::Held);
    }
}
