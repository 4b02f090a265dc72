// The statistics of an A/B test on a north-star metric, as pure functions of per-arm sums:
// the planned sample size per arm, and an always-valid sequential test (mSPRT) with its
// confidence interval. gates/ab.ts turns the numbers into a verdict.
//
// Why a sequential test and not a fixed horizon: people look at a running A/B every day (the
// report shows the live numbers, and every push re-runs the checker). A fixed-horizon z-test
// read at each look and stopped at the first p < α rejects a true null far more often than α
// (28 % instead of 5 % over 30 daily looks; test/stats/ab-test.test.ts measures it). The
// mixture sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis & Walsh, "Always
// Valid Inference: Continuous Monitoring of A/B Tests", Operations Research 70(3), 2022
// (arXiv:1512.04922; the statistic behind Optimizely's Stats Engine) gives a p-value and a
// confidence interval that hold at every look, however often and whenever one stops: by Ville's
// inequality P(∃n: Λₙ ≥ 1/α | H₀) ≤ α. It also lets a clear winner conclude before the planned
// horizon, while the horizon (the sample size at which the test had 1 − β power to detect the
// minimum detectable effect) tells when "no difference of that size" is the answer.
//
// The estimate: θ̂ = mean(B) − mean(A), with V = s²_A/n_A + s²_B/n_B (plug-in variances, which
// keeps the test valid asymptotically: Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas,
// "Time-uniform central limit theory and asymptotic confidence sequences", Annals of Statistics,
// 2024, arXiv:2103.06476). With a normal mixture N(0, τ²) over the effect, the likelihood ratio
// against θ = θ₀ has the closed form (Johari et al., §4, eq. for normal data, with 2σ²/n = V):
//   Λ(θ₀) = √(V / (V + τ²)) · exp( τ² (θ̂ − θ₀)² / (2 V (V + τ²)) )
// The always-valid p-value is 1/Λ(0) (capped at 1; the running minimum over looks would be
// smaller, so reading only the current look is conservative and needs no stored history), and
// the (1 − α) confidence interval is {θ₀ : Λ(θ₀) < 1/α} = θ̂ ± √( V (V + τ²)/τ² · (2 ln(1/α) + ln((V + τ²)/V)) ).
// τ is the minimum detectable effect (in the metric's units): Johari et al. advise matching the
// mixture to the effect sizes one expects to matter.

import { normalCdf, normalQuantile } from './normal.js';

/** What the warehouse returns per arm: requests with a known outcome, Σy, Σy². */
export interface ArmSums {
  n: number;
  sum: number;
  sumSquares: number;
}

export interface ArmSummary {
  n: number;
  mean: number;
  /** the sample variance (n − 1 in the denominator) */
  variance: number;
}

/** Mean and sample variance from the sums; undefined when n < 2 (no variance yet). */
export function summarize(a: ArmSums): ArmSummary | undefined {
  if (!(a.n >= 2) || !Number.isFinite(a.sum) || !Number.isFinite(a.sumSquares)) return undefined;
  const mean = a.sum / a.n;
  // Σ(y − ȳ)² = Σy² − n ȳ²; clamp the rounding error of nearly constant data at 0.
  const variance = Math.max(0, (a.sumSquares - a.n * mean * mean) / (a.n - 1));
  return { n: a.n, mean, variance };
}

export interface Design {
  /** proportion: each outcome is 0 or 1 (a rate); mean: any number */
  kind: 'proportion' | 'mean';
  /** the metric under A as the policy expects it: its rate or mean, and (mean) its standard deviation */
  baseline: { mean: number; sd?: number };
  /** the smallest effect worth detecting, absolute (in the metric's units) or relative to the baseline */
  mde: { absolute: number } | { relative: number };
  alpha: number;
  power: number;
  /** B's share of the A/B's traffic, 0 < share < 1 (A gets the rest) */
  shareB: number;
  /** which way B should move the metric (default increase): a proportion's planned B rate is baseline ± MDE */
  direction?: 'increase' | 'decrease';
}

/** The minimum detectable effect in the metric's units (always positive). */
export function absoluteMde(d: Pick<Design, 'mde' | 'baseline'>): number {
  return 'absolute' in d.mde ? Math.abs(d.mde.absolute) : Math.abs(d.mde.relative * d.baseline.mean);
}

function signedMde(d: Design): number {
  return d.direction === 'decrease' ? -absoluteMde(d) : absoluteMde(d);
}

/** The variances of one outcome under A and under B = A + MDE, as the plan assumes them. */
function plannedVariances(d: Design): { a: number; b: number } {
  if (d.kind === 'proportion') {
    const p1 = d.baseline.mean;
    const p2 = p1 + signedMde(d);
    return { a: p1 * (1 - p1), b: p2 * (1 - p2) };
  }
  const s2 = (d.baseline.sd ?? NaN) ** 2;
  return { a: s2, b: s2 };
}

export interface SampleSize {
  a: number;
  b: number;
}

