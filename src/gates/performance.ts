// Performance gate: the candidate's offline metrics against the policy's absolute bounds and,
// when a version is live in the environment (the champion), against that version's metrics,
// overall and per slice. Regression is measured in the metric's bad direction, in absolute units.

import type { Evaluation, MetricBound, Metrics, Policy } from '../config/types.js';
import { result, worst, type GateResult, type GateStatus } from './types.js';

// Metrics are stored with three decimals or so; sums like 0.941 - 0.936 land a hair above 0.005.
const EPSILON = 1e-9;

export interface MetricRow {
  metric: string;
  /** undefined for the overall evaluation */
  slice?: string;
  candidate?: number;
  champion?: number;
  /** candidate - champion */
  delta?: number;
  /** the policy's bounds in words, e.g. "≥ 0.920; regression ≤ 0.005" */
  bound: string;
  status: GateStatus;
  /** why it failed, was not judged or deserves a look */
  note?: string;
}

export type PerformancePolicy = Policy['gates']['performance'];

/** Judges the candidate's metrics by the environment's performance policy. */
export function performanceGate(input: {
  candidate: Evaluation;
  champion?: Evaluation;
  championVersion?: string;
  environment: string;
  policy: PerformancePolicy;
}): GateResult {
  const { candidate, champion, environment, policy } = input;
  const overallBounds = policy?.metrics ?? {};
  const sliceBounds = policy?.slices?.metrics ?? {};
  if (!Object.keys(overallBounds).length && !Object.keys(sliceBounds).length) {
    return result('performance', 'skipped', `the ${environment} policy sets no performance bounds`);
  }
  const against = `${environment}${input.championVersion ? ` ${input.championVersion}` : ''}`;
  const rows: MetricRow[] = [];
  const notes: string[] = [];

  for (const [name, bound] of Object.entries(overallBounds)) {
    rows.push(judge(name, undefined, candidate.overall[name], champion?.overall, bound, environment));
  }

  if (Object.keys(sliceBounds).length) {
    const minRows = policy?.slices?.minRows ?? 0;
    if (!candidate.slices?.length) notes.push(`the policy bounds ${Object.keys(sliceBounds).join(', ')} per slice, but the candidate reports no slices`);
    for (const slice of candidate.slices ?? []) {
      const theirs = champion?.slices?.find((s) => s.name === slice.name)?.metrics;
      for (const [name, bound] of Object.entries(sliceBounds)) {
        if (slice.rows !== undefined && slice.rows < minRows) {
          // Too few rows for the metric to mean much: shown, never judged.
          rows.push({ ...figures(slice.metrics[name], theirs?.[name]), metric: name, slice: slice.name, bound: describe(bound), status: 'skipped',
            note: `${slice.rows.toLocaleString('en-US')} rows, under the ${minRows.toLocaleString('en-US')} needed to judge a slice` });
          continue;
        }
        const row = judge(name, slice.name, slice.metrics[name], theirs, bound, environment);
        if (champion && !theirs && bound.maxRegression !== undefined) row.note ??= `no slice ${slice.name} in ${against}; regression not judged`;
        if (slice.rows === undefined && minRows > 0) row.note ??= 'row count not reported; judged anyway';
        rows.push(row);
      }
    }
  }

  const status = worst([...rows.map((r) => r.status), notes.length ? 'warn' : 'pass']);
  const data = { environment, championVersion: input.championVersion, rows };
  const problems = rows.filter((r) => r.status === 'fail' || r.status === 'warn');
  const details = [
    ...problems.map((r) => r.note!),
    ...notes,
    ...rows.filter((r) => r.status === 'skipped' || (r.status === 'pass' && r.note)).map((r) => `${label(r)}: ${r.note}`),
  ];
  if (!champion) details.push(`no version is live in ${environment}; regression not judged`);

  const failed = problems.filter((r) => r.status === 'fail');
  if (failed.length) {
    const more = failed.length > 1 ? `; and ${failed.length - 1} more` : '';
    return result('performance', 'fail', `${failed[0]!.note}${more}`, { details, data });
  }
  const judged = rows.filter((r) => r.status !== 'skipped');
  const overall = judged.filter((r) => !r.slice).length;
  const slices = new Set(judged.filter((r) => r.slice).map((r) => r.slice)).size;
  const scope = `${overall} metric${overall === 1 ? '' : 's'}${slices ? ` and ${slices} slice${slices === 1 ? '' : 's'}` : ''}`;
  const vs = champion ? ` against ${against}` : ` (nothing live in ${environment} to compare with)`;
  if (status === 'warn') return result('performance', 'warn', `${scope} within bounds${vs}, but ${problems[0]?.note ?? notes[0]}`, { details, data });
  return result('performance', 'pass', `${scope} within bounds${vs}`, { details, data });
}

