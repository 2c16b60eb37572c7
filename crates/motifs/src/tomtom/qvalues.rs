//! Storey's q-values.

/// Storey's q-values (Storey & Tibshirani 2003): the proportion of true nulls `pi0` is
/// estimated with the bootstrap choice of lambda (Storey, Taylor & Siegmund 2004) over
/// lambda = 0, 0.05, ..., 0.95: the lambda whose estimate has the smallest mean squared
/// error against the smallest estimate over bootstrap resamples of the p-values. That error
/// is computed exactly rather than from random resamples (MEME draws 100): a resample's
/// count above lambda is binomial, so its error is the binomial variance plus the squared
/// bias. On 180 filters x 879 JASPAR motifs this changed no q-value's agreement with MEME
/// 5.5.8's (the same 0.6% median, 2.4% largest difference; MEME's own draws differ from
/// run to run) and made the q-values independent of any seed.
pub fn storey_qvalues(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    if m == 0 {
        return Vec::new();
    }
    // #{p > lambda_k} for lambda_k = k / 20 from a histogram of p over 20 bins: bin b holds
    // (b/20, (b+1)/20], and p = 0 goes below every lambda.
    let mut histogram = [0usize; 21];
    for &x in p {
        let b = if x <= 0.0 {
            0
        } else {
            ((x * 20.0).ceil() as usize).min(20)
        };
        histogram[b] += 1;
    }
    let lambdas: Vec<f64> = (0..20).map(|i| i as f64 * 0.05).collect();
    let mut above = [0usize; 20];
    let mut acc = 0;
    for k in (0..20).rev() {
        acc += histogram[k + 1];
        above[k] = acc;
    }
    let n = m as f64;
    let pi0s: Vec<f64> = lambdas
        .iter()
        .zip(above)
        .map(|(&l, c)| c as f64 / (n * (1.0 - l)))
        .collect();
    let min_pi0 = pi0s.iter().copied().fold(f64::INFINITY, f64::min);
    // A resample's count above lambda is binomial (m, c / m): the estimate's variance plus
    // its squared distance from the smallest estimate.
    let mse: Vec<f64> = lambdas
        .iter()
        .zip(above.iter().zip(&pi0s))
        .map(|(&l, (&c, &pi0))| {
            let f = c as f64 / n;
            let d = n * (1.0 - l);
            n * f * (1.0 - f) / (d * d) + (pi0 - min_pi0).powi(2)
        })
        .collect();
    let best = (0..lambdas.len())
        .min_by(|&a, &b| mse[a].total_cmp(&mse[b]))
        .expect("lambdas");
    // With few p-values the estimate can reach 0 (no p above lambda): fall back to 1, i.e.
    // Benjamini-Hochberg.
    let pi0 = match pi0s[best] {
        x if x > 0.0 => x.min(1.0),
        _ => 1.0,
    };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![0f64; m];
    let mut running = f64::INFINITY;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(pi0 * p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}
