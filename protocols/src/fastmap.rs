//! Hash maps for the hot paths: a party's values and masks by name, a party's step names, the
//! DAG replay's link queues. std's default SipHash-1-3 resists hash flooding, which nothing here
//! needs (keys are the scenario's own names and indices), and it cost 16% of all instructions of
//! a chain of 2,000 Pond scalar products (callgrind, issue 11). `foldhash`'s fast hasher with a
//! fixed seed: the same hashes on every run (nothing depends on a map's iteration order anyway).

/// A [`std::collections::HashMap`] with [`foldhash::fast::FixedState`] (`FastMap::default()`).
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// A [`std::collections::HashSet`] with [`foldhash::fast::FixedState`] (`FastSet::default()`).
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;