function judge(name: string, slice: string | undefined, value: number | undefined, champion: Metrics | undefined, bound: MetricBound, environment: string): MetricRow {
  const theirs = champion?.[name];
  const row: MetricRow = { metric: name, ...(slice ? { slice } : {}), ...figures(value, theirs), bound: describe(bound), status: 'pass' };
  const what = slice ? `${name} on ${slice}` : name;
  if (value === undefined || !Number.isFinite(value)) {
    return { ...row, status: 'fail', note: `${what} is ${value === undefined ? 'missing from' : 'not a number in'} the candidate's evaluation; the policy bounds it` };
  }
  const fails: string[] = [];
  if (bound.min !== undefined && value < bound.min - EPSILON) fails.push(`${what} ${fmt(value)} is below the minimum ${fmt(bound.min)}`);
  if (bound.max !== undefined && value > bound.max + EPSILON) fails.push(`${what} ${fmt(value)} is above the maximum ${fmt(bound.max)}`);
  if (bound.maxRegression !== undefined && champion) {
    if (theirs === undefined || !Number.isFinite(theirs)) {
      row.status = 'warn';
      row.note = `${what}: the version live in ${environment} has no ${name}; regression not judged`;
    } else {
      // Positive = worse, whatever the direction.
      const regression = bound.direction === 'higher' ? theirs - value : value - theirs;
      if (regression > bound.maxRegression + EPSILON) {
        const side = bound.direction === 'higher' ? 'below' : 'above';
        fails.push(`${what} ${fmt(value)} is ${fmt(regression)} ${side} ${environment} (${fmt(theirs)}); allowed ${fmt(bound.maxRegression)}`);
      }
    }
  }
  return fails.length ? { ...row, status: 'fail', note: fails.join('; ') } : row;
}

function figures(candidate: number | undefined, champion: number | undefined): Pick<MetricRow, 'candidate' | 'champion' | 'delta'> {
  return {
    ...(candidate !== undefined ? { candidate } : {}),
    ...(champion !== undefined ? { champion } : {}),
    ...(candidate !== undefined && champion !== undefined ? { delta: candidate - champion } : {}),
  };
}

function describe(b: MetricBound): string {
  const parts: string[] = [];
  if (b.min !== undefined) parts.push(`≥ ${fmt(b.min)}`);
  if (b.max !== undefined) parts.push(`≤ ${fmt(b.max)}`);
  if (b.maxRegression !== undefined) parts.push(`regression ≤ ${fmt(b.maxRegression)}`);
  return `${b.direction} is better${parts.length ? `; ${parts.join('; ')}` : ''}`;
}

function label(r: MetricRow): string {
  return r.slice ? `${r.metric} on ${r.slice}` : r.metric;
}

/** Three decimals, as metrics are reported; small non-zero numbers keep two significant digits. */
function fmt(x: number): string {
  const a = Math.abs(x);
  if (a !== 0 && a < 0.001) return x.toPrecision(2);
  return x.toFixed(3);
}
