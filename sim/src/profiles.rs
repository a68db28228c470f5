//! The named network profiles: one definition of `lan`, `wan`, `securenn-lan` and `securenn-wan`
//! for scenarios (`network: (profile: "wan")`), the debugger (`:profile NAME`, `:lan`, `:wan`,
//! `:link A B profile=NAME`) and `sharescope compare --profiles`. Documented in
//! `docs/scenario-format.md`, "Network profiles".
//!
//! Latencies are **one way**. The SecureNN paper reports *ping* times, which are round trips:
//! its profiles use half the ping as the one-way latency (0.22 ms → 110 µs, 58 ms → 29 ms). Its
//! bandwidths are in megabytes per second (10^6 bytes): 625 MB/s = 5 Gbit/s, 40 MB/s =
//! 320 Mbit/s.

use crate::scenario::{LinkConfig, LinkState};

/// A named link model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// The name scenarios and commands use (`lan`, `wan`, …).
    pub name: &'static str,
    /// The link every directed pair of parties gets.
    pub link: LinkConfig,
    /// Where the numbers come from, for the help texts.
    pub about: &'static str,
}

const fn healthy(latency_us: u64, bandwidth_bps: u64) -> LinkConfig {
    LinkConfig {
        latency_us,
        jitter_us: 0,
        bandwidth_bps,
        state: LinkState::Healthy,
    }
}

/// `lan`: 100 µs one way, 10 Gbit/s — the scenario format's default link.
pub const LAN: Profile = Profile {
    name: "lan",
    link: healthy(100, 10_000_000_000),
    about: "a data-centre LAN: 100 µs one way (0.2 ms RTT), 10 Gbit/s (the default link)",
};

/// `wan`: 20 ms one way (40 ms RTT), 100 Mbit/s.
pub const WAN: Profile = Profile {
    name: "wan",
    link: healthy(20_000, 100_000_000),
    about: "a WAN: 20 ms one way (40 ms RTT), 100 Mbit/s",
};

/// `securenn-lan`: the SecureNN paper's LAN, 625 MB/s and 0.22 ms ping (110 µs one way).
pub const SECURENN_LAN: Profile = Profile {
    name: "securenn-lan",
    link: healthy(110, 5_000_000_000),
    about: "the SecureNN paper's LAN: 625 MB/s (5 Gbit/s), 0.22 ms ping → 110 µs one way",
};

/// `securenn-wan`: the SecureNN paper's WAN, 40 MB/s and 58 ms ping (29 ms one way).
pub const SECURENN_WAN: Profile = Profile {
    name: "securenn-wan",
    link: healthy(29_000, 320_000_000),
    about: "the SecureNN paper's WAN: 40 MB/s (320 Mbit/s), 58 ms ping → 29 ms one way",
};

/// Every profile, in the order help texts list them.
pub const PROFILES: [Profile; 4] = [LAN, WAN, SECURENN_LAN, SECURENN_WAN];

/// The profile called `name` (case-insensitive, `_` and `-` alike), or a sentence naming the
/// profiles with a did-you-mean.
pub fn lookup(name: &str) -> Result<Profile, String> {
    let key = name.trim().to_ascii_lowercase().replace('_', "-");
    if let Some(p) = PROFILES.iter().find(|p| p.name == key) {
        return Ok(*p);
    }
    Err(format!(
        "unknown network profile `{name}`; {}",
        unknown_hint(name)
    ))
}

/// What to do about an unknown profile `name`: a did-you-mean when one is close, and the list.
pub fn unknown_hint(name: &str) -> String {
    let key = name.trim().to_ascii_lowercase().replace('_', "-");
    let close = crate::scenario::closest(&key, PROFILES.iter().map(|p| p.name))
        .map(|c| format!("did you mean `{c}`? "))
        .unwrap_or_default();
    format!("{close}the profiles are {}", names())
}

/// The profile names, comma-separated.
pub fn names() -> String {
    PROFILES.map(|p| p.name).join(", ")
}

/// Parses a comma-separated profile list (`lan,wan,securenn-lan`): at least one, no repeats.
pub fn parse_list(list: &str) -> Result<Vec<Profile>, String> {
    let mut out: Vec<Profile> = Vec::new();
    for name in list.split(',').filter(|s| !s.trim().is_empty()) {
        let p = lookup(name)?;
        if out.iter().any(|q| q.name == p.name) {
            return Err(format!("profile `{}` is listed twice", name.trim()));
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err(format!(
            "name at least one network profile, e.g. --profiles lan,wan (the profiles are {})",
            names()
        ));
    }
    Ok(out)
}

impl Profile {
    /// One line: name, one-way latency, bandwidth.
    pub fn describe(&self) -> String {
        format!(
            "{} ({} one way, {})",
            self.name,
            crate::units::duration(self.link.latency_us.saturating_mul(1000)),
            crate::units::bandwidth(self.link.bandwidth_bps)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profiles_have_the_documented_numbers() {
        // One place for the numbers: the LAN is the scenario default, the WAN the one
        // `compare` and mlp-wan.ron use, the SecureNN pair half the paper's pings.
        let got: Vec<(&str, u64, u64)> = PROFILES
            .iter()
            .map(|p| (p.name, p.link.latency_us, p.link.bandwidth_bps))
            .collect();
        assert_eq!(
            got,
            [
                ("lan", 100, 10_000_000_000),
                ("wan", 20_000, 100_000_000),
                ("securenn-lan", 110, 625_000_000 * 8),
                ("securenn-wan", 29_000, 40_000_000 * 8),
            ]
        );
        assert_eq!(LAN.link, LinkConfig::default());
        for p in PROFILES {
            assert_eq!((p.link.jitter_us, p.link.state), (0, LinkState::Healthy));
        }
    }

    #[test]
    fn lookup_accepts_spellings_and_suggests() {
        assert_eq!(lookup("SecureNN_WAN").unwrap(), SECURENN_WAN);
        let e = lookup("wna").unwrap_err();
        assert!(e.contains("did you mean `wan`?"), "{e}");
        assert!(e.contains("lan, wan, securenn-lan, securenn-wan"), "{e}");
        assert_eq!(parse_list("lan, wan").unwrap(), vec![LAN, WAN]);
        assert!(parse_list("lan,lan").unwrap_err().contains("twice"));
        assert!(parse_list(",").is_err());
    }
}
