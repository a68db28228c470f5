//! The memory a run needs, estimated from its plan before anything runs, and the budget it must
//! fit: validation refuses a plan whose estimate exceeds the budget (at the input or op that
//! pushes it over), so no user input reaches an allocation the machine cannot satisfy.
//!
//! The estimate is an upper bound built from the shapes alone; the formula is documented in
//! `docs/scenario-format.md`, "Memory", and `sim/tests/memory.rs` checks it against the heap a
//! run really allocates, op kind by op kind. The estimate counts as if nothing were freed during
//! a run (every party keeping every value it held, the trace growing): the peak it states is what
//! would have accumulated by the last op plus the largest working set of any single op. Since
//! parties drop each value after its last use (`crate::liveness`), the real peak is lower, often
//! by much on long programs; the bound stays safe for refusing plans, only looser.

use crate::scenario::{InputData, Plan, PlannedOp};
use protocols::program::Op;
use protocols::protocol::Truncation;
use protocols::tensor::numel;
use std::collections::HashSet;

/// The memory budget a plan must fit, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    /// Bytes.
    pub bytes: u64,
    /// Where the number came from.
    pub source: BudgetSource,
}

/// Where a [`MemoryBudget`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetSource {
    /// [`DEFAULT_FRACTION`] of this machine's physical memory (`Some(bytes)`), or
    /// [`FALLBACK_BUDGET`] when it cannot be read (`None`).
    Machine(Option<u64>),
    /// Given on the command line (`--memory-limit`) or by the caller.
    Given,
}

/// The default budget is this fraction of the machine's physical memory: half, leaving the
/// other half to the system, the allocator's slack and whatever else runs.
pub const DEFAULT_FRACTION: f64 = 0.5;

/// The budget when the physical memory cannot be read (not Linux, no `/proc`): 4 GiB.
pub const FALLBACK_BUDGET: u64 = 4 << 30;

impl MemoryBudget {
    /// [`DEFAULT_FRACTION`] of [`physical_memory`], or [`FALLBACK_BUDGET`].
    pub fn machine() -> MemoryBudget {
        static MACHINE: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
        let physical = *MACHINE.get_or_init(physical_memory);
        MemoryBudget {
            bytes: physical.map_or(FALLBACK_BUDGET, |p| (p as f64 * DEFAULT_FRACTION) as u64),
            source: BudgetSource::Machine(physical),
        }
    }

    /// A budget of `bytes`, as `--memory-limit` gives it.
    pub fn given(bytes: u64) -> MemoryBudget {
        MemoryBudget {
            bytes,
            source: BudgetSource::Given,
        }
    }

    /// The budget in words: "5.8 GiB (half of this machine's 11.7 GiB)".
    pub fn describe(&self) -> String {
        let b = gib(self.bytes);
        match self.source {
            BudgetSource::Machine(Some(p)) => format!("{b} (half of this machine's {})", gib(p)),
            BudgetSource::Machine(None) => {
                format!("{b} (the default: this machine's memory size is unknown)")
            }
            BudgetSource::Given => format!("{b} (--memory-limit)"),
        }
    }
}

/// This machine's physical memory in bytes: `MemTotal` of `/proc/meminfo`, lowered to the
/// cgroup's memory limit when the process runs under one (a container); `None` when neither
/// can be read.
pub fn physical_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_meminfo(&t));
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | Some("KB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// Parses a size as `--memory-limit` takes it: bytes (`1000000`), or a number with a binary
/// unit `K`, `M`, `G` or `T` (powers of 1024; `KB`, `KiB`, … alike, any case), e.g. `8G`,
/// `512M`, `1.5G`. Zero is refused.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num = num.replace('_', "");
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "`{s}` is not a size: write bytes or a number with K, M, G or T, e.g. 8G or 512M"
            ))
        }
    };
    let bad = || format!("`{s}` is not a size: write bytes or a number with K, M, G or T, e.g. 8G");
    let bytes = if num.contains('.') {
        let v: f64 = num.parse().map_err(|_| bad())?;
        let b = v * (1u64 << shift) as f64;
        if !(b.is_finite() && b < u64::MAX as f64) {
            return Err(bad());
        }
        b as u64
    } else {
        let v: u64 = num.parse().map_err(|_| bad())?;
        v.checked_mul(1u64 << shift).ok_or_else(bad)?
    };
    if bytes == 0 {
        return Err(format!("`{s}`: the memory limit must be more than 0 bytes"));
    }
    Ok(bytes)
}

