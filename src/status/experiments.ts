// A running shadow or A/B test in `modelship status`: its live numbers from the warehouse, read
// through the SAME aggregations the gates run (check/evidence.ts readShadow and readAbTest:
// metrics/prediction-log.ts shadowQuery, metrics/ab-metric.ts abQuery), over the same windows
// (the policy's, never before the pin, from the environment's git history), and judged by the
// same code (gates/shadow.ts shadowGate; the A/B's design, mSPRT and verdict of gates/ab.ts).
// Unknown or unreadable data is shown as unknown with the reason, never as a pass.

import type { AbPolicy, Environment, ShadowPolicy, VersionManifest } from '../config/types.js';
import type { LoadedRepository } from '../config/load.js';
import { ModelshipError } from '../errors.js';
import { pinHistory } from '../adapters/git/history.js';
import type { SnowflakeConnection } from '../adapters/snowflake/warehouse.js';
import { readAbTest, readShadow } from '../check/evidence.js';
import { abStartedAt, abVerdict, designOf, type AbEvidence, type AbVerdict } from '../gates/ab.js';
import { shadowRequest } from '../gates/run.js';
import { shadowGate, shadowStartedAt, type ShadowEvidence } from '../gates/shadow.js';
import type { GateStatus } from '../gates/types.js';
import { compareHistograms } from '../metrics/psi.js';
import { formatDuration, parseDuration } from '../model/durations.js';
import type { PinCommit } from '../model/pins.js';
import { absoluteMde, sequentialHorizon, sequentialTest, summarize, type SampleSize } from '../stats/ab-test.js';

/** A running shadow: what it answered beside the champion so far, and what the shadow gate would say now. */
export interface ShadowStatus {
  champion: string;
  candidate: string;
  /** when the shadow was pinned (git history); undefined: unknown */
  startedAt?: string;
  /** the window read (the policy's, never before the shadow started) */
  window?: { start: string; end: string };
  /** the live numbers; undefined when they could not be read */
  figures?: {
    championRequests: number;
    bothAnswered: number;
    coverage: number;
    errorRate: { champion: number; candidate: number };
    latency: { champion: { p50?: number; p99?: number }; candidate: { p50?: number; p99?: number } };
    psi?: number;
    /** decision agreement at `threshold`, over the requests both answered */
    agreement?: number;
    threshold?: number;
  };
  /** the shadow gate on these numbers, as `check` would judge a promotion of the shadow now */
  gate: { status: GateStatus; summary: string; findings: string[]; note?: string };
  /** why the numbers are unknown */
  unknown?: string;
}

/** A running A/B test: samples against the horizon, the effect with its always-valid interval, the verdict so far. */
export interface AbStatus {
  a: string;
  b: string;
  traffic: number;
  metric?: string;
  startedAt?: string;
  window?: { start: string; end: string };
  /** requests with an outcome per arm */
  samples?: { a: number; b: number };
  /** where the always-valid test reaches the planned power (policy design) */
  horizon?: SampleSize;
  minSamples?: number;
  /** the test's α: the interval is (1 − α) */
  alpha?: number;
  means?: { a: number; b: number };
  effect?: number;
  relativeEffect?: number;
  ci?: [number, number];
  pValue?: number;
  /** the interval's verdict (gates/ab.ts abVerdict); undefined before one is possible */
  verdict?: AbVerdict;
  /** one line: "B better", "no verdict yet", "too little data …", "unknown: …" */
  says: string;
  unknown?: string;
}

export interface ExperimentStatus { shadow?: ShadowStatus; ab?: AbStatus }

