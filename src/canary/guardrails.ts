// Is a live canary breaching its guardrails? A pure judgement over the last N intervals of each
// check (Argo Rollouts' failureLimit / Flagger's threshold: N consecutive failed intervals abort).
// Only a value out of bounds is a breach: no data, too little traffic and a source that did not
// answer never count toward a rollback; a source that did not answer raises an alert instead.

import type { CanaryObservation, CanaryPolicy } from '../gates/canary.js';
import type { SampleRatioJudgement } from '../gates/sample-ratio.js';

export type IntervalState = 'ok' | 'breach' | 'no-data' | 'insufficient' | 'error';

export interface IntervalObservations {
  /** the interval's end; the interval is [end - interval, end] */
  end: Date;
  observations: CanaryObservation[];
}

export interface CheckJudgement {
  check: string;
  source: 'prometheus' | 'warehouse';
  bound: string;
  /** oldest first, one per interval the check was measured in */
  intervals: Array<{ end: string; state: IntervalState; value?: number; requests?: number; error?: string }>;
  /** consecutive breaches ending with the newest interval */
  streak: number;
  breached: boolean;
}

export interface GuardrailVerdict {
  /** breached: some check breached `threshold` intervals in a row; unknown: a source did not answer now; healthy otherwise */
  status: 'breached' | 'healthy' | 'unknown';
  threshold: number;
  checks: CheckJudgement[];
  /** metric sources that did not answer in the newest interval */
  alerts: string[];
  /** why, for people: one line per breached check (metric, values, bound, intervals) */
  reasons: string[];
  /** the sample ratio check over the canary's whole window, when the policy asks for one: a mismatch is a breach at once */
  sampleRatio?: SampleRatioJudgement;
}

/** Consecutive failed intervals before a canary is rolled back, when the policy does not say. */
export const defaultFailureThreshold = 3;

export function judgeGuardrails(input: { policy: CanaryPolicy; intervals: IntervalObservations[]; intervalText: string; sampleRatio?: SampleRatioJudgement }): GuardrailVerdict {
  const { policy } = input;
  const threshold = policy.failureThreshold ?? defaultFailureThreshold;
  const intervals = [...input.intervals].sort((a, b) => a.end.getTime() - b.end.getTime());
  const newest = intervals.at(-1);
  const alerts: string[] = [];
  const reasons: string[] = [];
  const checks = policy.checks.map((check): CheckJudgement => {
    const rows: CheckJudgement['intervals'] = [];
    for (const iv of intervals) {
      const o = iv.observations.find((x) => x.check === check.name);
      if (!o) continue; // not measured in that interval (a warehouse check is read for the newest only)
      const state: IntervalState = o.error ? 'error'
        : check.minRequests !== undefined && (o.requests === undefined || o.requests < check.minRequests) ? 'insufficient'
          : o.value === undefined || Number.isNaN(o.value) ? 'no-data'
            : (check.min !== undefined && o.value < check.min) || (check.max !== undefined && o.value > check.max) ? 'breach' : 'ok';
      rows.push({ end: iso(iv.end), state, ...(o.value !== undefined ? { value: o.value } : {}), ...(o.requests !== undefined ? { requests: o.requests } : {}), ...(o.error ? { error: o.error } : {}) });
      if (state === 'error' && iv === newest) alerts.push(`${check.name}: ${check.source} did not answer: ${o.error}`);
    }
    let streak = 0;
    for (let i = rows.length - 1; i >= 0 && rows[i]!.state === 'breach'; i--) streak++;
    const breached = streak >= threshold;
    const bound = boundText(check);
    if (breached) {
      const recent = rows.slice(-streak).map((r) => `${r.end.slice(11)} ${num(r.value!)}`).join(', ');
      reasons.push(`${check.name} (${check.source}) was outside ${bound} in each of the last ${streak} intervals of ${input.intervalText} (${recent}); the policy rolls back after ${threshold}`);
    }
    return { check: check.name, source: check.source, bound, intervals: rows, streak, breached };
  });
  // The split is judged over the canary's whole window, not per interval: one mismatch means the
  // experiment is broken. Too little data is not a breach; no data source is an alert.
  const srm = input.sampleRatio;
  if (srm?.mismatch) reasons.push(`${srm.message}: the traffic split is not the configured one`);
  if (srm?.status === 'error') alerts.push(srm.message);
  const status = checks.some((c) => c.breached) || srm?.mismatch ? 'breached' : alerts.length ? 'unknown' : 'healthy';
  return { status, threshold, checks, alerts, reasons, ...(srm ? { sampleRatio: srm } : {}) };
}

function boundText(c: CanaryPolicy['checks'][number]): string {
  if (c.min !== undefined && c.max !== undefined) return `[${c.min}, ${c.max}]`;
  if (c.max !== undefined) return `≤ ${c.max}`;
  if (c.min !== undefined) return `≥ ${c.min}`;
  return '(no bound)';
}

const iso = (d: Date) => d.toISOString().replace(/:\d\d(\.\d+)?Z$/, 'Z');
const num = (x: number) => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : String(x));
