// `canary watch`, one evaluation: for each live canary of an environment (what main pins), read
// each check at the end of each of the last N intervals (stateless: the metric source keeps the
// history, so nothing is stored between runs), judge them (guardrails.ts), and on a breach roll
// the canary back as the policy's autoRollback says. A source that does not answer is an alert.

import { loadRepository } from '../config/load.js';
import type { Policy } from '../config/types.js';
import { ModelshipError, UsageError } from '../errors.js';
import type { CanaryObservation } from '../gates/canary.js';
import { formatDuration, parseDuration } from '../model/durations.js';
import { pinHistory } from '../adapters/git/history.js';
import type { CanaryPin, PinCommit } from '../model/pins.js';
import { canaryStartedAt } from './start.js';
import { fetchBranch, refExists, remoteUrl } from '../adapters/git/repo.js';
import { gitRevision, resolveRevision } from '../adapters/git/tree.js';
import type { GitHubConnection } from '../adapters/github/client.js';
import { defaultRequestsQueries, prometheusSource } from '../adapters/prometheus.js';
import { observeChecks, usesWindowBounds, type MetricSource } from '../metrics/source.js';
import { warehouseFromEnv, warehouseSource, type WarehouseSource } from '../adapters/snowflake/warehouse.js';
import { localDefaultBranch } from '../promote/promote.js';
import { rollback, type RollbackRequest, type RollbackResult } from '../rollback/rollback.js';
import { judgeGuardrails, type GuardrailVerdict, type IntervalObservations } from './guardrails.js';
import { judgeSampleRatio } from '../gates/sample-ratio.js';
import { readSampleRatio } from './sample-ratio.js';

export interface WatchRequest {
  root: string;
  environment: string;
  now: Date;
  /** overrides the policy's canary.interval */
  intervalMs?: number;
  prometheusUrl?: string;
  /** act on a breach as the policy says; otherwise only report */
  act: boolean;
  base?: string;
  github?: GitHubConnection;
  /**
   * The commit of `base` to read, instead of fetching it (the agent's mirror, which may be a
   * bare repository: the watch itself reads only git objects)
   */
  tip?: string;
  /** where the connections are configured (SNOWFLAKE_*); default this process's environment */
  env?: NodeJS.ProcessEnv;
  /** how a breach is rolled back; default rollback() in `root` (the agent runs it in a working clone) */
  rollback?: (req: RollbackRequest) => Promise<RollbackResult>;
}

export interface CanaryWatch {
  model: string;
  version: string;
  traffic: number;
  stable: string;
  startedAt?: string;
  verdict: GuardrailVerdict;
  /** what was done about a breach */
  action: 'none' | 'reported' | 'pull-request' | 'pushed' | 'failed';
  rollback?: RollbackResult;
  error?: string;
}

export interface WatchReport {
  environment: string;
  at: string;
  interval: string;
  autoRollback: 'off' | 'pr' | 'direct';
  canaries: CanaryWatch[];
  notes: string[];
}

