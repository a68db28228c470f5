//! The network model: per-link latency (fixed or seeded jitter), bandwidth and state, and the
//! delivery-time rule of the virtual clock.
//!
//! A message of `b` bytes sent at virtual time `t` on a link that is free from `free` starts
//! transmitting at `max(t, free)`, occupies the link for `8b / bandwidth` seconds and is
//! delivered `latency (+ jitter)` after its last bit left: delivery = start + tx + latency.

use crate::scenario::{LinkConfig, LinkState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// The largest `latency_us` and `jitter_us` a link accepts: 10^12 µs (about 11.6 days). Virtual
/// clocks count nanoseconds in a `u64` (at most about 584 years); this bound keeps one message's
/// latency plus jitter below 2·10^15 ns, so a run needs thousands of such messages in a row
/// before its clock could saturate (which then ends the run with an error, never a wrap).
pub const MAX_LINK_US: u64 = 1_000_000_000_000;

/// Whether a link's numbers fit the virtual clock: `Err((field, sentence))` naming the first
/// field that does not. Bandwidths are all representable (0 means unlimited; transmission times
/// saturate).
pub fn check_link(cfg: &LinkConfig) -> Result<(), (&'static str, String)> {
    for (field, v) in [("latency_us", cfg.latency_us), ("jitter_us", cfg.jitter_us)] {
        if v > MAX_LINK_US {
            return Err((
                field,
                format!(
                    "{field} = {v} µs does not fit the virtual clock: at most {MAX_LINK_US} µs \
                     (10^12 µs, about 11.6 days)"
                ),
            ));
        }
    }
    Ok(())
}

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

    /// Transmission time of `bytes` at the link's bandwidth, ns (0 for unlimited bandwidth),
    /// saturating at `u64::MAX`.
    pub fn transmission_ns(&self, bytes: u64) -> u64 {
        if self.config.bandwidth_bps == 0 {
            0
        } else {
            let ns =
                (bytes as u128 * 8 * 1_000_000_000).div_ceil(self.config.bandwidth_bps as u128);
            u64::try_from(ns).unwrap_or(u64::MAX)
        }
    }

    /// Schedules a message of `bytes` sent at `send_ns`; updates when the link is free again.
    /// Every sum saturates at `u64::MAX` ns rather than wrapping (see [`MAX_LINK_US`]).
    pub fn schedule(&mut self, send_ns: u64, bytes: u64) -> Delivery {
        if self.config.state == LinkState::Held {
            return Delivery::Held;
        }
        let start = send_ns.max(self.free_at_ns);
        let done = start.saturating_add(self.transmission_ns(bytes));
        self.free_at_ns = done;
        let jitter_ns = if self.config.jitter_us > 0 {
            self.jitter
                .gen_range(0..=self.config.jitter_us)
                .saturating_mul(1000)
        } else {
            0
        };
        Delivery::At(
            done.saturating_add(self.config.latency_us.saturating_mul(1000))
                .saturating_add(jitter_ns),
        )
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
    fn extreme_links_saturate_instead_of_wrapping() {
        // 18446744073709552 µs is 2^64 ns + 385 ns: a wrapping product delivered after 385 ns.
        for (latency_us, jitter_us, bandwidth_bps) in [
            (18_446_744_073_709_552, 0, 0),
            (u64::MAX, 0, 0),
            (0, u64::MAX, 0),
            (u64::MAX, u64::MAX, 1),
            (0, 0, 1),
        ] {
            let cfg = LinkConfig {
                latency_us,
                jitter_us,
                bandwidth_bps,
                state: LinkState::Healthy,
            };
            let mut l = LinkModel::new(cfg, 3, 0, 1);
            let Delivery::At(t) = l.schedule(u64::MAX - 5, u64::MAX) else {
                panic!("healthy link")
            };
            assert_eq!(t, u64::MAX, "{cfg:?}");
            assert!(check_link(&cfg).is_err() || latency_us == 0 && jitter_us == 0);
        }
        let mut l = LinkModel::new(LinkConfig::default(), 3, 0, 1);
        assert_eq!(l.schedule(u64::MAX - 1, 1 << 40), Delivery::At(u64::MAX));
    }

    #[test]
    fn the_largest_accepted_link_fits_the_clock() {
        let cfg = LinkConfig {
            latency_us: MAX_LINK_US,
            jitter_us: MAX_LINK_US,
            bandwidth_bps: 1,
            state: LinkState::Healthy,
        };
        assert_eq!(check_link(&cfg), Ok(()));
        let over = LinkConfig {
            latency_us: MAX_LINK_US + 1,
            ..cfg
        };
        assert_eq!(check_link(&over).unwrap_err().0, "latency_us");
        let mut l = LinkModel::new(cfg, 1, 0, 1);
        let Delivery::At(t) = l.schedule(0, 1000) else {
            panic!("healthy link")
        };
        // 8000 s of transmission, 10^15 ns of latency, up to 10^15 ns of jitter.
        assert!(
            (1_008_000_000_000_000..=2_008_000_000_000_000).contains(&t),
            "{t}"
        );
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
