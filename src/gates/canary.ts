// Canary analysis for a PR that steps or promotes a canary, on Flagger's rules (ml-anchors §2):
// the canary must have run long enough at enough traffic, and every check must be in bounds over
// the window. No data and too little traffic fail; a source that could not answer is an error.
import type { Policy } from '../config/types.js';
import { result, worst, type GateResult, type GateStatus } from './types.js';
import { formatDuration, parseDuration } from '../model/durations.js';
import type { CanaryPin } from '../model/pins.js';
import type { SampleRatioJudgement } from './sample-ratio.js';

export type CanaryPolicy = NonNullable<Policy['canary']>;
export type CanaryCheck = CanaryPolicy['checks'][number];
export type CanaryChange = 'promote-canary' | 'step' | 'start';

/** What a metric source said about one check over the canary window (see metrics/source.ts observeChecks). */
export interface CanaryObservation {
  check: string;
  /** undefined: the query returned no data */
  value?: number;
  /** requests the canary served in the window, when known */
  requests?: number;
  /** the source failed (timeout, unreachable, bad query): the check could not be decided */
  error?: string;
}

export interface CanaryInput {
  policy: Policy['canary'];
  /** the canary running now (from the base branch); startedAt from git history: when it started, or was last stepped */
  canary: (CanaryPin & { startedAt?: Date }) | undefined;
  now: Date;
  /** one per check, over the window [startedAt, now] */
  observations: CanaryObservation[];
  change: CanaryChange;
  /** the sample ratio check over the same window (gates/sample-ratio.ts), when the policy asks for one */
  sampleRatio?: SampleRatioJudgement;
}

export interface CanaryCheckRow {
  name: string;
  source: CanaryCheck['source'];
  status: GateStatus;
  value?: number;
  requests?: number;
  min?: number;
  max?: number;
  minRequests?: number;
  message: string;
}

interface Finding { status: GateStatus; message: string }

export function canaryGate(input: CanaryInput): GateResult {
  const { policy, canary, change } = input;
  if (!policy) return result('canary', 'skipped', 'no canary policy for this environment');
  const minDuration = policy.minDuration ? parseDuration(policy.minDuration) : 0;
  const needs = `promotion needs ${policy.minDuration ?? '0m'} at ≥ ${policy.minTraffic ?? 1}% traffic and ${policy.checks.length} check${policy.checks.length === 1 ? '' : 's'} in bounds`;
  if (change === 'start') {
    // Nothing has run yet, so there is no evidence to judge; the next step or promotion is judged.
    const what = canary ? `canary ${canary.version} starts at ${canary.traffic}% traffic` : 'canary starts';
    return result('canary', 'skipped', `${what}; ${needs}`);
  }
  const verb = change === 'step' ? 'step' : 'promote';
  if (!canary) return result('canary', 'fail', `no canary is running; nothing to ${verb}`);

  const findings: Finding[] = [];
  let ranFor: number | undefined;
  if (minDuration === undefined) {
    findings.push({ status: 'error', message: `policy minDuration "${policy.minDuration}" is not a duration` });
  } else if (!canary.startedAt) {
    findings.push({ status: 'error', message: 'when the canary started is unknown; its duration cannot be checked' });
  } else {
    ranFor = input.now.getTime() - canary.startedAt.getTime();
    if (ranFor < minDuration) {
      findings.push({ status: 'fail', message: `canary has run ${formatDuration(ranFor)} of the required ${formatDuration(minDuration)} (${formatDuration(minDuration - ranFor)} to go)` });
    }
  }
  if (policy.minTraffic !== undefined && canary.traffic < policy.minTraffic) {
    findings.push({ status: 'fail', message: `canary serves ${canary.traffic}% of traffic; needs ≥ ${policy.minTraffic}%` });
  }
  const checks = policy.checks.flatMap((c) => judgeCheck(c, input.observations.filter((o) => o.check === c.name)));
  findings.push(...checks.filter((c) => c.status !== 'pass'));
  const srm = policy.sampleRatio
    ? input.sampleRatio ?? { status: 'error' as const, mismatch: false, message: 'sample ratio: not measured (no request counts per version)' }
    : undefined;
  if (srm && srm.status !== 'pass') findings.push(srm);

  const status = worst(['pass', ...findings.map((f) => f.status)]);
  const ran = ranFor !== undefined ? ` for ${formatDuration(ranFor)}` : '';
  const head = `canary ${canary.version} at ${canary.traffic}%${ran}`;
  const data = {
    canary: { version: canary.version, traffic: canary.traffic, ...(canary.startedAt ? { startedAt: canary.startedAt.toISOString() } : {}), ...(ranFor !== undefined ? { ranForMs: ranFor } : {}) },
    minDuration: policy.minDuration, minTraffic: policy.minTraffic, checks,
    ...(srm ? { sampleRatio: srm } : {}),
  };
  const details = [...checks.map((c) => `${mark[c.status]} ${c.message}`), ...(srm ? [`${mark[srm.status]} ${srm.message}`] : [])];
  if (status === 'pass') {
    const passed = [...checks.map((c) => c.message), ...(srm ? [srm.message] : [])];
    return result('canary', 'pass', `${head}: ${checks.length} check${checks.length === 1 ? '' : 's'} in bounds (${passed.join('; ')})`, { details, data });
  }
  const blocking = findings.filter((f) => f.status === status || status === 'error');
  return result('canary', status, `${head}: ${blocking.map((f) => f.message).join('; ')}`, { details, data });
}