export async function watchOnce(req: WatchRequest): Promise<WatchReport> {
  const { root, environment: env } = req;
  const base = req.base ?? (await localDefaultBranch(root));
  if (!req.tip && await remoteUrl(root)) await fetchBranch(root, base);
  const baseRef = !req.tip && (await refExists(root, `refs/remotes/origin/${base}`)) ? `origin/${base}` : base;
  const tip = req.tip ?? await resolveRevision(root, baseRef);
  const repo = await loadRepository(await gitRevision(root, tip), { versions: 'pinned' });
  const environment = repo.environments.get(env)?.data;
  if (!environment) throw new UsageError(`environment "${env}" does not exist (or does not validate) on ${baseRef}`);
  const policy = repo.policies.get(env)?.data.canary;
  const intervalMs = req.intervalMs ?? (policy?.interval ? parseDuration(policy.interval) : undefined) ?? 60_000;
  const report: WatchReport = {
    environment: env, at: req.now.toISOString(), interval: formatDuration(intervalMs), autoRollback: policy?.autoRollback ?? 'off', canaries: [], notes: [],
  };
  const live = Object.entries(environment.models).filter(([, d]) => d.canary);
  if (!live.length) {
    report.notes.push(`no canary is running in ${env} on ${baseRef}`);
    return report;
  }
  if (!policy) {
    report.notes.push(`policies/${env}.yaml has no canary section: nothing to watch`);
    return report;
  }

  const sources: Partial<Record<'prometheus' | 'warehouse', MetricSource>> = req.prometheusUrl ? { prometheus: prometheusSource({ url: req.prometheusUrl }) } : {};
  let warehouse: WarehouseSource | undefined;
  try {
    const config = policy.checks.some((c) => c.source === 'warehouse') ? warehouseFromEnv(req.env ?? process.env) : undefined;
    if (config) sources.warehouse = warehouse = warehouseSource(config);
  } catch (e) {
    if (!(e instanceof ModelshipError)) throw e;
    sources.warehouse = { evaluate: () => Promise.reject(e) };
  }
  try {
    const history = await canaryHistory(root, tip, env, live.map(([m, d]) => [m, d.canary!]));
    for (const [model, d] of live) {
      const c = d.canary!;
      const startedAt = canaryStartedAt(history, model, c);
      const intervals = await observeIntervals({ policy, sources, model, version: c.version, env, namespace: environment.kubernetes?.namespace ?? env, ...(environment.kubernetes ? { mode: environment.kubernetes.mode } : {}), now: req.now, intervalMs, startedAt });
      const sampleRatio = policy.sampleRatio
        ? judgeSampleRatio({
          policy: policy.sampleRatio, environment: env, stable: d.version, canary: c.version, traffic: c.traffic, table: environment.inferenceLog?.table,
          evidence: environment.inferenceLog
            ? await readSampleRatio(model, { env: environment, table: environment.inferenceLog.table }, { stable: d.version, canary: c.version },
              // The whole step so far (the split is cumulative evidence), or the intervals watched when its start is unknown.
              { start: startedAt ?? new Date(req.now.getTime() - (policy.failureThreshold ?? 3) * intervalMs), end: req.now }, {}, req.env ?? process.env)
            : undefined,
        })
        : undefined;
      const verdict = judgeGuardrails({ policy, intervals, intervalText: formatDuration(intervalMs), ...(sampleRatio ? { sampleRatio } : {}) });
      const w: CanaryWatch = { model, version: c.version, traffic: c.traffic, stable: d.version, ...(startedAt ? { startedAt: startedAt.toISOString() } : {}), verdict, action: 'none' };
      report.canaries.push(w);
      if (verdict.status !== 'breached') continue;
      if (!req.act || report.autoRollback === 'off') {
        w.action = 'reported';
        continue;
      }
      try {
        w.rollback = await (req.rollback ?? rollback)({
          root, environment: env, model, openPr: report.autoRollback === 'pr', breakGlass: false, direct: report.autoRollback === 'direct',
          base, now: req.now, by: 'modelship canary watch', evidence: verdict.reasons,
          reason: `canary guardrail breached: ${[...verdict.checks.filter((x) => x.breached).map((x) => x.check), ...(verdict.sampleRatio?.mismatch ? ['sample ratio'] : [])].join(', ')}`,
          ...(req.github ? { github: req.github } : {}),
        });
        w.action = w.rollback.pushed === 'default-branch' ? 'pushed' : w.rollback.pullRequest ? 'pull-request' : 'failed';
        if (w.rollback.nextSteps) w.error = w.rollback.nextSteps.join(' ');
      } catch (e) {
        if (!(e instanceof ModelshipError)) throw e;
        w.action = 'failed';
        w.error = e.message;
      }
    }
  } finally {
    await warehouse?.close();
  }
  return report;
}

/** Reads each check at the end of each of the last N intervals that lie wholly after the canary started. */
async function observeIntervals(input: {
  policy: NonNullable<Policy['canary']>; sources: Partial<Record<'prometheus' | 'warehouse', MetricSource>>;
  model: string; version: string; env: string; namespace: string; mode?: 'serverless' | 'raw'; now: Date; intervalMs: number; startedAt?: Date;
}): Promise<IntervalObservations[]> {
  const n = input.policy.failureThreshold ?? 3;
  const out: IntervalObservations[] = [];
  for (let k = n - 1; k >= 0; k--) {
    const end = new Date(input.now.getTime() - k * input.intervalMs);
    const start = new Date(end.getTime() - input.intervalMs);
    if (input.startedAt && start < input.startedAt) continue;
    // A warehouse query that reads "now" (CURRENT_TIMESTAMP in its SQL) can only be read for the
    // newest interval; one written with {{start}} and {{end}} is read for every interval.
    const checks = input.policy.checks.filter((c) => c.source === 'prometheus' || k === 0 || usesWindowBounds(c.query));
    const observations: CanaryObservation[] = await observeChecks({
      checks, sources: input.sources, window: { start, end },
      context: { namespace: input.namespace, model: input.model, version: input.version, environment: input.env, ...(input.mode ? { mode: input.mode } : {}) },
      requestsQueries: defaultRequestsQueries(input.mode),
    });
    out.push({ end, observations });
  }
  return out;
}

/** The environment's history back past the start of every live canary. */
async function canaryHistory(root: string, tip: string, env: string, canaries: Array<[string, CanaryPin]>): Promise<PinCommit[]> {
  const events: PinCommit[] = [];
  for await (const c of pinHistory(root, tip, env)) {
    events.push(c);
    // the first readable commit where no live canary runs at its current step ends every run
    if (c.pins && canaries.every(([m, k]) => c.pins![m]?.canary?.version !== k.version || c.pins![m]?.canary?.traffic !== k.traffic)) break;
  }
  return events;
}
