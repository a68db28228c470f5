//! The statistics of the leak test: a chi-square test of homogeneity (two samples, categories
//! with small counts merged), its Rao–Scott correction for counts pooled over the positions of
//! one run, and Holm's correction across features.

/// Categories are merged until every cell's expected count is at least this.
pub const MIN_EXPECTED: f64 = 5.0;

/// The counts of one categorical feature in the two samples, pooled over runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Table<'a> {
    /// Per category, the count in sample A.
    pub a: &'a [u64],
    /// Per category, the count in sample B.
    pub b: &'a [u64],
}

/// The outcome of one test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Test {
    /// The chi-square statistic (after the design-effect correction).
    pub statistic: f64,
    /// Degrees of freedom after merging (0: nothing to test).
    pub df: usize,
    /// The p-value (1 when there is nothing to test).
    pub p: f64,
}

impl Test {
    const NONE: Test = Test {
        statistic: 0.0,
        df: 0,
        p: 1.0,
    };
}

/// Chi-square test of homogeneity of a 2×K table. Categories are taken in increasing order of
/// their total count (ties in category order) and merged until each merged category's smaller expected count reaches
/// [`MIN_EXPECTED`] (a last small remainder joins the previous one). The statistic is divided by
/// `design_effect` (clamped to ≥ 1); with one degree of freedom Yates' continuity correction is
/// applied. Returns p = 1 when fewer than two merged categories remain.
pub fn chi_square(t: &Table<'_>, design_effect: f64) -> Test {
    let na: u64 = t.a.iter().sum();
    let nb: u64 = t.b.iter().sum();
    if na == 0 || nb == 0 {
        return Test::NONE;
    }
    let n = (na + nb) as f64;
    let small = na.min(nb) as f64 / n;
    let mut cats: Vec<(u64, u64)> =
        t.a.iter()
            .zip(t.b)
            .map(|(&a, &b)| (a, b))
            .filter(|&(a, b)| a + b > 0)
            .collect();
    // By total only (stable: ties keep the category order): merging must not look at which
    // sample a count came from.
    cats.sort_by_key(|&(a, b)| a + b);
    let mut bins: Vec<(u64, u64)> = Vec::new();
    let mut acc = (0u64, 0u64);
    for (a, b) in cats {
        acc = (acc.0 + a, acc.1 + b);
        if (acc.0 + acc.1) as f64 * small >= MIN_EXPECTED {
            bins.push(acc);
            acc = (0, 0);
        }
    }
    if acc.0 + acc.1 > 0 {
        match bins.last_mut() {
            Some(last) => *last = (last.0 + acc.0, last.1 + acc.1),
            None => bins.push(acc),
        }
    }
    if bins.len() < 2 {
        return Test::NONE;
    }
    let df = bins.len() - 1;
    let yates = if df == 1 { 0.5 } else { 0.0 };
    let mut x2 = 0.0;
    for &(a, b) in &bins {
        let tot = (a + b) as f64;
        for (o, ng) in [(a as f64, na as f64), (b as f64, nb as f64)] {
            let e = tot * ng / n;
            let d = ((o - e).abs() - yates).max(0.0);
            x2 += d * d / e;
        }
    }
    let x2 = x2 / design_effect.max(1.0);
    Test {
        statistic: x2,
        df,
        p: chi2_sf(x2, df as f64),
    }
}

/// Per-run sums of one pooled categorical feature in one sample: for every category the sum of
/// the per-run counts and of their squares, over `runs` runs of `positions` positions each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pooled {
    /// Runs added.
    pub runs: u64,
    /// Positions per run (the last run's; constant for one feature).
    pub positions: u64,
    /// Σ over runs of the count, per category.
    pub sum: Vec<u64>,
    /// Σ over runs of the squared count, per category.
    pub sum_sq: Vec<u64>,
}

impl Pooled {
    /// An empty accumulator for `categories` categories.
    pub fn new(categories: usize) -> Pooled {
        Pooled {
            runs: 0,
            positions: 0,
            sum: vec![0; categories],
            sum_sq: vec![0; categories],
        }
    }

    /// Adds one run's counts.
    pub fn add(&mut self, counts: &[u32]) {
        self.runs += 1;
        self.positions = counts.iter().map(|&c| c as u64).sum();
        for (k, &c) in counts.iter().enumerate() {
            self.sum[k] += c as u64;
            self.sum_sq[k] += (c as u64) * (c as u64);
        }
    }
}

/// Rao and Scott's first-order design effect of counts pooled over the positions of each run:
/// the positions of one run need not be independent (e.g. a matrix product's entries share
/// operands), so the counts may vary more than a multinomial's. Each category's effect is its
/// within-sample variance of per-run counts over the multinomial variance m·p(1 − p); the mean
/// effect is δ̄ = Σ (1 − p_k)·d_k / (K − 1). At least 1 (the correction never makes the test
/// more liberal).
pub fn design_effect(samples: [&Pooled; 2]) -> f64 {
    let (mut num, mut wsum, mut k_used) = (0.0, 0.0, 0usize);
    let cats = samples[0].sum.len();
    let total: f64 = samples
        .iter()
        .map(|s| s.sum.iter().sum::<u64>() as f64)
        .sum();
    if total == 0.0 {
        return 1.0;
    }
    for k in 0..cats {
        let (mut emp, mut binom) = (0.0, 0.0);
        for s in samples {
            if s.runs < 2 || s.positions == 0 {
                continue;
            }
            let r = s.runs as f64;
            let m = s.positions as f64;
            let mean = s.sum[k] as f64 / r;
            let var = (s.sum_sq[k] as f64 - r * mean * mean).max(0.0) / (r - 1.0);
            let p = mean / m;
            emp += (r - 1.0) * var;
            binom += (r - 1.0) * m * p * (1.0 - p);
        }
        if binom > 0.0 {
            let pk = (samples[0].sum[k] + samples[1].sum[k]) as f64 / total;
            num += (1.0 - pk) * emp / binom;
            wsum += 1.0 - pk;
            k_used += 1;
        }
    }
    if k_used < 2 || wsum <= 0.0 {
        return 1.0;
    }
    (num / wsum).max(1.0)
}