/// Bytes in binary units, for budgets and estimates: `812 B`, `12.3 MiB`, `5.8 GiB`.
pub fn gib(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Where in the scenario an amount of memory is added: an input (its index in `inputs`) or an
/// op of the plan (its index in `Plan::ops`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// `inputs[i]`: its data, the shadow's copy, and every party's copy of a public input.
    Input(usize),
    /// `Plan::ops[i]`: the value it makes on every party that holds it, its masks, its working
    /// set and its part of the trace.
    Op(usize),
}

/// The estimate of a run's peak memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// The estimated peak resident memory, bytes: a fixed base, plus the modelled heap with a
    /// margin for the allocator's retention.
    pub peak: u64,
    /// The modelled peak of the heap alone (an upper bound of what the run has allocated at
    /// once), bytes.
    pub heap: u64,
    /// The running estimate after each site, in the order the run meets them (inputs, then
    /// the ops): what has accumulated plus the largest working set so far.
    pub running: Vec<(Site, u64)>,
}

/// Fixed cost of any run: the binary, the allocator's arenas, one stack and a few buffers per
/// party thread.
const BASE: u64 = 96 << 20;
const PER_PARTY: u64 = 4 << 20;
/// The resident memory a run needs exceeds the heap it has in use at once: each party thread's
/// allocator keeps pages it freed (messages are freed by the thread that receives them) for a
/// while. That is up to about 90 MiB on small runs (mnist-network-c: 55 MB of heap, 152 MiB
/// resident, hence the base), relatively far less on large ones; the modelled heap, itself an
/// upper bound, is multiplied by 5/4.
const RETENTION: (u64, u64) = (5, 4);
/// Bytes per recorded trace element: three copies of its 8 bytes (the parties' logs, the trace
/// built from them and the debugger's history) and its share of a JSON export of the trace.
const ELEMENT: u64 = 3 * 8 + 48;
/// Bytes of bookkeeping per trace record (a recorded value or a message: its strings, its
/// copies, its Chrome flow events).
const RECORD: u64 = 512;
/// Bytes of bookkeeping per step per party (its record in each copy, the step's name, its
/// Chrome event).
const STEP_PARTY: u64 = 2048;

/// What one op records in the trace: uncapped elements, records and steps (upper bounds).
struct TraceCost {
    elements: u64,
    records: u64,
    steps: u64,
}

