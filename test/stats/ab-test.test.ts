// The A/B statistics with hand-computed and published values, and by simulation: the always-valid
// test keeps its error rate when looked at every day, where a fixed-horizon z-test does not.
import t from 'tap';
import { absoluteMde, fixedHorizonSampleSize, sequentialHorizon, sequentialTest, summarize, type Design } from '../../src/stats/ab-test.js';
import { normalCdf, normalQuantile } from '../../src/stats/normal.js';

const design = (over: Partial<Design> = {}): Design => ({
  kind: 'proportion', baseline: { mean: 0.1 }, mde: { absolute: 0.02 }, alpha: 0.05, power: 0.8, shareB: 0.5, ...over,
});

t.test('fixed-horizon sample size: two proportions (R power.prop.test(p1 = .10, p2 = .12, power = .8) = 3840.8)', async (t) => {
  t.same(fixedHorizonSampleSize(design()), { a: 3841, b: 3841 });
  // a relative MDE of 20 % on a 10 % rate is the same 2 points
  t.same(fixedHorizonSampleSize(design({ mde: { relative: 0.2 } })), { a: 3841, b: 3841 });
  t.equal(absoluteMde({ baseline: { mean: 0.1 }, mde: { relative: 0.2 } }), 0.020000000000000004);
});

t.test('fixed-horizon sample size: two means, equal and unequal allocation (Chow, Shao & Wang §3.2.1)', async (t) => {
  // σ = 1, δ = 0.5: 2 (1.959964 + 0.841621)² / 0.25 = 62.79 → 63 per arm (the textbook 63)
  t.same(fixedHorizonSampleSize(design({ kind: 'mean', baseline: { mean: 10, sd: 1 }, mde: { absolute: 0.5 } })), { a: 63, b: 63 });
  // B gets 20 % (k = 1/4): n_A = 7.848879 · (1 + 4) / 0.25 = 156.98 → 157, n_B = 39.24 → 40
  t.same(fixedHorizonSampleSize(design({ kind: 'mean', baseline: { mean: 10, sd: 1 }, mde: { absolute: 0.5 }, shareB: 0.2 })), { a: 157, b: 40 });
});

t.test('the mSPRT statistic, p-value and interval by hand', async (t) => {
  // V = 50/100 + 50/100 = 1, τ = 1, θ̂ = 3: Λ = √(1/2)·e^(9/4) = 6.708842, p = 0.149057
  const a = { n: 100, mean: 0, variance: 50 };
  const b = { n: 100, mean: 3, variance: 50 };
  const r = sequentialTest(a, b, 1, 0.05)!;
  t.ok(Math.abs(r.likelihoodRatio - 6.708842) < 1e-6, `Λ ${r.likelihoodRatio}`);
  t.ok(Math.abs(r.pValue - 0.149057) < 1e-6, `p ${r.pValue}`);
  // half width √(2 (2 ln 20 + ln 2)) = 3.656395
  t.ok(Math.abs(r.ci[0] - (3 - 3.656395)) < 1e-6 && Math.abs(r.ci[1] - (3 + 3.656395)) < 1e-6, `ci ${r.ci}`);
  t.equal(r.se, 1);
  // the interval excludes 0 exactly when p ≤ α
  for (const effect of [3.5, 3.6, 3.65, 3.66, 3.7, 4, 5]) {
    const s = sequentialTest(a, { ...b, mean: effect }, 1, 0.05)!;
    t.equal(s.pValue <= 0.05, s.ci[0] > 0, `effect ${effect}: p ${s.pValue.toFixed(4)}, ci [${s.ci[0].toFixed(3)}, ${s.ci[1].toFixed(3)}]`);
  }
  t.equal(sequentialTest({ n: 10, mean: 1, variance: 0 }, { n: 10, mean: 1, variance: 0 }, 1, 0.05), undefined, 'no variance: no test');
});

