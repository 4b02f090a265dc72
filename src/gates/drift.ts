// Drift / training-serving skew: each feature's serving histogram against the training one
// frozen in the version manifest (PSI, null-rate delta, categorical L∞; ml-anchors §3).
// Missing serving data is never a pass: one missing feature warns, none at all is an error.
import type { Histogram, Policy } from '../config/types.js';
import { compareHistograms, histogramRows, type Bin } from '../metrics/psi.js';
import { result, worst, type GateResult, type GateStatus } from './types.js';

type DriftPolicy = NonNullable<Policy['gates']['drift']>;
interface Band { warn?: number; fail?: number }

/** Thresholds used when the policy does not set them: ml-anchors §3's recommendations. Inclusive: a value at a threshold crosses it. */
export const DRIFT_DEFAULTS = {
  psi: { warn: 0.1, fail: 0.25 },
  nullRateDelta: { fail: 0.05 },
  categoricalLinf: { fail: 0.1 },
} as const;

export interface DriftRow {
  feature: string;
  status: GateStatus;
  kind?: 'numeric' | 'categorical';
  psi?: number;
  linf?: number;
  unseenShare?: number;
  nullRate?: { reference: number; current: number; delta: number };
  rows?: { reference: number; current: number };
  /** the bins that contribute most to PSI, largest first (for the report's detail) */
  topBins?: Bin[];
  /** no serving histogram (or an empty one) for this feature */
  missing?: boolean;
  /** why the row is not a pass, one phrase each, worst first */
  reasons: string[];
}

export interface DriftInput {
  reference: Record<string, Histogram>;
  current: Record<string, Histogram>;
  /** e.g. "training 2026.11.20-1" */
  referenceLabel: string;
  /** e.g. "serving, last 7d" */
  currentLabel: string;
  policy: Policy['gates']['drift'];
  /** the model's output distribution, judged with the same PSI thresholds */
  scores?: { reference?: Histogram; current?: Histogram };
}

/** Judges every reference feature; data.features holds one row per feature, most drifted first. */
export function driftGate(input: DriftInput): GateResult {
  const thresholds = resolve(input.policy);
  const versus = `${input.currentLabel} vs ${input.referenceLabel}`;
  const names = Object.keys(input.reference).sort();
  if (names.length === 0) {
    return result('drift', 'error', `no reference histograms in ${input.referenceLabel}; drift cannot be judged`, { data: { thresholds } });
  }
  const features = names.map((name) => judge(name, input.reference[name]!, input.current[name], thresholds)).sort(byPsi);
  const score = input.scores?.reference ? judge('model score', input.scores.reference, input.scores.current, thresholds) : undefined;
  const extra = Object.keys(input.current).filter((n) => !(n in input.reference)).sort();
  const data = {
    reference: input.referenceLabel, current: input.currentLabel, thresholds, features,
    ...(score ? { score } : {}),
    ...(extra.length ? { notInReference: extra } : {}),
  };
  const details = [...features, ...(score ? [score] : [])].filter((r) => r.status !== 'pass').map((r) => line(r, r.reasons.join('; ')));
  if (extra.length) details.push(`not in the reference, not judged: ${extra.join(', ')}`);

  if (features.every((r) => r.missing)) {
    return result('drift', 'error', `no serving data for any of the ${names.length} features (${versus})`, { details, data });
  }
  const status = worst([...features.map((r) => r.status), ...(score ? [score.status] : [])]);
  if (status === 'pass') {
    const top = features[0]!;
    return result('drift', 'pass',
      `${names.length} feature${names.length === 1 ? '' : 's'} within bounds; largest PSI ${fmt(top.psi)} (${top.feature}) — ${versus}`, { details, data });
  }
  const flagged = [...features, ...(score ? [score] : [])].filter((r) => r.status === status);
  const shown = flagged.slice(0, 3).map((r) => line(r, r.reasons[0]!)).join('; ');
  const more = flagged.length > 3 ? ` and ${flagged.length - 3} more` : '';
  return result('drift', status, `${shown}${more} — ${versus}`, { details, data });
}