/** What the shadow gate would say, with the live numbers taken from its evidence. Pure. */
export function shadowStatus(input: { policy: ShadowPolicy | undefined; environment: string; model: string; champion: string; candidate: string; table: string | undefined; evidence: ShadowEvidence | undefined; startedAt?: Date }): ShadowStatus {
  const judged = shadowGate(input);
  const findings = (judged.details ?? []).filter((d) => !d.startsWith('✓')).map((d) => d.replace(/^[✗!] /, ''));
  // The policy's mode, as the checker applies it (gates/run.ts): off skips, warn turns a block into a warning.
  const mode = input.policy?.mode ?? 'block';
  const gate: ShadowStatus['gate'] = mode === 'off'
    ? { status: 'skipped', summary: `off in the ${input.environment} policy`, findings: [] }
    : mode === 'warn' && (judged.status === 'fail' || judged.status === 'error')
      ? { status: 'warn', summary: judged.summary, findings, note: `warn-only in the ${input.environment} policy (was ${judged.status})` }
      : { status: judged.status, summary: judged.summary, findings };
  const out: ShadowStatus = {
    champion: input.champion, candidate: input.candidate, ...(input.startedAt ? { startedAt: input.startedAt.toISOString() } : {}), gate,
  };
  const ev = input.evidence;
  if (!ev || !('figures' in ev)) {
    out.unknown = judged.summary.replace(/^shadow \S+ vs champion \S+: /, '');
    return out;
  }
  out.window = { start: ev.window.start.toISOString(), end: ev.window.end.toISOString() };
  const f = ev.figures;
  if (f.joined === 0) {
    out.unknown = `no request both versions logged (${f.championRequests.toLocaleString('en-US')} of ${input.champion}, ${f.candidateRequests.toLocaleString('en-US')} of ${input.candidate})`;
    return out;
  }
  const psi = f.scores ? compareHistograms(f.scores.champion, f.scores.candidate) : undefined;
  const threshold = input.policy?.agreement?.threshold;
  out.figures = {
    championRequests: f.championRequests, bothAnswered: f.bothAnswered, coverage: f.joined / f.championRequests,
    errorRate: { champion: f.errors.champion / f.joined, candidate: f.errors.candidate / f.joined },
    latency: f.latency,
    ...(psi?.ok && psi.psi !== undefined ? { psi: psi.psi } : {}),
    ...(f.agree !== undefined && f.bothAnswered > 0 ? { agreement: f.agree / f.bothAnswered } : {}),
    ...(threshold !== undefined ? { threshold } : {}),
  };
  return out;
}

/** The A/B's numbers and verdict so far, by the gate's design, test and verdict rules. Pure. */
export function abStatus(input: { policy: AbPolicy | undefined; environment: string; a: string; b: string; traffic: number; startedAt?: Date; now: Date; evidence: AbEvidence | { unavailable: string } }): AbStatus {
  const { policy, a, b, traffic } = input;
  const base: AbStatus = { a, b, traffic, says: '', ...(input.startedAt ? { startedAt: input.startedAt.toISOString() } : {}) };
  const unknown = (why: string): AbStatus => ({ ...base, unknown: why, says: `unknown: ${why}` });
  if (!policy) return unknown(`policies/${input.environment}.yaml has no ab section (metric, baseline, mde): the A/B cannot be judged`);
  const design = designOf(policy, traffic);
  const horizon = sequentialHorizon(design);
  const mde = absoluteMde(design);
  const minSamples = policy.minSamples ?? 100;
  Object.assign(base, { metric: policy.metric.name, horizon, minSamples, alpha: design.alpha });
  const ev = input.evidence;
  if ('unavailable' in ev) return unknown(ev.unavailable);
  if ('error' in ev) return unknown(`the north-star metric could not be measured: ${ev.error}`);
  const { figures } = ev;
  const samples = { a: figures.a.n, b: figures.b.n };
  Object.assign(base, { window: ev.window, samples });
  if (figures.duplicates > 0) return unknown(`${figures.duplicates.toLocaleString('en-US')} join rows repeat a request id; the prediction log and ${policy.metric.outcomes} must hold one row per request`);
  if (samples.a < minSamples || samples.b < minSamples) return { ...base, says: `too little data: each arm needs ≥ ${minSamples.toLocaleString('en-US')} requests with an outcome before any verdict` };
  const sa = summarize(figures.a)!;
  const sb = summarize(figures.b)!;
  const test = sequentialTest(sa, sb, mde, design.alpha);
  Object.assign(base, { means: { a: sa.mean, b: sb.mean } });
  if (!test) return { ...base, says: 'no verdict possible: the metric does not vary in either arm' };
  const verdict = abVerdict(test, policy.metric.direction, mde, samples, horizon);
  Object.assign(base, { effect: test.effect, ...(test.relativeEffect !== undefined ? { relativeEffect: test.relativeEffect } : {}), ci: test.ci, pValue: test.pValue, verdict });
  let says: string;
  switch (verdict) {
    case 'b-better': {
      const min = policy.minDuration ? parseDuration(policy.minDuration) : undefined;
      const ran = input.startedAt ? input.now.getTime() - input.startedAt.getTime() : undefined;
      says = min && ran !== undefined && ran < min ? `B better (B can be promoted once the A/B has run ${policy.minDuration}: ${formatDuration(ran)} so far)` : 'B better';
      break;
    }
    case 'b-worse': says = 'B worse'; break;
    case 'no-gain': says = `no gain of ${Number(mde.toPrecision(4))} left in the interval: keep A`; break;
    case 'horizon': says = 'horizon reached without a significant difference: keep A'; break;
    default: says = 'no verdict yet';
  }
  return { ...base, says };
}

