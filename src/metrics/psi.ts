// Distances between a reference (training) histogram and a current (serving) one, over the
// reference's frozen bins (ml-anchors §3): PSI, categorical L∞ and the null-rate delta.
// Pure arithmetic; thresholds and verdicts belong to gates/drift.ts.
import type { Histogram } from '../config/types.js';

/** Shares below this are raised to it before PSI, so an empty bin costs a bounded amount instead of ln(0). */
export const PSI_EPSILON = 1e-4;

/** The bucket holding a categorical histogram's `other` count; parenthesised so it reads apart from real categories. */
export const OTHER_BIN = '(other)';

/** One bin: shares of the non-null values, before flooring. */
export interface Bin {
  label: string;
  reference: number;
  current: number;
  /** this bin's term (p − q)·ln(p/q) of the PSI sum, after flooring */
  contribution: number;
}

export interface HistogramComparison {
  ok: true;
  kind: 'numeric' | 'categorical';
  /** undefined when either side has no non-null values (PSI is over non-null values only) */
  psi?: number;
  /** categorical only: max |p_i − q_i| over the union of categories, `other` included */
  linf?: number;
  /** categorical only: the current share in categories the reference does not name (not counting `other`) */
  unseenShare?: number;
  /** nulls / (non-null + nulls) on each side; delta = current − reference */
  nullRate: { reference: number; current: number; delta: number };
  /** observations on each side, nulls included */
  rows: { reference: number; current: number };
  bins: Bin[];
}

export type Comparison = HistogramComparison | { ok: false; error: string };

/** PSI = Σ (p_i − q_i)·ln(p_i/q_i) with every share floored at ε. Both arrays are shares over the same bins. */
export function populationStability(reference: number[], current: number[], epsilon = PSI_EPSILON): number {
  return reference.reduce((sum, p, i) => sum + term(p, current[i] ?? 0, epsilon), 0);
}

function term(p: number, q: number, epsilon: number): number {
  const fp = Math.max(p, epsilon);
  const fq = Math.max(q, epsilon);
  return (fp - fq) * Math.log(fp / fq);
}

/** Observations in a histogram, nulls included. */
export function histogramRows(h: Histogram): number {
  return nonNull(h) + (h.nulls ?? 0);
}

function nonNull(h: Histogram): number {
  return h.kind === 'numeric' ? sum(h.counts) : sum(Object.values(h.counts)) + (h.other ?? 0);
}

/**
 * Compares `current` with `reference` over the reference's bins. Numeric histograms must share
 * the reference's edges exactly (they are frozen at training time and reused when serving data is
 * binned); categoricals are compared over the union of their categories plus `other`.
 */
export function compareHistograms(reference: Histogram, current: Histogram): Comparison {
  const broken = malformed(reference, 'reference') ?? malformed(current, 'current');
  if (broken) return { ok: false, error: broken };
  if (reference.kind !== current.kind) {
    return { ok: false, error: `reference is ${reference.kind} but current is ${current.kind}` };
  }
  const rows = { reference: histogramRows(reference), current: histogramRows(current) };
  if (rows.reference === 0) return { ok: false, error: 'reference histogram is empty' };
  if (rows.current === 0) return { ok: false, error: 'current histogram is empty' };

  let labels: string[];
  let p: number[];
  let q: number[];
  let unseenShare: number | undefined;
  if (reference.kind === 'numeric' && current.kind === 'numeric') {
    const mismatch = edgeMismatch(reference.edges, current.edges);
    if (mismatch) return { ok: false, error: mismatch };
    labels = reference.counts.map((_, i) => `[${reference.edges[i]}, ${reference.edges[i + 1]})`);
    p = shares(reference.counts);
    q = shares(current.counts);
  } else if (reference.kind === 'categorical' && current.kind === 'categorical') {
    const names = [...new Set([...Object.keys(reference.counts), ...Object.keys(current.counts)])].sort();
    const withOther = (reference.other ?? 0) + (current.other ?? 0) > 0;
    labels = withOther ? [...names, OTHER_BIN] : names;
    const counts = (h: typeof reference) => [...names.map((n) => h.counts[n] ?? 0), ...(withOther ? [h.other ?? 0] : [])];
    p = shares(counts(reference));
    q = shares(counts(current));
    unseenShare = sum(names.map((n, i) => (n in reference.counts ? 0 : q[i]!)));
  } else {
    throw new Error('unreachable: kinds were compared above');
  }

  const bins = labels.map((label, i) => ({ label, reference: p[i]!, current: q[i]!, contribution: term(p[i]!, q[i]!, PSI_EPSILON) }));
  const bothHaveValues = nonNull(reference) > 0 && nonNull(current) > 0;
  const nullRate = {
    reference: (reference.nulls ?? 0) / rows.reference,
    current: (current.nulls ?? 0) / rows.current,
  };
  return {
    ok: true,
    kind: reference.kind,
    ...(bothHaveValues ? { psi: sum(bins.map((b) => b.contribution)) } : {}),
    ...(reference.kind === 'categorical' && bothHaveValues ? { linf: Math.max(...bins.map((b) => Math.abs(b.reference - b.current))) } : {}),
    ...(unseenShare !== undefined && bothHaveValues ? { unseenShare } : {}),
    nullRate: { ...nullRate, delta: nullRate.current - nullRate.reference },
    rows,
    bins,
  };
}

/** Counts → shares of their sum; all zeros when the sum is zero (no values to share out). */
function shares(counts: number[]): number[] {
  const total = sum(counts);
  return counts.map((c) => (total > 0 ? c / total : 0));
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** The schema checks types and signs; the shape rules it cannot express are checked here. */
function malformed(h: Histogram, side: string): string | undefined {
  const counts = h.kind === 'numeric' ? h.counts : [...Object.values(h.counts), h.other ?? 0];
  if ([...counts, h.nulls ?? 0].some((c) => !Number.isFinite(c) || c < 0)) return `${side} histogram has a negative or non-finite count`;
  if (h.kind !== 'numeric') return undefined;
  if (h.edges.length !== h.counts.length + 1) {
    return `${side} histogram has ${h.edges.length} edges for ${h.counts.length} counts; expected ${h.counts.length + 1}`;
  }
  for (let i = 1; i < h.edges.length; i++) {
    if (!(h.edges[i]! > h.edges[i - 1]!)) return `${side} histogram edges are not increasing at index ${i} (${h.edges[i - 1]}, ${h.edges[i]})`;
  }
  return undefined;
}

function edgeMismatch(reference: number[], current: number[]): string | undefined {
  if (reference.length !== current.length) {
    return `current histogram has ${current.length} edges, reference ${reference.length}; serving data must be binned on the reference edges`;
  }
  const i = reference.findIndex((e, k) => e !== current[k]);
  return i < 0 ? undefined
    : `current histogram edge ${i} is ${current[i]}, reference ${reference[i]}; serving data must be binned on the reference edges`;
}
