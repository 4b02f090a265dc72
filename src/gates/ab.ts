// The A/B gate. At the start of an A/B (ab-start) it checks the test is designed (the policy's
// north-star metric, MDE, α, power) and shows the plan: the sample size per arm. At its end
// (ab-conclude) it reads the test: promoting B needs B significantly better in the metric's
// direction (and the policy's minimum duration); keeping A needs B significantly worse, or no
// gain of the MDE's size left in the interval, or the planned horizon reached. The test is the
// always-valid mSPRT (stats/ab-test.ts explains why), so a verdict read on any day is valid.
// Anything else blocks with the numbers, unless the pull request's head commit carries an
// `AB-Override: <reason>` trailer: then the gate warns "overridden: <reason>" and lets it
// through, and the audit record of the merge keeps the reason (audit/facts.ts).
// Unknown or too little data is never a pass.

import type { AbPolicy } from '../config/types.js';
import { formatDuration, parseDuration } from '../model/durations.js';
import { absoluteMde, fixedHorizonSampleSize, sequentialHorizon, sequentialTest, summarize, type Design, type SampleSize, type SequentialResult } from '../stats/ab-test.js';
import type { AbFigures, ArmFigures } from '../metrics/ab-metric.js';
import type { PinCommit } from '../model/pins.js';
import { result, type GateResult, type GateStatus } from './types.js';

/** What the warehouse said over the A/B's window, or why it could not say. */
export type AbEvidence = { figures: AbFigures; window: { start: string; end: string } } | { error: string };

export interface AbInput {
  policy: AbPolicy | undefined;
  environment: string;
  model: string;
  /** A: the stable version; B: the challenger, with its share of traffic (percent) */
  a: string;
  b: string;
  traffic: number;
  /** start: the A/B begins (or restarts at a new split); conclude: it ends with `keeps` serving everything */
  change: 'start' | 'conclude';
  keeps?: 'a' | 'b';
  /** conclude: when the running split was set (git history); undefined: unknown */
  startedAt?: Date;
  now: Date;
  evidence?: AbEvidence;
  /** the reason of an `AB-Override:` trailer on the pull request's head commit */
  override?: string;
}

/**
 * When the running A/B's split was set: the oldest commit of the unbroken run, newest first, that
 * pinned this B arm (same version, same traffic, marked ab) for `model`, as canaryStartedAt does
 * for a canary step; a canary turned A/B starts when the flag was set. Unreadable commits neither
 * extend nor break the run; undefined when the newest readable one does not pin it.
 */
export function abStartedAt(history: Iterable<PinCommit>, model: string, b: { version: string; traffic: number }): Date | undefined {
  let start: Date | undefined;
  for (const e of history) {
    if (!e.pins) continue;
    const c = e.pins[model]?.canary;
    if (c?.version !== b.version || c.traffic !== b.traffic || !c.ab) break;
    start = e.at;
  }
  return start;
}

/** What the interval says about B, in the metric's direction. */
export type AbVerdict = 'b-better' | 'b-worse' | 'no-gain' | 'horizon' | 'continue';

/** The design the policy describes, for B at `traffic` percent. */
export function designOf(policy: AbPolicy, traffic: number): Design {
  return {
    kind: policy.metric.kind, baseline: policy.baseline, mde: policy.mde, alpha: policy.alpha ?? 0.05, power: policy.power ?? 0.8,
    shareB: traffic / 100, direction: policy.metric.direction,
  };
}

/** The verdict of a test result: significance first, then futility (no gain of the MDE's size possible), then the horizon. */
export function abVerdict(test: SequentialResult, direction: AbPolicy['metric']['direction'], mde: number, samples: SampleSize, horizon: SampleSize): AbVerdict {
  const sign = direction === 'decrease' ? -1 : 1;
  const [lo, hi] = [sign * test.ci[0], sign * test.ci[1]].sort((x, y) => x - y) as [number, number];
  if (lo > 0) return 'b-better';
  if (hi < 0) return 'b-worse';
  if (hi < mde) return 'no-gain';
  if (samples.a >= horizon.a && samples.b >= horizon.b) return 'horizon';
  return 'continue';
}