t.test('summaries from the sums the warehouse returns', async (t) => {
  // y = 1, 2, 3, 4: mean 2.5, sample variance 5/3
  const s = summarize({ n: 4, sum: 10, sumSquares: 30 })!;
  t.equal(s.mean, 2.5);
  t.ok(Math.abs(s.variance - 5 / 3) < 1e-12);
  t.equal(summarize({ n: 1, sum: 1, sumSquares: 1 }), undefined);
  t.equal(summarize({ n: 0, sum: 0, sumSquares: 0 }), undefined);
});

t.test('the sequential horizon is beyond the fixed one, and has the planned power at the MDE', async (t) => {
  const d = design();
  const fixed = fixedHorizonSampleSize(d);
  const seq = sequentialHorizon(d);
  t.ok(seq.a > fixed.a && seq.a < 4 * fixed.a, `sequential ${seq.a} vs fixed ${fixed.a}`);
  // single-look power at the horizon, recomputed here from the interval's half width
  const power = (n: number) => {
    const v = (0.1 * 0.9) / n + (0.12 * 0.88) / n;
    const h = Math.sqrt(((v * (v + 4e-4)) / 4e-4) * (2 * Math.log(20) + Math.log((v + 4e-4) / v)));
    return normalCdf((0.02 - h) / Math.sqrt(v)) + normalCdf((-0.02 - h) / Math.sqrt(v));
  };
  t.ok(power(seq.a) >= 0.8 && power(seq.a - 1) < 0.8, `power ${power(seq.a)} at ${seq.a}, ${power(seq.a - 1)} at ${seq.a - 1}`);
  const unequal = sequentialHorizon({ ...d, shareB: 0.2 });
  t.ok(unequal.b < unequal.a, 'B gets a quarter of A\'s traffic, so fewer samples');
});

/** A seeded normal generator (mulberry32 + Box–Muller): the simulation gives the same numbers each run. */
function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * A/B tests with no true difference, looked at after each of 30 days (200 requests per arm a
 * day, outcomes ~ N(0, 1)); each stops at the first look that calls it significant.
 */
function falsePositives(test: (a: { n: number; mean: number; variance: number }, b: { n: number; mean: number; variance: number }) => boolean, runs: number, shift = 0): number {
  const z = gaussian(18);
  let rejected = 0;
  for (let r = 0; r < runs; r++) {
    const sums = [{ n: 0, s: 0, q: 0 }, { n: 0, s: 0, q: 0 }];
    for (let day = 0; day < 30; day++) {
      for (const [arm, acc] of sums.entries()) {
        for (let i = 0; i < 200; i++) {
          const y = z() + (arm === 1 ? shift : 0);
          acc.n++; acc.s += y; acc.q += y * y;
        }
      }
      const [a, b] = sums.map((x) => summarize({ n: x.n, sum: x.s, sumSquares: x.q })!);
      if (test(a!, b!)) {
        rejected++;
        break;
      }
    }
  }
  return rejected / runs;
}

t.test('looking every day: the always-valid test keeps α, the fixed-horizon z-test does not', async (t) => {
  const runs = 1000;
  const msprt = falsePositives((a, b) => sequentialTest(a, b, 0.1, 0.05)!.pValue <= 0.05, runs);
  const z = normalQuantile(0.975);
  const naive = falsePositives((a, b) => Math.abs(b.mean - a.mean) / Math.sqrt(a.variance / a.n + b.variance / b.n) > z, runs);
  t.ok(msprt <= 0.05, `mSPRT rejects a true null in ${(msprt * 100).toFixed(1)} % of A/Bs looked at daily`);
  t.ok(naive > 0.15, `a z-test read daily rejects it in ${(naive * 100).toFixed(1)} %`);
  // and it finds a real effect: 0.1 σ over 6000 requests per arm
  const power = falsePositives((a, b) => sequentialTest(a, b, 0.1, 0.05)!.pValue <= 0.05, 200, 0.1);
  t.ok(power > 0.8, `a true effect of 0.1 σ is found in ${(power * 100).toFixed(1)} % of A/Bs`);
});
