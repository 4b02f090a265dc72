// PSI, L∞ and null-rate delta against values computed by hand; the arithmetic is in the comments.
import t from 'tap';
import { compareHistograms, histogramRows, OTHER_BIN, populationStability, PSI_EPSILON, type HistogramComparison } from '../../src/metrics/psi.js';
import type { Histogram } from '../../src/config/types.js';

const numeric = (counts: number[], nulls?: number, edges = [0, 10, 20, 30]): Histogram =>
  ({ kind: 'numeric', edges, counts, ...(nulls !== undefined ? { nulls } : {}) });

function compared(reference: Histogram, current: Histogram): HistogramComparison {
  const c = compareHistograms(reference, current);
  if (!c.ok) throw new Error(`expected a comparison, got: ${c.error}`);
  return c;
}

t.test('numeric PSI over the reference bins matches the hand computation', async (t) => {
  // p = 50/100, 30/100, 20/100 = .5 .3 .2 ; q = .4 .3 .3
  // (.5−.4)·ln(.5/.4) = .1·0.2231436 = 0.0223144
  // (.3−.3)·ln(1)     = 0
  // (.2−.3)·ln(.2/.3) = −.1·−0.4054651 = 0.0405465
  // PSI = 0.0628609
  const c = compared(numeric([50, 30, 20]), numeric([40, 30, 30]));
  t.equal(c.kind, 'numeric');
  t.ok(Math.abs(c.psi! - 0.0628609) < 1e-6, `PSI ${c.psi}`);
  t.same(c.bins.map((b) => b.label), ['[0, 10)', '[10, 20)', '[20, 30)']);
  t.ok(Math.abs(c.bins[2]!.contribution - 0.0405465) < 1e-6, 'each bin carries its term of the sum');
  t.equal(c.linf, undefined, 'L∞ is reported for categoricals only');
});

t.test('identical distributions have PSI 0, whatever the sample sizes', async (t) => {
  const c = compared(numeric([50, 30, 20]), numeric([500, 300, 200]));
  t.equal(c.psi, 0);
});

t.test('an empty bin is floored at ε = 1e-4 instead of making PSI infinite', async (t) => {
  // p = 1, 0 → floored 1, 1e-4 ; q = .5 .5
  // (1−.5)·ln(1/.5)             = .5·0.6931472        = 0.3465736
  // (1e-4−.5)·ln(1e-4/.5)       = −.4999·−8.5171932   = 4.2577449
  // PSI = 4.6043185
  t.equal(PSI_EPSILON, 1e-4);
  const c = compared(numeric([100, 0], undefined, [0, 1, 2]), numeric([50, 50], undefined, [0, 1, 2]));
  t.ok(Number.isFinite(c.psi));
  t.ok(Math.abs(c.psi! - 4.6043185) < 1e-6, `PSI ${c.psi}`);
  t.ok(Math.abs(populationStability([1, 0], [0.5, 0.5]) - 4.6043185) < 1e-6, 'the same through the share-level function');
});

t.test('PSI is symmetric in reference and current', async (t) => {
  // (p−q)·ln(p/q) = (q−p)·ln(q/p): each term, so the sum, is unchanged by swapping sides.
  const a = compared(numeric([70, 20, 10]), numeric([20, 30, 50])).psi!;
  const b = compared(numeric([20, 30, 50]), numeric([70, 20, 10])).psi!;
  t.ok(Math.abs(a - b) < 1e-12);
});

t.test('nulls are left out of PSI and measured as a null-rate delta', async (t) => {
  // reference: 100 values, 0 nulls  → null rate 0
  // current:   100 values, 25 nulls → null rate 25 / (100 + 25) = 0.2 ; delta = +0.2
  // the non-null shares are equal, so PSI = 0
  const c = compared(numeric([50, 30, 20]), numeric([50, 30, 20], 25));
  t.equal(c.psi, 0);
  t.same(c.nullRate, { reference: 0, current: 0.2, delta: 0.2 });
  t.same(c.rows, { reference: 100, current: 125 });
  t.equal(histogramRows(numeric([50, 30, 20], 25)), 125);
});

t.test('a falling null rate gives a negative delta', async (t) => {
  // reference 20/(80+20) = 0.2 ; current 5/(95+5) = 0.05 ; delta = −0.15
  const c = compared(numeric([40, 40], 20, [0, 1, 2]), numeric([45, 50], 5, [0, 1, 2]));
  t.ok(Math.abs(c.nullRate.delta + 0.15) < 1e-12);
});