/** What the ab gate's result carries in `data`: the plan, and as far as the data went, the arms, the test and its verdict (the report's A/B section reads it). */
export type AbGateData = {
  plan: { metric: AbPolicy['metric']; alpha: number; power: number; mde: number; shareB: number; fixedHorizon: SampleSize; horizon: SampleSize; minSamples: number; minDuration?: string };
  window?: { start: string; end: string };
  arms?: { a: ArmFigures & { version: string }; b: ArmFigures & { version: string } };
  duplicates?: number;
  means?: { a: number; b: number };
  effect?: number;
  relativeEffect?: number;
  ci?: [number, number];
  pValue?: number;
  se?: number;
  verdict?: AbVerdict;
  /** an AB-Override: trailer's reason, and what the gate said before it */
  override?: string;
  overridden?: GateStatus;
};

export function abGate(input: AbInput): GateResult {
  const r = judge(input);
  if ((r.status === 'fail' || r.status === 'error') && input.override?.trim()) {
    const reason = input.override.trim();
    return { ...r, status: 'warn', summary: `overridden: ${reason} (the A/B test said: ${r.summary})`, data: { ...r.data, override: reason, overridden: r.status } };
  }
  return r;
}

function judge(input: AbInput): GateResult {
  const { policy, a, b, traffic } = input;
  const who = `A/B of ${input.model} ${b} (B, ${traffic}%) against ${a} (A)`;
  if (!policy) {
    return result('ab', 'fail', `no A/B design for ${input.environment}: policies/${input.environment}.yaml needs an ab section (metric, baseline, mde) before an A/B can ${input.change === 'start' ? 'start' : 'be concluded'}`);
  }
  const design = designOf(policy, traffic);
  const fixed = fixedHorizonSampleSize(design);
  const horizon = sequentialHorizon(design);
  const mde = absoluteMde(design);
  const minSamples = policy.minSamples ?? 100;
  const metric = `${policy.metric.name} (${policy.metric.kind}, better when it ${policy.metric.direction}s)`;
  const plan: AbGateData['plan'] = {
    metric: policy.metric, alpha: design.alpha, power: design.power, mde, shareB: design.shareB,
    fixedHorizon: fixed, horizon, minSamples, ...(policy.minDuration ? { minDuration: policy.minDuration } : {}),
  };
  const planLine = `plan: an effect of ${num(mde)} needs ${n(fixed.a)} A / ${n(fixed.b)} B requests with an outcome for a fixed-horizon z-test (α ${design.alpha}, power ${design.power}); `
    + `the always-valid test reaches that power by ${n(horizon.a)} A / ${n(horizon.b)} B`;
  if (input.change === 'start') {
    return result('ab', 'pass', `${who} on ${metric}; ${planLine}`, {
      details: [planLine, `verdict: mSPRT (always valid: may be read every day), α ${design.alpha}${policy.minDuration ? `; B is promoted no sooner than ${policy.minDuration} after the start` : ''}`],
      data: { plan },
    });
  }

  const ev = input.evidence;
  if (!ev) return result('ab', 'error', `${who}: the north-star metric was not measured`, { data: { plan } });
  if ('error' in ev) return result('ab', 'error', `${who}: the north-star metric could not be measured: ${ev.error}`, { data: { plan } });
  const { figures } = ev;
  const samples = { a: figures.a.n, b: figures.b.n };
  const counts = `requests with an outcome: A ${n(samples.a)}, B ${n(samples.b)} (always-valid horizon ${n(horizon.a)} / ${n(horizon.b)})`;
  const data: AbGateData = { plan, window: ev.window, arms: { a: { version: a, ...figures.a }, b: { version: b, ...figures.b } }, duplicates: figures.duplicates };
  if (figures.duplicates > 0) {
    return result('ab', 'error', `${who}: ${n(figures.duplicates)} join rows repeat a request id; the prediction log and ${policy.metric.outcomes} must hold one row per request`, { data });
  }
  if (samples.a === 0 && samples.b === 0) {
    return result('ab', 'fail', `${who}: no data: no request answered by either arm since ${ev.window.start} has an outcome in ${policy.metric.outcomes} (${n(figures.a.requests + figures.b.requests)} requests logged)`, { data });
  }
  if (samples.a < minSamples || samples.b < minSamples) {
    return result('ab', 'fail', `${who}: too little data: ${counts}; each arm needs ≥ ${n(minSamples)} before any verdict`, { data });
  }
  const sa = summarize(figures.a)!;
  const sb = summarize(figures.b)!;
  const test = sequentialTest(sa, sb, mde, design.alpha);
  if (!test) return result('ab', 'fail', `${who}: the metric does not vary in either arm (A mean ${num(sa.mean)}, B mean ${num(sb.mean)}); no test is possible`, { data });
  const verdict = abVerdict(test, policy.metric.direction, mde, samples, horizon);
  const effect = `effect ${signed(test.effect)}${test.relativeEffect !== undefined ? ` (${signed(test.relativeEffect * 100, 3)}%)` : ''}, ${Math.round((1 - design.alpha) * 100)}% CI [${signed(test.ci[0])}, ${signed(test.ci[1])}], always-valid p ${num(test.pValue, 3)}`;
  const means = `${policy.metric.name}: A ${num(sa.mean)}, B ${num(sb.mean)}`;
  Object.assign(data, { means: { a: sa.mean, b: sb.mean }, effect: test.effect, relativeEffect: test.relativeEffect, ci: test.ci, pValue: test.pValue, se: test.se, verdict });
  const details = [means, effect, counts, planLine];
  const say = (status: GateStatus, text: string) => result('ab', status, `${who}: ${text}; ${effect}; ${counts}`, { details, data });

  const ranMs = input.startedAt ? input.now.getTime() - input.startedAt.getTime() : undefined;
  if (input.keeps === 'b') {
    if (verdict !== 'b-better') {
      const why = verdict === 'b-worse' ? `B is significantly worse in ${policy.metric.name}`
        : verdict === 'continue' ? 'not significant yet: keep the A/B running'
          : `no gain of ${num(mde)} found${verdict === 'horizon' ? ' by the planned horizon' : ' (the interval rules it out)'}: conclude by keeping A`;
      return say('fail', `promoting B needs B significantly better; ${why}`);
    }
    const min = policy.minDuration ? parseDuration(policy.minDuration) : 0;
    if (min === undefined) return say('error', `policy ab.minDuration "${policy.minDuration}" is not a duration`);
    if (min > 0) {
      if (ranMs === undefined) return say('error', 'B is significantly better, but when the A/B started is unknown, so its minimum duration cannot be checked');
      if (ranMs < min) return say('fail', `B is significantly better, but the A/B has run ${formatDuration(ranMs)} of the required ${formatDuration(min)}`);
    }
    return say('pass', 'B is significantly better');
  }
  switch (verdict) {
    case 'b-worse': return say('pass', 'B is significantly worse: A kept');
    case 'no-gain': return say('pass', `no gain of ${num(mde)} is left in the interval: A kept`);
    case 'horizon': return say('pass', 'the planned horizon is reached without a significant difference: A kept');
    case 'b-better': return say('warn', 'B is significantly better, and A is kept anyway');
    default: return say('fail', 'inconclusive: neither significant nor at the planned horizon; keep the A/B running, or end it with an AB-Override: <reason> trailer');
  }
}

/** Four significant digits: 0.004166, 98.27, 1.25. */
const num = (x: number, digits = 4) => (Number.isFinite(x) ? String(Number(x.toPrecision(digits))) : String(x));
const signed = (x: number, digits = 4) => `${x > 0 ? '+' : ''}${num(x, digits)}`;
const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '∞');
