//! The Mann-Kendall trend test and Sen's slope of a short series (a region's Gi*
//! z-scores over time bins), as Emerging Hot Spot Analysis reads a trend.

use serde::Serialize;

use super::normal::erfc;

/// The result of [`mann_kendall`] on one series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trend {
    /// Kendall's score `S = Σ_{i<j} sign(x_j - x_i)`.
    pub s: f64,
    /// Variance of `S` under the null hypothesis, corrected for ties.
    pub var_s: f64,
    /// Standard score of `S` with the continuity correction.
    pub z: f64,
    /// Two-sided p-value of `z`, in `[0, 1]`.
    pub p: f64,
    /// Kendall's tau, `S / (n (n - 1) / 2)`, in `[-1, 1]`.
    pub tau: f64,
    /// Sen's slope: the median of the slopes between every pair of points, per bin.
    pub slope: f64,
    /// Intercept of the Sen line: `median(x) - median(0..n) × slope`.
    pub intercept: f64,
}

impl Trend {
    /// The trend of a series with no evidence either way (fewer than two values).
    pub const NONE: Trend = Trend { s: 0.0, var_s: 0.0, z: 0.0, p: 1.0, tau: 0.0, slope: 0.0, intercept: 0.0 };
}

/// The original Mann-Kendall test (Mann 1945, "Nonparametric tests against trend",
/// Econometrica 13(3); Kendall 1975, "Rank Correlation Methods") with the variance
/// corrected for ties, and Sen's slope (Sen 1968, J. Am. Stat. Assoc. 63(324)), as
/// PyPI `pymannkendall`'s `original_test` computes them.
///
/// With `n` values, `t_k` the sizes of the groups of equal values:
///
/// ```text
/// S = Σ_{i<j} sign(x_j - x_i)
/// Var(S) = (n (n-1) (2n+5) - Σ_k t_k (t_k-1) (2 t_k+5)) / 18
/// z = (S - 1) / √Var(S) if S > 0,  0 if S = 0,  (S + 1) / √Var(S) if S < 0
/// p = 2 (1 - Φ(|z|)) = erfc(|z| / √2),   tau = S / (n (n-1) / 2)
/// ```
///
/// Values must be finite. With fewer than two values, or all values equal, the result
/// is [`Trend::NONE`] (with the intercept the value).
///
/// ```
/// use sipks::engine::trend::mann_kendall;
///
/// let t = mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0]);
/// assert_eq!((t.s, t.tau, t.slope), (10.0, 1.0, 1.0));
/// assert!(t.p < 0.05);
/// ```
pub fn mann_kendall(x: &[f64]) -> Trend {
    let n = x.len();
    if n < 2 {
        return Trend { intercept: x.first().copied().unwrap_or(0.0), ..Trend::NONE };
    }
    let mut s = 0i64;
    for (i, &a) in x.iter().enumerate() {
        for &b in &x[i + 1..] {
            s += i64::from(b > a) - i64::from(b < a);
        }
    }
    let nf = n as f64;
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let ties: f64 = sorted
        .chunk_by(|a, b| a == b)
        .map(|group| {
            let t = group.len() as f64;
            t * (t - 1.0) * (2.0 * t + 5.0)
        })
        .sum();
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let s = s as f64;
    let z = if var_s <= 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var_s.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var_s.sqrt()
    } else {
        0.0
    };
    let p = erfc(z.abs() / std::f64::consts::SQRT_2);
    let tau = s / (0.5 * nf * (nf - 1.0));
    let (slope, intercept) = sens_slope(x, &sorted);
    Trend { s, var_s, z, p, tau, slope, intercept }
}

/// Sen's slope of `x` against `0..n` and the intercept of its line, as
/// `pymannkendall.sens_slope`; `sorted` is `x` sorted.
fn sens_slope(x: &[f64], sorted: &[f64]) -> (f64, f64) {
    let n = x.len();
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for (i, &a) in x.iter().enumerate() {
        for (d, &b) in x[i + 1..].iter().enumerate() {
            slopes.push((b - a) / (d + 1) as f64);
        }
    }
    let slope = median(&mut slopes);
    let middle_index = (n - 1) as f64 / 2.0;
    let median_x = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    (slope, median_x - middle_index * slope)
}

/// The median (the mean of the two middle values for an even count), reordering
/// `values`; 0 for none.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (_, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return upper;
    }
    // The lower middle is the largest of the values below the upper one.
    let lower = values[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lower + upper) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand computation (tests/emerging.rs compares with pymannkendall itself).
    #[test]
    fn ties_reduce_the_variance() {
        let t = mann_kendall(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0]);
        assert_eq!(t.s, 16.0);
        // n = 11: 11·10·27 = 2970; ties 1,1 (t=2: 18), 3,3 (18), 5,5,5 (t=3: 66) → 2868 / 18.
        assert!((t.var_s - 2868.0 / 18.0).abs() < 1e-12, "{}", t.var_s);
        assert!((t.z - 15.0 / (2868.0f64 / 18.0).sqrt()).abs() < 1e-12);
        assert!((t.tau - 16.0 / 55.0).abs() < 1e-15);
    }

    #[test]
    fn degenerate_series_have_no_trend() {
        assert_eq!(mann_kendall(&[]), Trend::NONE);
        assert_eq!(mann_kendall(&[2.0]).intercept, 2.0);
        let flat = mann_kendall(&[1.5; 6]);
        assert_eq!((flat.s, flat.z, flat.p, flat.slope, flat.intercept), (0.0, 0.0, 1.0, 0.0, 1.5));
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [1.0, 1.0, 5.0, 5.0]), 3.0);
    }

    #[test]
    fn a_falling_series_has_a_negative_slope() {
        let x: Vec<f64> = (0..20).map(|i| 10.0 - 0.5 * f64::from(i) + if i % 3 == 0 { 0.2 } else { 0.0 }).collect();
        let t = mann_kendall(&x);
        assert!(t.s < 0.0 && t.tau < -0.8 && t.p < 1e-6, "{t:?}");
        assert!((t.slope + 0.5).abs() < 0.05, "{}", t.slope);
    }
}
