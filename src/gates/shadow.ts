// The shadow gate: a shadowed version is promoted on what it answered beside the champion on
// production traffic, joined by request id in the environment's prediction log (README,
// "Prediction logs"; the figures come from metrics/prediction-log.ts, one warehouse aggregation).
// Coverage, error rate, latency p50/p99, score PSI (the drift gate's arithmetic), decision
// agreement at the model's threshold, and the policy's slices. Too little or unknown data is
// never a pass: it fails, and a log that could not be read is an error.
import type { ShadowPolicy } from '../config/types.js';
import { compareHistograms } from '../metrics/psi.js';
import type { ShadowFigures } from '../metrics/prediction-log.js';
import { formatDuration } from '../model/durations.js';
import { DRIFT_DEFAULTS } from './drift.js';
import { result, worst, type GateResult, type GateStatus } from './types.js';

/** What the gatherer found for one shadow: figures, or why there are none. */
export type ShadowEvidence =
  | { figures: ShadowFigures; table: string; window: { start: Date; end: Date } }
  | { unavailable: string }
  | { error: string };

export interface ShadowGateInput {
  policy: ShadowPolicy | undefined;
  environment: string;
  model: string;
  champion: string;
  candidate: string;
  /** the environment's prediction log table; undefined: the environment names none */
  table: string | undefined;
  /** undefined: not gathered */
  evidence: ShadowEvidence | undefined;
}

interface Finding { status: GateStatus; message: string }