/**
 * Reads every running shadow and A/B of one environment: the start of each from the
 * environment's first-parent history at `commit`, then one aggregation each in `conn` (the
 * status read's warehouse session; undefined: no connection configured).
 */
export async function readExperiments(repo: LoadedRepository, environment: string, commit: string, options: { root: string; now: Date; conn: Pick<SnowflakeConnection, 'query'> | undefined }): Promise<Record<string, ExperimentStatus>> {
  const env = repo.environments.get(environment)!.data;
  const policy = repo.policies.get(environment)?.data;
  const running = Object.entries(env.models).filter(([, d]) => d.shadow || d.canary?.ab);
  if (!running.length) return {};
  const { history, note } = await runningHistory(options.root, commit, environment, running.map(([m, d]) => [m, d]));
  const noWarehouse = 'no Snowflake connection is configured (SNOWFLAKE_ACCOUNT)';
  const out: Record<string, ExperimentStatus> = {};
  for (const [model, d] of running.sort(([x], [y]) => x.localeCompare(y))) {
    const entry: ExperimentStatus = {};
    if (d.shadow) {
      const startedAt = shadowStartedAt(history, model, d.shadow.version);
      const table = env.inferenceLog?.table;
      const gatePolicy = policy?.gates.shadow;
      let evidence: ShadowEvidence | undefined;
      if (table && gatePolicy) {
        const manifest: VersionManifest | undefined = repo.versions.get(model)?.get(d.shadow.version)?.data;
        evidence = options.conn
          ? await readShadow(options.conn, shadowRequest(model, d.version, d.shadow.version, table, gatePolicy, manifest), startedAt, options.now)
          : { unavailable: `the prediction log ${table} was not read: ${noWarehouse}` };
      }
      entry.shadow = shadowStatus({ policy: gatePolicy, environment, model, champion: d.version, candidate: d.shadow.version, table, evidence, ...(startedAt ? { startedAt } : {}) });
    }
    if (d.canary?.ab) {
      const b = { version: d.canary.version, traffic: d.canary.traffic };
      const startedAt = abStartedAt(history, model, b);
      const ab = policy?.ab;
      const evidence: AbEvidence | { unavailable: string } = !ab ? { unavailable: '' }
        : !startedAt ? { unavailable: `when the A/B of ${b.version} at ${b.traffic}% started is unknown (${note ?? 'the history does not show it'}), so its window cannot be read` }
          : !options.conn ? { unavailable: `${ab.metric.outcomes} was not read: ${noWarehouse}` }
            : await readAbTest(options.conn, { model, a: d.version, b: b.version, policy: ab }, startedAt, options.now);
      entry.ab = abStatus({ policy: ab, environment, a: d.version, b: b.version, traffic: b.traffic, now: options.now, evidence, ...(startedAt ? { startedAt } : {}) });
    }
    out[model] = entry;
  }
  return out;
}

/** The environment's history back past the start of every running shadow and A/B (as canary watch reads it for canaries). */
async function runningHistory(root: string, commit: string, environment: string, running: Array<[string, Environment['models'][string]]>): Promise<{ history: PinCommit[]; note?: string }> {
  const history: PinCommit[] = [];
  const same = (c: PinCommit, model: string, d: Environment['models'][string]) => {
    const p = c.pins?.[model];
    return (!!d.shadow && p?.shadow?.version === d.shadow.version)
      || (!!d.canary?.ab && p?.canary?.version === d.canary.version && p.canary.traffic === d.canary.traffic && !!p.canary.ab);
  };
  try {
    for await (const c of pinHistory(root, commit, environment)) {
      history.push(c);
      if (c.pins && running.every(([m, d]) => !same(c, m, d))) break;
    }
    return { history };
  } catch (e) {
    if (!(e instanceof ModelshipError)) throw e;
    return { history: [], note: `the history could not be read: ${e.message.replace(/\s+/g, ' ')}` };
  }
}