function resolve(policy: Policy['gates']['drift']): Required<Pick<DriftPolicy, 'psi' | 'nullRateDelta' | 'categoricalLinf'>> {
  const band = (set: Band | undefined, defaults: Band): Band => ({ ...defaults, ...set });
  return {
    psi: band(policy?.psi, DRIFT_DEFAULTS.psi),
    nullRateDelta: band(policy?.nullRateDelta, DRIFT_DEFAULTS.nullRateDelta),
    categoricalLinf: band(policy?.categoricalLinf, DRIFT_DEFAULTS.categoricalLinf),
  };
}

function judge(feature: string, reference: Histogram, current: Histogram | undefined, t: ReturnType<typeof resolve>): DriftRow {
  const missing: DriftRow = { feature, status: 'warn', missing: true, reasons: [`no data for ${feature}`] };
  if (!current || histogramRows(current) === 0) return missing;
  const c = compareHistograms(reference, current);
  if (!c.ok) return { feature, status: 'error', reasons: [c.error] };
  const checks: Array<{ status: GateStatus; reason: string }> = [];
  const cross = (value: number | undefined, band: Band, say: (limit: number) => string) => {
    if (value === undefined) return;
    if (band.fail !== undefined && value >= band.fail) checks.push({ status: 'fail', reason: say(band.fail) });
    else if (band.warn !== undefined && value >= band.warn) checks.push({ status: 'warn', reason: say(band.warn) });
  };
  cross(c.psi, t.psi, (limit) => `PSI ${fmt(c.psi)} ≥ ${limit}`);
  if (c.kind === 'categorical') {
    const widest = [...c.bins].sort((a, b) => Math.abs(b.reference - b.current) - Math.abs(a.reference - a.current))[0];
    cross(c.linf, t.categoricalLinf, (limit) =>
      // current first, as everywhere ("serving vs training", "live vs candidate", the null rate)
      `L∞ ${fmt(c.linf)} ≥ ${limit} (${widest?.label}: ${pct(widest?.current)} vs ${pct(widest?.reference)})`);
  }
  const n = c.nullRate;
  cross(Math.abs(n.delta), t.nullRateDelta, (limit) =>
    `null rate ${pct(n.current)} vs ${pct(n.reference)} (${n.delta >= 0 ? '+' : '−'}${pp(Math.abs(n.delta))} pp, limit ${pp(limit)} pp)`);
  if (c.psi === undefined) checks.push({ status: 'warn', reason: 'PSI not computable: no non-null values on one side' });
  // Worst first, so reasons[0] is the one the summary quotes.
  checks.sort((a, b) => rank[b.status] - rank[a.status]);
  return {
    feature,
    status: worst(['pass', ...checks.map((x) => x.status)]),
    kind: c.kind,
    ...(c.psi !== undefined ? { psi: c.psi } : {}),
    ...(c.linf !== undefined ? { linf: c.linf } : {}),
    ...(c.unseenShare ? { unseenShare: c.unseenShare } : {}),
    nullRate: c.nullRate,
    rows: c.rows,
    topBins: [...c.bins].sort((a, b) => b.contribution - a.contribution).slice(0, 3),
    reasons: checks.map((x) => x.reason),
  };
}

const rank: Record<GateStatus, number> = { skipped: 0, pass: 1, warn: 2, fail: 3, error: 4 };

/** "feature: reason"; a missing row's reason already names the feature. */
function line(r: DriftRow, reason: string): string {
  return r.missing ? reason : `${r.feature}: ${reason}`;
}

/** PSI descending; rows without a PSI (missing, broken) last; ties by name. */
function byPsi(a: DriftRow, b: DriftRow): number {
  return (b.psi ?? -1) - (a.psi ?? -1) || a.feature.localeCompare(b.feature);
}

const fmt = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(3));
const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);
const pp = (x: number) => `${Number((x * 100).toFixed(1))}`;
