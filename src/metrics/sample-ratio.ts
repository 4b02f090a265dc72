// Sample ratio mismatch: Pearson's chi-square goodness-of-fit test of the requests each version
// served against the configured split. Pure arithmetic; gates/sample-ratio.ts judges it.
//
// The p-value is the chi-square distribution's upper tail, Q(df/2, x/2): the regularized upper
// incomplete gamma function, from @stdlib/math-base-special-gammainc (a maintained port of
// Boost's implementation). Computed as the upper tail directly, not as 1 − CDF, so small p-values
// (the ones that matter here) keep their precision.
import gammainc from '@stdlib/math-base-special-gammainc';

export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
}

/** The chi-square test of `observed` counts against `shares` (summing to 1) of their total. */
export function chiSquareTest(observed: number[], shares: number[]): ChiSquareResult {
  if (observed.length !== shares.length || observed.length < 2) throw new Error('chiSquareTest: one share per observed count, at least two');
  const total = observed.reduce((a, b) => a + b, 0);
  const shareSum = shares.reduce((a, b) => a + b, 0);
  if (Math.abs(shareSum - 1) > 1e-9 || shares.some((s) => s < 0)) throw new Error(`chiSquareTest: shares must be ≥ 0 and sum to 1 (they sum to ${shareSum})`);
  let statistic = 0;
  observed.forEach((o, i) => {
    const e = total * shares[i]!;
    // A group expected to get nothing that got something is as far from the split as can be.
    statistic += e === 0 ? (o === 0 ? 0 : Infinity) : (o - e) ** 2 / e;
  });
  const df = observed.length - 1;
  return { statistic, df, pValue: chiSquareUpperTail(statistic, df) };
}

/** P(X ≥ x) for X ~ χ²(df). */
export function chiSquareUpperTail(x: number, df: number): number {
  if (!(df > 0)) throw new Error(`chiSquareUpperTail: df must be positive, got ${df}`);
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  return gammainc(x / 2, df / 2, true, true);
}