const mark: Record<GateStatus, string> = { pass: '✓', warn: '!', fail: '✗', error: '?', skipped: '-' };

/** One row per observation (normally exactly one); none at all is an error: the runner did not measure it. */
function judgeCheck(check: CanaryCheck, observations: CanaryObservation[]): CanaryCheckRow[] {
  const base = {
    name: check.name, source: check.source,
    ...(check.min !== undefined ? { min: check.min } : {}), ...(check.max !== undefined ? { max: check.max } : {}),
    ...(check.minRequests !== undefined ? { minRequests: check.minRequests } : {}),
  };
  if (observations.length === 0) return [{ ...base, status: 'error', message: `${check.name}: not measured (no observation from ${check.source})` }];
  return observations.map((o) => {
    const seen = { ...base, ...(o.value !== undefined ? { value: o.value } : {}), ...(o.requests !== undefined ? { requests: o.requests } : {}) };
    const row = (status: GateStatus, message: string): CanaryCheckRow => ({ ...seen, status, message: `${check.name}: ${message}` });
    if (o.error) return row('error', `could not be measured: ${o.error}`);
    // Traffic first: with too few requests the value itself means little. Nothing at all is no data.
    if (check.minRequests !== undefined) {
      if (o.requests === undefined && (o.value === undefined || Number.isNaN(o.value))) return row('fail', 'no data (is the canary receiving traffic?)');
      if (o.requests === undefined) return row('fail', `request count unknown; need ≥ ${check.minRequests}`);
      if (o.requests < check.minRequests) return row('fail', `not enough traffic: ${Math.round(o.requests)} requests, need ${check.minRequests}`);
    }
    // NaN arrives as 0/0 from a ratio with no traffic: Flagger and Argo treat it as no data.
    if (o.value === undefined || Number.isNaN(o.value)) return row('fail', 'no data (is the canary receiving traffic?)');
    if (check.min !== undefined && o.value < check.min) return row('fail', `${num(o.value)} < min ${check.min}`);
    if (check.max !== undefined && o.value > check.max) return row('fail', `${num(o.value)} > max ${check.max}`);
    return row('pass', `${num(o.value)} ${bounds(check)}`);
  });
}

function bounds(c: CanaryCheck): string {
  if (c.min !== undefined && c.max !== undefined) return `in [${c.min}, ${c.max}]`;
  if (c.max !== undefined) return `≤ ${c.max}`;
  if (c.min !== undefined) return `≥ ${c.min}`;
  return '(no bound set)';
}

/** Four significant digits: 0.004166, 98.27, 1.25. */
const num = (x: number) => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : String(x));