export function shadowGate(input: ShadowGateInput): GateResult {
  const { policy, candidate, champion } = input;
  if (!policy) return result('shadow', 'skipped', `the ${input.environment} policy sets no shadow bounds (gates.shadow)`);
  const head = `shadow ${candidate} vs champion ${champion}`;
  if (!input.table) {
    return result('shadow', 'error', `${head}: environments/${input.environment}.yaml names no inferenceLog, so the shadow's answers were not logged and cannot be judged`);
  }
  const ev = input.evidence;
  if (!ev) return result('shadow', 'error', `${head}: the prediction log ${input.table} was not read`);
  if ('error' in ev) return result('shadow', 'error', `${head}: the prediction log ${input.table} could not be read: ${ev.error}`);
  if ('unavailable' in ev) return result('shadow', 'error', `${head}: ${ev.unavailable}`);

  const f = ev.figures;
  const span = `${ev.table}, ${formatDuration(ev.window.end.getTime() - ev.window.start.getTime())} to ${ev.window.end.toISOString()}`;
  const data: Record<string, unknown> = { champion, candidate, table: ev.table, window: { start: ev.window.start.toISOString(), end: ev.window.end.toISOString() }, figures: f };
  const fail = (message: string, status: GateStatus = 'fail') => result('shadow', status, `${head}: ${message} (${span})`, { data });

  if (f.duplicates.champion || f.duplicates.candidate) {
    const which = [f.duplicates.champion ? `${count(f.duplicates.champion)} of ${champion}` : '', f.duplicates.candidate ? `${count(f.duplicates.candidate)} of ${candidate}` : ''].filter(Boolean).join(' and ');
    return fail(`request ids repeat (${which} rows share an id with another row of the same version); the log must hold one row per request and version to be joined`, 'error');
  }
  if (f.championRequests === 0) return fail(`no requests of ${champion} in the log: nothing to compare with`);
  if (f.candidateRequests === 0) return fail(`no requests of ${candidate} in the log: the shadow answered nothing (is it receiving the mirrored traffic?)`);
  if (f.joined === 0) {
    return fail(`none of the ${count(f.championRequests)} requests of ${champion} has a request id the shadow logged too (${count(f.candidateRequests)} shadow requests): does the caller or the gateway set Ce-Id on each request?`);
  }
  if (f.bothAnswered < policy.minRequests) {
    return fail(`too little data: ${count(f.bothAnswered)} requests answered by both, need ${count(policy.minRequests)}`);
  }

  const findings: Finding[] = [];
  const passed: string[] = [];
  const judge = (bad: boolean, failMessage: string, okMessage: string, status: GateStatus = 'fail') => {
    if (bad) findings.push({ status, message: failMessage });
    else passed.push(okMessage);
  };

  const coverage = f.joined / f.championRequests;
  const coverageText = `coverage ${pct(coverage)} of ${count(f.championRequests)} requests`;
  if (policy.coverage) judge(coverage < policy.coverage.min, `${coverageText}, need ≥ ${pct(policy.coverage.min)}`, coverageText);

  const errors = { champion: f.errors.champion / f.joined, candidate: f.errors.candidate / f.joined };
  const errorText = `error rate ${pct(errors.candidate, 2)} vs ${pct(errors.champion, 2)}`;
  if (policy.errorRate) {
    judge(errors.candidate - errors.champion > policy.errorRate.maxIncrease,
      `${errorText} (+${pp(errors.candidate - errors.champion)} pp, allowed ${pp(policy.errorRate.maxIncrease)} pp)`, errorText);
  }

  for (const [name, bound] of [['p50', policy.latency?.p50MaxRatio], ['p99', policy.latency?.p99MaxRatio]] as const) {
    if (bound === undefined) continue;
    const mine = f.latency.candidate[name];
    const theirs = f.latency.champion[name];
    if (mine === undefined || theirs === undefined) {
      findings.push({ status: 'fail', message: `latency ${name} unknown (no LATENCY_MS on the requests both answered)` });
      continue;
    }
    const text = `latency ${name} ${ms(mine)} vs ${ms(theirs)} ms`;
    const ratio = theirs > 0 ? mine / theirs : mine > 0 ? Infinity : 1;
    judge(ratio > bound, `${text} (×${ratio === Infinity ? '∞' : ratio.toFixed(2)}, allowed ×${bound})`, text);
  }

  const psiBand = { ...DRIFT_DEFAULTS.psi, ...policy.psi };
  if (!f.scores) {
    findings.push({ status: 'fail', message: `score PSI unknown: ${candidate} records no training score histogram to bin the scores on` });
  } else {
    const c = compareHistograms(f.scores.champion, f.scores.candidate);
    if (!c.ok) findings.push({ status: 'error', message: `score PSI: ${c.error}` });
    else if (c.psi === undefined) findings.push({ status: 'fail', message: 'score PSI unknown: no scores on one side' });
    else {
      const text = `score PSI ${c.psi.toFixed(3)}`;
      if (psiBand.fail !== undefined && c.psi >= psiBand.fail) findings.push({ status: 'fail', message: `${text} ≥ ${psiBand.fail}` });
      else if (psiBand.warn !== undefined && c.psi >= psiBand.warn) findings.push({ status: 'warn', message: `${text} ≥ ${psiBand.warn}` });
      else passed.push(text);
      data.psi = c.psi;
    }
  }

  if (policy.agreement) {
    const a = (f.agree ?? 0) / f.bothAnswered;
    const text = `decision agreement ${pct(a)} at ${policy.agreement.threshold}`;
    judge(a < policy.agreement.min, `${text}, need ≥ ${pct(policy.agreement.min)}`, text);
  }

  for (const s of policy.slices ?? []) {
    const seen = f.slices.find((x) => x.name === s.name);
    const need = s.minRequests ?? 1;
    if (!seen || seen.pairs < need) {
      findings.push({ status: 'fail', message: `slice ${s.name}: too little data: ${count(seen?.pairs ?? 0)} requests answered by both, need ${count(need)}` });
      continue;
    }
    const min = s.minAgreement ?? policy.agreement?.min;
    if (min === undefined || seen.agree === undefined) {
      passed.push(`slice ${s.name}: ${count(seen.pairs)} requests`);
      continue;
    }
    const a = seen.agree / seen.pairs;
    judge(a < min, `slice ${s.name}: decision agreement ${pct(a)}, need ≥ ${pct(min)}`, `slice ${s.name}: agreement ${pct(a)}`);
  }

  const status = worst(['pass', ...findings.map((x) => x.status)]);
  const details = [...findings.map((x) => `${x.status === 'warn' ? '!' : '✗'} ${x.message}`), ...passed.map((p) => `✓ ${p}`)];
  if (status === 'pass') return result('shadow', 'pass', `${head}: ${passed.join('; ')} (${span})`, { details, data });
  const shown = findings.filter((x) => x.status === status || status === 'error');
  return result('shadow', status, `${head}: ${shown.map((x) => x.message).join('; ')} (${span})`, { details, data });
}

/** When the shadow running now started: the oldest commit of the unbroken run, newest first, that pinned this shadow version. */
export function shadowStartedAt(history: Iterable<{ at: Date; pins?: Record<string, { shadow?: { version: string } }> }>, model: string, version: string): Date | undefined {
  let start: Date | undefined;
  for (const e of history) {
    if (!e.pins) continue;
    if (e.pins[model]?.shadow?.version !== version) break;
    start = e.at;
  }
  return start;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)}%`;
const pp = (x: number) => `${Number((x * 100).toFixed(2))}`;
const ms = (x: number) => x.toFixed(1);