/// The estimate for `plan` (see the module documentation and docs/scenario-format.md).
pub fn estimate(plan: &Plan) -> Estimate {
    let parties = plan.parties.len() as u64;
    let max_values = plan.scenario.trace.max_values as u64;
    // A protocol that computes ReLU without a polynomial runs comparisons (SecureNN's).
    let comparing = plan
        .protocol()
        .approximation(&Op::Relu(String::new()))
        .is_none();
    let trunc_elems: u64 = match plan.scenario.truncation {
        Truncation::Dealer => 14,
        Truncation::Local => 6,
    };
    let n_of = |name: &str| plan.shapes.get(name).map_or(0, |s| numel(s) as u64);
    let public = |name: &str| plan.public.get(name).copied().unwrap_or(false);
    // Parties that hold a value: both servers for a private one, up to every party for a
    // public one.
    let shares: u64 = plan.protocol().share_layout().1.iter().sum::<usize>() as u64;
    let holders = |name: &str| if public(name) { parties } else { shares };

    let fixed = BASE + PER_PARTY * parties;
    // Over Z_2^128 (`ring_bits: 128`) ring elements take 16 bytes, not 8: doubling the whole
    // heap bounds it (the f64 parts do not grow; the bound stays an upper one).
    let wide: u64 = if plan.scenario.fixed_point.ring_bits == 128 {
        2
    } else {
        1
    };
    let total = |heap: u64| {
        fixed.saturating_add(heap.saturating_mul(wide).saturating_mul(RETENTION.0) / RETENTION.1)
    };
    let mut acc = 0u64;
    let mut worst_working = 0u64;
    let mut running = Vec::new();
    let mut masked: HashSet<&str> = HashSet::new();
    let trace_bytes = |t: TraceCost, n: u64| {
        ELEMENT * t.elements.min(t.records.saturating_mul(max_values))
            + RECORD * t.records
            + STEP_PARTY * parties * t.steps
            + 16 * n.min(max_values)
    };

    // Inputs: the values produced at the start (freed once encoded, counted anyway), the
    // shadow's copy and the owner's encoding, or every party's encoding of a public input.
    for (i, inp) in plan.inputs.iter().enumerate() {
        let n = numel(&inp.shape) as u64;
        let mut b = 24 * n;
        if inp.owner.is_none() {
            b += 16 * n * parties;
        }
        if matches!(inp.data, InputData::Values(_)) {
            b += 16 * n; // the scenario's list and the plan's copy of it
        }
        acc = acc.saturating_add(b);
        running.push((Site::Input(i), total(acc.saturating_add(worst_working))));
    }

    for (i, op) in plan.ops.iter().enumerate() {
        let (persistent, working, trace) = match op {
            PlannedOp::Input { name, .. } => {
                let n = n_of(name);
                (
                    32 * n,
                    48 * n,
                    TraceCost {
                        elements: 4 * n + 4,
                        records: 8,
                        steps: 1,
                    },
                )
            }
            PlannedOp::Output { name, .. } => {
                let n = n_of(name);
                // The receiver's copy, the decoded values and plaintext of the result, and
                // the JSON report's numbers.
                (
                    152 * n,
                    32 * n,
                    TraceCost {
                        elements: 3 * n,
                        records: 6,
                        steps: 1,
                    },
                )
            }
            PlannedOp::Compute { name, op } => {
                let n = n_of(name);
                let operands = op.operands();
                let n_in: u64 = operands.iter().map(|o| n_of(o)).sum();
                let all_public = operands.iter().all(|o| public(o));
                let any_public = operands.iter().any(|o| public(o));
                // The value on every holder (and its copy in the op's log), and the shadow's.
                let held = 16 * n * holders(name) + 8 * n;
                let conv = |computing: u64| match op {
                    Op::Conv2d {
                        stride, padding, ..
                    } => conv_working(
                        &plan.shapes[operands[0]],
                        &plan.shapes[operands[1]],
                        *stride,
                        *padding,
                    )
                    .saturating_mul(computing),
                    _ => 0,
                };
                let local = TraceCost {
                    elements: 2 * n,
                    records: 4,
                    steps: 1,
                };
                let (extra, working, trace) = match op {
                    Op::Mul(..) | Op::Square(_) | Op::MatMul(..) | Op::Conv2d { .. } => {
                        if all_public {
                            let w = 8 * parties * (n_in + 2 * n) + conv(parties);
                            (0, w, local)
                        } else if any_public {
                            let w = 16 * n_in + 96 * n + conv(2);
                            (
                                0,
                                w,
                                TraceCost {
                                    elements: trunc_elems * n,
                                    records: 20,
                                    steps: 6,
                                },
                            )
                        } else {
                            // Beaver: masks of the operands not masked before (both servers'
                            // ⟨a⟩ and e, the producer's a), the triple, the openings, the three
                            // products and the truncation, on three parties at once.
                            let mut fresh = 0;
                            for o in &operands {
                                if masked.insert(*o) {
                                    fresh += n_of(o);
                                }
                            }
                            let w = 32 * n_in + 176 * n + conv(3);
                            (
                                40 * fresh,
                                w,
                                TraceCost {
                                    elements: 4 * n_in + (2 + trunc_elems) * n,
                                    records: 40,
                                    steps: 8,
                                },
                            )
                        }
                    }
                    Op::AvgPool2d { .. } if !all_public => (
                        0,
                        16 * n_in + 96 * n,
                        TraceCost {
                            elements: trunc_elems * n,
                            records: 20,
                            steps: 6,
                        },
                    ),
                    Op::Relu(_) | Op::MaxPool2d { .. } | Op::Argmax(_)
                        if comparing && !all_public =>
                    {
                        let (comparisons, levels) = comparisons(op, &plan.shapes[operands[0]], n);
                        (
                            0,
                            512 * comparisons + 256 * n_in,
                            TraceCost {
                                elements: 900 * comparisons + 16 * n,
                                records: 110 * levels + 30,
                                steps: 26 * levels + 4,
                            },
                        )
                    }
                    Op::Sigmoid(_) | Op::Tanh(_) | Op::Relu(_) if !all_public => {
                        // At most five Beaver products (x², then odd or even powers), each
                        // masking its fresh power, and six truncations, one after another.
                        let products = 5;
                        (
                            40 * n * products,
                            272 * n,
                            TraceCost {
                                elements: (4 + 2 + trunc_elems) * n * products + trunc_elems * n,
                                records: 40 * (products + 1),
                                steps: 7 * (products + 1),
                            },
                        )
                    }
                    Op::Reveal(_) if !all_public => (
                        0,
                        48 * n,
                        TraceCost {
                            elements: 4 * n,
                            records: 8,
                            steps: 1,
                        },
                    ),
                    // A composite op (`protocols::composite`) on a private operand: every
                    // sub-value of its lowering stays held under a temporary name, each costed
                    // as a private product of the largest size in the op (its masks, its trace).
                    _ if protocols::composite::handles(op) && !all_public => {
                        let shapes: Vec<Vec<usize>> =
                            operands.iter().map(|o| plan.shapes[*o].clone()).collect();
                        let subs = protocols::composite::lower(name, op, &shapes).len() as u64;
                        let m = n.max(n_in);
                        (
                            subs.saturating_mul(16 * m * holders(name) + 48 * m),
                            32 * n_in + 176 * m,
                            TraceCost {
                                elements: subs.saturating_mul((6 + trunc_elems) * m),
                                records: 40 * subs,
                                steps: 8 * subs,
                            },
                        )
                    }
                    // A gradient op (`protocols::gradient`) on a private operand: a product
                    // (masks, triple, openings) over its largest intermediate — the patch
                    // matrix, or DMaxPool's k·m one-hot — computed on three parties at once,
                    // plus DMaxPool's comparison tree as MaxPool's.
                    _ if protocols::gradient::handles(op) && !all_public => {
                        let shapes: Vec<&[usize]> = operands
                            .iter()
                            .map(|o| plan.shapes[*o].as_slice())
                            .collect();
                        let work = protocols::gradient::working_elements(op, &shapes);
                        let m = n.max(n_in).max(work);
                        let (cmp, levels) = match op {
                            Op::MaxPool2dGrad { kernel, .. }
                            | Op::MaxPool2dWithOneHot { kernel, .. } => {
                                let k = (*kernel as u64).saturating_mul(*kernel as u64);
                                let m_out = match op {
                                    Op::MaxPool2dGrad { .. } => n_of(operands[0]),
                                    _ => n / k.saturating_add(1).max(1),
                                };
                                (
                                    k.saturating_sub(1).saturating_mul(m_out),
                                    (64 - k.saturating_sub(1).leading_zeros()) as u64,
                                )
                            }
                            _ => (0, 0),
                        };
                        (
                            40u64.saturating_mul(m),
                            (32 * n_in + 176 * m)
                                .saturating_add(24u64.saturating_mul(work).saturating_mul(3))
                                .saturating_add(512u64.saturating_mul(cmp)),
                            TraceCost {
                                elements: (6 + trunc_elems) * m + 900 * cmp,
                                records: 60 + 110 * levels,
                                steps: 12 + 26 * levels,
                            },
                        )
                    }
                    // Local ops, and every op on public operands: each holder reads its
                    // operands and writes the result.
                    _ => (0, 8 * holders(name) * (n_in + 2 * n), local),
                };
                (held + extra, working, trace)
            }
        };
        let n = match op {
            PlannedOp::Input { name, .. }
            | PlannedOp::Compute { name, .. }
            | PlannedOp::Output { name, .. } => n_of(name),
        };
        acc = acc
            .saturating_add(persistent)
            .saturating_add(trace_bytes(trace, n));
        worst_working = worst_working.max(working);
        running.push((Site::Op(i), total(acc.saturating_add(worst_working))));
    }
    let labels = plan
        .metrics
        .as_ref()
        .map_or(0, |m| 16 * m.labels.len() as u64);
    let heap = acc.saturating_add(worst_working).saturating_add(labels);
    Estimate {
        peak: total(heap),
        heap,
        running,
    }
}

