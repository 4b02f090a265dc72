// The canary's sample ratio check: did each version get the share of requests the split says?
// A mismatch means the experiment is broken (routing, a crashing canary, the logger dropping
// events): its other numbers cannot be trusted. Judged by the canary gate (promotion) and by
// canary watch (a breach). Pure: the counts come from metrics/prediction-log.ts.
import type { Policy } from '../config/types.js';
import { chiSquareTest } from '../metrics/sample-ratio.js';
import type { GateStatus } from './types.js';

export type SampleRatioPolicy = NonNullable<NonNullable<Policy['canary']>['sampleRatio']>;

/** What the gatherer found: requests per version over the canary's window, or why there are none. */
export type SampleRatioEvidence =
  | { counts: { stable: number; canary: number }; table: string; window: { start: Date; end: Date } }
  | { unavailable: string }
  | { error: string };

export interface SampleRatioJudgement {
  /** pass; fail: a mismatch or too little data; error: no data source */
  status: Extract<GateStatus, 'pass' | 'fail' | 'error'>;
  /** a mismatch (p below the bound): the only state canary watch counts as a breach */
  mismatch: boolean;
  message: string;
  statistic?: number;
  pValue?: number;
}

/** Requests both versions must have logged when the policy does not say. */
export const defaultSampleRatioMinRequests = 1000;

export function judgeSampleRatio(input: {
  policy: SampleRatioPolicy; environment: string; stable: string; canary: string; traffic: number;
  /** the environment's prediction log; undefined: it names none */
  table: string | undefined;
  evidence: SampleRatioEvidence | undefined;
}): SampleRatioJudgement {
  const { policy, evidence } = input;
  const no = (message: string): SampleRatioJudgement => ({ status: 'error', mismatch: false, message: `sample ratio: ${message}` });
  if (!input.table) return no(`environments/${input.environment}.yaml names no inferenceLog, so the requests per version are unknown`);
  if (!evidence) return no(`the prediction log ${input.table} was not read`);
  if ('error' in evidence) return no(`the prediction log ${input.table} could not be read: ${evidence.error}`);
  if ('unavailable' in evidence) return no(evidence.unavailable);
  const { stable, canary } = evidence.counts;
  const total = stable + canary;
  const need = policy.minRequests ?? defaultSampleRatioMinRequests;
  if (total < need) {
    return { status: 'fail', mismatch: false, message: `sample ratio: too little data: ${count(total)} requests logged (${input.stable} ${count(stable)}, ${input.canary} ${count(canary)}), need ${count(need)}` };
  }
  const share = input.traffic / 100;
  const t = chiSquareTest([stable, canary], [1 - share, share]);
  const seen = `canary ${input.canary} has ${pct(canary / total)} of ${count(total)} logged requests, configured ${input.traffic}%; χ² ${t.statistic.toFixed(2)}, p ${p(t.pValue)}`;
  if (t.pValue < policy.minPValue) {
    return { status: 'fail', mismatch: true, message: `sample ratio mismatch: ${seen} < ${policy.minPValue}`, statistic: t.statistic, pValue: t.pValue };
  }
  return { status: 'pass', mismatch: false, message: `sample ratio: ${seen} ≥ ${policy.minPValue}`, statistic: t.statistic, pValue: t.pValue };
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
/** Two significant digits; small values in exponent form (1.2e-28). */
const p = (x: number) => (x === 0 ? '0' : x < 1e-4 ? x.toExponential(1) : String(Number(x.toPrecision(2))));