t.test('only nulls on one side: no PSI, but the null rate is still compared', async (t) => {
  const c = compared(numeric([50, 30, 20]), numeric([0, 0, 0], 40));
  t.equal(c.psi, undefined);
  t.same(c.nullRate, { reference: 0, current: 1, delta: 1 });
});

t.test('categorical: union of categories plus other; L∞ is the largest share difference', async (t) => {
  // reference {a: 60, b: 30} other 10          → p: a .6  b .3  c 0   other .1
  // current   {a: 45, b: 35, c: 10} other 10   → q: a .45 b .35 c .1  other .1
  // a: (.6−.45)·ln(.6/.45)        = .15·0.2876821  = 0.0431523
  // b: (.3−.35)·ln(.3/.35)        = −.05·−0.1541507 = 0.0077075
  // c: (1e-4−.1)·ln(1e-4/.1)      = −.0999·−6.9077553 = 0.6900848   (p floored at ε)
  // other: 0
  // PSI = 0.7409446 ; L∞ = max(.15, .05, .1, 0) = .15 ; unseen share (c) = .1
  const c = compared(
    { kind: 'categorical', counts: { a: 60, b: 30 }, other: 10 },
    { kind: 'categorical', counts: { a: 45, b: 35, c: 10 }, other: 10 },
  );
  t.equal(c.kind, 'categorical');
  t.same(c.bins.map((b) => b.label), ['a', 'b', 'c', OTHER_BIN]);
  t.ok(Math.abs(c.psi! - 0.7409446) < 1e-6, `PSI ${c.psi}`);
  t.ok(Math.abs(c.linf! - 0.15) < 1e-12, `L∞ ${c.linf}`);
  t.ok(Math.abs(c.unseenShare! - 0.1) < 1e-12);
});

t.test('categorical without an other bucket on either side has no other bin', async (t) => {
  // p: true .75 false .25 ; q: true .5 false .5 ; L∞ = .25
  // PSI = .25·ln(1.5) + (−.25)·ln(.5) = 0.1013663 + 0.1732868 = 0.2746531
  const c = compared({ kind: 'categorical', counts: { true: 75, false: 25 } }, { kind: 'categorical', counts: { true: 50, false: 50 } });
  t.same(c.bins.map((b) => b.label), ['false', 'true']);
  t.ok(Math.abs(c.linf! - 0.25) < 1e-12);
  t.ok(Math.abs(c.psi! - 0.2746531) < 1e-6, `PSI ${c.psi}`);
  t.equal(c.unseenShare, 0);
});

t.test('a current histogram on other edges is an error, not a number', async (t) => {
  const moved = compareHistograms(numeric([50, 30, 20]), numeric([40, 30, 30], undefined, [0, 10, 25, 30]));
  t.same(moved, { ok: false, error: 'current histogram edge 2 is 25, reference 20; serving data must be binned on the reference edges' });
  const fewer = compareHistograms(numeric([50, 30, 20]), numeric([40, 60], undefined, [0, 10, 30]));
  t.match(fewer, { ok: false, error: /current histogram has 3 edges, reference 4/ });
});

t.test('histograms that do not describe bins are errors', async (t) => {
  t.match(compareHistograms(numeric([50, 30]), numeric([50, 30, 20])), { ok: false, error: /reference histogram has 4 edges for 2 counts; expected 3/ });
  t.match(compareHistograms(numeric([1, 1, 1], undefined, [0, 2, 1, 3]), numeric([1, 1, 1], undefined, [0, 2, 1, 3])),
    { ok: false, error: /edges are not increasing at index 2/ });
  t.match(compareHistograms(numeric([50, -1, 20]), numeric([50, 30, 20])), { ok: false, error: /negative or non-finite count/ });
});

t.test('numeric against categorical, or an empty side, is an error', async (t) => {
  t.same(compareHistograms(numeric([1, 2, 3]), { kind: 'categorical', counts: { a: 1 } }), { ok: false, error: 'reference is numeric but current is categorical' });
  t.same(compareHistograms(numeric([1, 2, 3]), numeric([0, 0, 0])), { ok: false, error: 'current histogram is empty' });
  t.same(compareHistograms(numeric([0, 0, 0]), numeric([1, 2, 3])), { ok: false, error: 'reference histogram is empty' });
});