/// Holm's step-down adjustment: adjusted p-values in the input order, each at most 1.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]).then(i.cmp(&j)));
    let mut out = vec![1.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

/// The upper tail P(X ≥ x) of a chi-square distribution with `df` degrees of freedom, accurate
/// far into the tail (it is computed as Q(df/2, x/2) without forming 1 − P where that is tiny).
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || df <= 0.0 {
        return 1.0;
    }
    gamma_q(df / 2.0, x / 2.0)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error about 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, &c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized upper incomplete gamma function Q(a, x).
fn gamma_q(a: f64, x: f64) -> f64 {
    let ln_pre = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // Series for P, then Q = 1 − P (Q is not tiny here).
        let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * ln_pre.exp()).clamp(0.0, 1.0)
    } else {
        // Continued fraction for Q (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (ln_pre.exp() * h).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_tail_matches_known_values() {
        // Quantiles at 5 % and 1 %, and closed forms: df 1 is erfc(√(x/2)); an even df 2m is
        // e^(−x/2) Σ_{k<m} (x/2)^k / k!.
        let even = |x: f64, m: u32| {
            let h = x / 2.0;
            (0..m)
                .map(|k| h.powi(k as i32) / (1..=k).map(f64::from).product::<f64>())
                .sum::<f64>()
                * (-h).exp()
        };
        let cases = [
            (3.841_458_820_694_124, 1.0, 0.05),
            (6.634_896_601_021_214, 1.0, 0.01),
            (24.995_790_139_728_1, 15.0, 0.05),
            (40.0, 1.0, 2.539_628_589_470_86e-10),
            (100.0, 10.0, even(100.0, 5)),
            (300.0, 4.0, even(300.0, 2)),
            (1.0, 2.0, (-0.5f64).exp()),
        ];
        for (x, df, want) in cases {
            let got = chi2_sf(x, df);
            assert!(
                ((got - want) / want).abs() < 1e-6,
                "chi2_sf({x}, {df}) = {got}, want {want}"
            );
        }
        assert_eq!(chi2_sf(0.0, 3.0), 1.0);
    }

    #[test]
    fn identical_samples_are_not_evidence_and_separated_ones_are() {
        let same = chi_square(
            &Table {
                a: &[10, 10, 10],
                b: &[10, 10, 10],
            },
            1.0,
        );
        assert!(same.p > 0.99, "{same:?}");
        // A constant in each sample, different constants: 30 runs each.
        let sep = chi_square(
            &Table {
                a: &[30, 0],
                b: &[0, 30],
            },
            1.0,
        );
        assert!(sep.p < 1e-10, "{sep:?}");
        // Nothing to compare.
        assert_eq!(chi_square(&Table { a: &[5], b: &[5] }, 1.0).p, 1.0);
        assert_eq!(
            chi_square(
                &Table {
                    a: &[0, 0],
                    b: &[3, 4]
                },
                1.0
            )
            .p,
            1.0
        );
    }

    #[test]
    fn small_categories_are_merged_not_tested() {
        // 16 uniform categories, 20 observations each side: every cell expects 1.25; after
        // merging, what is left is at most a few bins, and the counts do not differ.
        let a = [1u64, 2, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1];
        let b = [2u64, 1, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 2, 1, 1];
        let t = chi_square(&Table { a: &a, b: &b }, 1.0);
        assert!(t.df <= 3, "{t:?}");
        assert!(t.p > 0.05, "{t:?}");
    }

    #[test]
    fn holm_is_monotone_and_bounded() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.5]);
        assert_eq!(adj[0], 0.04);
        assert!((adj[2] - 0.09).abs() < 1e-12);
        assert!((adj[1] - 0.09).abs() < 1e-12);
        assert_eq!(adj[3], 0.5);
    }

    #[test]
    fn design_effect_sees_correlated_positions() {
        // Independent positions: every run's count of category 0 over 100 positions near 50.
        let mut indep = [Pooled::new(2), Pooled::new(2)];
        // All positions of a run equal: counts are 0 or 100.
        let mut corr = [Pooled::new(2), Pooled::new(2)];
        for r in 0..40u32 {
            let c = 45 + (r * 7) % 11;
            indep[(r % 2) as usize].add(&[c, 100 - c]);
            let all = if r % 4 < 2 { 100 } else { 0 };
            corr[(r % 2) as usize].add(&[all, 100 - all]);
        }
        let d_indep = design_effect([&indep[0], &indep[1]]);
        let d_corr = design_effect([&corr[0], &corr[1]]);
        assert!(d_indep < 1.5, "{d_indep}");
        assert!(d_corr > 50.0, "{d_corr}");
    }
}