/// The working set of one conv2d computation by im2col, bytes: the patch matrix
/// (c·kh·kw) × (n·oh·ow), the matrix product, the reordered output and the operand copies.
fn conv_working(x: &[usize], w: &[usize], stride: usize, padding: usize) -> u64 {
    let (Some((oh, ow)), [n, c, h, wd], [oc, _, kh, kw]) = (
        protocols::kernels::conv2d_output_hw(
            x.get(2).copied().unwrap_or(0),
            x.get(3).copied().unwrap_or(0),
            w.get(2).copied().unwrap_or(0),
            w.get(3).copied().unwrap_or(0),
            stride,
            padding,
        ),
        x,
        w,
    ) else {
        return 0;
    };
    let u = |v: usize| v as u64;
    let rows = u(*c) * u(*kh) * u(*kw);
    let cols = u(*n) * u(oh) * u(ow);
    let out = u(*oc).saturating_mul(cols);
    8u64.saturating_mul(
        rows.saturating_mul(cols)
            .saturating_add(2 * out)
            .saturating_add(u(*n) * u(*c) * u(*h) * u(*wd))
            .saturating_add(u(*oc) * rows),
    )
}

/// The comparisons a SecureNN op makes and the levels of its comparison tree: ReLU compares
/// each element once; MaxPool2d and Argmax compare k − 1 times per output (k the window or the
/// classes), in ⌈log₂ k⌉ levels.
fn comparisons(op: &Op, input: &[usize], n_out: u64) -> (u64, u64) {
    let k = match op {
        Op::MaxPool2d { kernel, .. } => (*kernel as u64).saturating_mul(*kernel as u64),
        Op::Argmax(_) => input.last().copied().unwrap_or(1) as u64,
        _ => return (n_out, 1),
    };
    let levels = (64 - k.saturating_sub(1).leading_zeros()) as u64;
    (k.saturating_sub(1).saturating_mul(n_out), levels.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("100kb"), Ok(102_400));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        for bad in [
            "",
            "G",
            "8X",
            "-1G",
            "0",
            "1e9",
            "99999999999T",
            "nanG",
            "1.2.3G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn meminfo_is_read_in_kilobytes() {
        let text = "MemTotal:       24522716 kB\nMemFree:        16000000 kB\n";
        assert_eq!(parse_meminfo(text), Some(24_522_716 * 1024));
        assert_eq!(parse_meminfo("MemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: lots\n"), None);
    }

    #[test]
    fn the_machine_budget_is_half_its_memory() {
        let b = MemoryBudget::machine();
        match b.source {
            BudgetSource::Machine(Some(p)) => assert_eq!(b.bytes, p / 2),
            BudgetSource::Machine(None) => assert_eq!(b.bytes, FALLBACK_BUDGET),
            BudgetSource::Given => panic!("not given"),
        }
        assert!(b.describe().contains("GiB"), "{}", b.describe());
    }

    #[test]
    fn comparison_trees() {
        let relu = Op::Relu("x".into());
        assert_eq!(comparisons(&relu, &[10], 10), (10, 1));
        let pool = Op::MaxPool2d {
            input: "x".into(),
            kernel: 2,
            stride: None,
        };
        assert_eq!(comparisons(&pool, &[1, 1, 4, 4], 4), (12, 2));
        let arg = Op::Argmax("x".into());
        assert_eq!(comparisons(&arg, &[5, 10], 5), (45, 4));
        assert_eq!(comparisons(&arg, &[5, 1], 5), (0, 1));
    }
}
