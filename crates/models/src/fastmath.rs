//! `exp`, `tanh` and the logistic function in plain f32 arithmetic, so that loops over them
//! vectorise (glibc's `tanhf` is a scalar call: it took 9% of a DanQ training step).
//!
//! Cephes' single-precision algorithms: `exp` by a degree-6 polynomial after reducing by
//! powers of two, `tanh` by an odd polynomial below 0.625 and `1 - 2 / (exp(2|x|) + 1)`
//! above. Rounding uses the 1.5·2²³ trick instead of `floor`, which baseline x86-64 lacks
//! as an instruction, and there is no fused multiply-add, so a loop gives the same bits
//! whether the compiler vectorised it or not. Errors against f64 are checked in the tests
//! (a few units in the last place). NaN stays NaN.

/// 1.5 · 2²³: adding and subtracting it rounds an f32 below 2²² to the nearest integer.
const ROUND: f32 = 12_582_912.0;

/// `e^x` for x in [-87, 88] (clamped there).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let k = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // x - k·ln 2 in two parts, as Cephes.
    let r = x - k * 0.693_359_4 - k * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 0.166_666_65)
        * r
        + 0.5;
    let y = p * (r * r) + r + 1.0;
    // 2^k from the exponent bits; k is in [-126, 127].
    let k = (k + ROUND).to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f32::from_bits(k.wrapping_add(127) << 23);
    y * scale
}

/// The hyperbolic tangent.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small = ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 0.133_314_42)
        * z
        - 0.333_332_8)
        * z
        * x
        + x;
    // Above 10, tanh rounds to ±1 in f32.
    let e = exp(2.0 * if a < 10.0 { a } else { 10.0 });
    let large = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    if x.is_nan() {
        x
    } else if a < 0.625 {
        small
    } else {
        large
    }
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    if x.is_nan() {
        x
    } else {
        1.0 / (1.0 + exp(-x))
    }
}

#[cfg(test)]
mod tests {
    /// Units in the last place between `got` and the f64 value.
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        let spacing = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        ((got as f64 - want) / spacing.max(f32::MIN_POSITIVE as f64)).abs()
    }

    fn sweep() -> impl Iterator<Item = f32> {
        (-200_000..=200_000)
            .map(|i| i as f32 * 1e-4)
            .chain((-400..=400).map(|i| i as f32 * 0.25))
            .chain([
                1e-30, -1e-30, 1e-7, -1e-7, 0.0, -0.0, 87.0, -87.0, 1e6, -1e6,
            ])
    }

    #[test]
    fn tanh_within_two_ulps() {
        let worst = sweep()
            .map(|x| ulps(super::tanh(x), (x as f64).tanh()))
            .fold(0.0, f64::max);
        assert!(worst <= 2.0, "{worst} ulps");
        assert!(super::tanh(f32::NAN).is_nan());
        assert_eq!(super::tanh(f32::INFINITY), 1.0);
        assert_eq!(super::tanh(f32::NEG_INFINITY), -1.0);
    }

    #[test]
    fn exp_and_sigmoid_within_two_ulps() {
        for x in sweep().filter(|x| x.abs() <= 80.0) {
            let e = ulps(super::exp(x), (x as f64).exp());
            assert!(e <= 2.0, "exp({x}): {e} ulps");
            let s = ulps(super::sigmoid(x), 1.0 / (1.0 + (-x as f64).exp()));
            assert!(s <= 3.0, "sigmoid({x}): {s} ulps");
        }
        assert!(super::sigmoid(f32::NAN).is_nan());
        assert_eq!(super::sigmoid(200.0), 1.0);
        assert_eq!(super::sigmoid(-200.0), super::sigmoid(-88.0));
    }
}