/**
 * The fixed-horizon sample size per arm of a two-sided z-test at level α with power 1 − β
 * against the MDE, with n_B = k·n_A (k = share_B / share_A), rounded up.
 * Proportions: Fleiss, Levin & Paik, "Statistical Methods for Rates and Proportions", 3rd ed.
 * (2003), eq. 4.19 without continuity correction:
 *   n_A = [ z₁₋α/₂ √(p̄q̄(1 + 1/k)) + z₁₋β √(p₁q₁ + p₂q₂/k) ]² / δ²,  p̄ = (p₁ + k p₂)/(1 + k)
 * (k = 1: R's power.prop.test). Means: Chow, Shao & Wang, "Sample Size Calculations in
 * Clinical Research", 2nd ed. (2008), §3.2.1 with unequal allocation:
 *   n_A = (z₁₋α/₂ + z₁₋β)² σ² (1 + 1/k) / δ².
 */
export function fixedHorizonSampleSize(d: Design): SampleSize {
  const k = d.shareB / (1 - d.shareB);
  const delta = absoluteMde(d);
  const za = normalQuantile(1 - d.alpha / 2);
  const zb = normalQuantile(d.power);
  let nA: number;
  if (d.kind === 'proportion') {
    const p1 = d.baseline.mean;
    const p2 = p1 + signedMde(d);
    const pbar = (p1 + k * p2) / (1 + k);
    nA = (za * Math.sqrt(pbar * (1 - pbar) * (1 + 1 / k)) + zb * Math.sqrt(p1 * (1 - p1) + (p2 * (1 - p2)) / k)) ** 2 / delta ** 2;
  } else {
    nA = ((za + zb) ** 2 * (d.baseline.sd ?? NaN) ** 2 * (1 + 1 / k)) / delta ** 2;
  }
  return { a: Math.ceil(nA - 1e-9), b: Math.ceil(k * nA - 1e-9) };
}

/** The mSPRT confidence interval's half width for an estimate of variance V. */
function halfWidth(v: number, tau2: number, alpha: number): number {
  return Math.sqrt(((v * (v + tau2)) / tau2) * (2 * Math.log(1 / alpha) + Math.log((v + tau2) / v)));
}

/**
 * The always-valid test's horizon: the smallest n_A (n_B = k·n_A) at which a look at that
 * sample alone rejects with probability ≥ 1 − β when the true effect is the MDE (its power by
 * then is at least that: it may have rejected at an earlier look). Larger than the fixed
 * horizon: the price of being allowed to look every day. Variances as the plan assumes them.
 */
export function sequentialHorizon(d: Design): SampleSize {
  const k = d.shareB / (1 - d.shareB);
  const delta = absoluteMde(d);
  const tau2 = delta * delta;
  const s2 = plannedVariances(d);
  const power = (nA: number): number => {
    const v = s2.a / nA + s2.b / (k * nA);
    const c = halfWidth(v, tau2, d.alpha);
    const se = Math.sqrt(v);
    return normalCdf((delta - c) / se) + normalCdf((-delta - c) / se);
  };
  // Power grows with n: double to bracket, then bisect on whole numbers.
  let lo = 1;
  let hi = Math.max(2, fixedHorizonSampleSize(d).a);
  while (power(hi) < d.power) {
    lo = hi;
    hi *= 2;
    if (hi > 1e12) return { a: Infinity, b: Infinity };
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (power(mid) >= d.power) hi = mid;
    else lo = mid;
  }
  return { a: hi, b: Math.ceil(k * hi - 1e-9) };
}

export interface SequentialResult {
  /** mean(B) − mean(A) */
  effect: number;
  /** effect / mean(A), when mean(A) ≠ 0 */
  relativeEffect?: number;
  /** the standard error √V */
  se: number;
  /** Λ(0), the mixture likelihood ratio against "no difference" */
  likelihoodRatio: number;
  /** the always-valid p-value, min(1, 1/Λ(0)) */
  pValue: number;
  /** the always-valid (1 − α) confidence interval of the effect */
  ci: [number, number];
  alpha: number;
}

/**
 * The mSPRT of "no difference" between the arms, with mixture variance τ² (the MDE squared).
 * Undefined when V is 0 or not a number (constant outcomes, or too few): no test possible.
 */
export function sequentialTest(a: ArmSummary, b: ArmSummary, tau: number, alpha: number): SequentialResult | undefined {
  const v = a.variance / a.n + b.variance / b.n;
  const tau2 = tau * tau;
  if (!(v > 0) || !(tau2 > 0) || !Number.isFinite(v)) return undefined;
  const effect = b.mean - a.mean;
  const logLambda = 0.5 * Math.log(v / (v + tau2)) + (tau2 * effect * effect) / (2 * v * (v + tau2));
  const h = halfWidth(v, tau2, alpha);
  return {
    effect, ...(a.mean !== 0 ? { relativeEffect: effect / a.mean } : {}), se: Math.sqrt(v),
    likelihoodRatio: Math.exp(logLambda), pValue: Math.min(1, Math.exp(-logLambda)),
    ci: [effect - h, effect + h], alpha,
  };
}
