// Gathers what the checker's gates asked for (gates/run.ts `needs`) through the adapters: git
// history (one walk per environment, check/history.ts), artifact HEADs in S3, the dbt manifest,
// canary metrics, reviews on GitHub. Every failure becomes an `error` the gate reports; nothing
// here decides pass or fail.

import { readDbtIndex } from '../adapters/dbt.js';
import { ModelshipError } from '../errors.js';
import { canaryStartedAt } from '../canary/start.js';
import type { Evidence, EvidenceRequest } from '../gates/run.js';
import { observeChecks, type MetricSource } from '../metrics/source.js';
import { defaultRequestsQueries, prometheusSource } from '../adapters/prometheus.js';
import { warehouseFromEnv, warehouseSource, type WarehouseSource } from '../adapters/snowflake/warehouse.js';
import { ArtifactStore, parseS3Uri, s3Client } from '../adapters/s3/store.js';
import { warehouseFor } from '../adapters/snowflake/warehouse-env.js';
import { isTimeout, readServingHistograms, servingQuery } from '../metrics/serving-drift.js';
import type { AbRequest, ServingEvidence, ServingRequest } from '../gates/run.js';
import type { SnowflakeConnection } from '../adapters/snowflake/warehouse.js';
import type { AbEvidence } from '../gates/ab.js';
import { abQuery, readAbFigures } from '../metrics/ab-metric.js';
import { abStartedAt } from '../gates/ab.js';
import { commitInfo } from '../adapters/git/audit.js';
import { abOverrideTrailer } from '../model/changes.js';
import type { ShadowRequest } from '../gates/run.js';
import { readShadowFigures, shadowQuery } from '../metrics/prediction-log.js';
import { readSampleRatio } from '../canary/sample-ratio.js';
import { shadowStartedAt, type ShadowEvidence } from '../gates/shadow.js';
import { PinHistories } from './history.js';

export interface EvidenceContext {
  root: string;
  /** the base commit: history is read from it, never from the head */
  base: string;
  now: Date;
  /** Kubernetes namespace per environment, for canary query templates */
  namespaces: Record<string, string>;
  /** online serving mode per environment (kubernetes.mode), for {{service}}, {{inferenceService}} and the requests query */
  modes?: Record<string, 'serverless' | 'raw'>;
  prometheusUrl?: string;
  /** reviews etc. in GitHub mode */
  review?: Evidence['review'];
  /** per-call timeout for S3 HEADs */
  timeoutMs?: number;
  /** the run's pin histories (read from `base`), shared with rollback detection; without it, one is made and closed here */
  histories?: PinHistories;
  /** the head commit: its `AB-Override:` trailer, when an A/B is concluded */
  head?: string;
}

export async function collectEvidence(req: EvidenceRequest, ctx: EvidenceContext): Promise<Evidence> {
  const histories = ctx.histories ?? new PinHistories(ctx.root, ctx.base);
  try {
    return await gather(req, ctx, histories);
  } finally {
    if (!ctx.histories) await histories.close();
  }
}

async function gather(req: EvidenceRequest, ctx: EvidenceContext, histories: PinHistories): Promise<Evidence> {
  const ev: Evidence = {
    now: ctx.now, artifacts: new Map(), dbt: new Map(), timelines: new Map(), canaries: new Map(), serving: new Map(),
    ...(ctx.review ? { review: ctx.review } : {}),
  };
  const s3 = req.artifacts.size || req.registrations?.size || [...req.dbtManifests.keys()].some((l) => l.startsWith('s3://')) ? s3Client({ maxAttempts: 3, requestTimeout: ctx.timeoutMs ?? 15_000 }) : undefined;

  await Promise.all([
    ...[...req.artifacts].map(async ([id, uri]) => {
      try {
        ev.artifacts.set(id, await new ArtifactStore(s3!).head(parseS3Uri(uri), AbortSignal.timeout(ctx.timeoutMs ?? 15_000)));
      } catch (e) {
        ev.artifacts.set(id, { error: message(e) });
      }
    }),
    ...[...(req.registrations ?? [])].map(async ([id, r]) => {
      const registrations = (ev.registrations ??= new Map());
      try {
        const store = new ArtifactStore(s3!);
        const signal = AbortSignal.timeout(ctx.timeoutMs ?? 15_000);
        const folder = parseS3Uri(r.folder);
        const exact = await store.head({ bucket: folder.bucket, key: `${folder.key}${r.sha256}.yaml` }, signal);
        const others = exact ? [] : await store.list(folder, 10, signal);
        registrations.set(id, { exact, others });
      } catch (e) {
        registrations.set(id, { error: message(e) });
      }
    }),
    ...[...req.dbtManifests].map(async ([location, { models }]) => {
      ev.dbt.set(location, await readDbtIndex(location, { root: ctx.root, ...(s3 ? { s3 } : {}), only: models }));
    }),
    ...[...req.timelines].map(async ([env, versions]) => {
      ev.timelines.set(env, await histories.timeline(env, versions));
    }),
    ...servingByEnvironment(req).map((requests) => readServing(requests, ctx, ev.serving)),
    ...[...(req.holds ?? [])].map(async ([key, h]) => {
      const holds = await histories.holds(h.environment, h.model, h.version, h.registeredAt).catch((e: unknown) => ({ error: message(e) }));
      (ev.holds ??= new Map()).set(key, holds);
    }),
  ]);

  // After the timelines: a shadow's window starts no earlier than the shadow did.
  if (req.shadows?.size) await readShadows([...req.shadows], ctx, ev, (ev.shadows = new Map()));
  // Shadows that keep running through the pull request: the same read, shown in the report only.
  if (req.runningShadows?.size) await readShadows([...req.runningShadows], ctx, ev, (ev.runningShadows = new Map()));

  const sources: Partial<Record<'prometheus' | 'warehouse', MetricSource>> = ctx.prometheusUrl ? { prometheus: prometheusSource({ url: ctx.prometheusUrl }) } : {};
  // Snowflake, when SNOWFLAKE_ACCOUNT is set: one session for all canaries, ended below.
  const warehouseConfig = req.canaries.size ? warehouseFromEnv(process.env) : undefined;
  let warehouse: WarehouseSource | undefined;
  try {
    if (warehouseConfig) sources.warehouse = warehouse = warehouseSource(warehouseConfig);
  } catch (e) {
    // Incomplete configuration: every warehouse check reports it instead of the run failing.
    if (!(e instanceof ModelshipError)) throw e;
    sources.warehouse = { evaluate: () => Promise.reject(e) };
  }
  try {
    await Promise.all([...req.canaries].map(async ([key, c]) => {
      const startedAt = canaryStartedAt(ev.timelines.get(c.environment) ?? [], c.model, c);
      const window = { start: startedAt ?? new Date(ctx.now.getTime() - 3_600_000), end: ctx.now };
      const observations = await observeChecks({
        checks: c.policy.checks, sources, window,
        context: { namespace: ctx.namespaces[c.environment] ?? c.environment, model: c.model, version: c.version, environment: c.environment, ...(ctx.modes?.[c.environment] ? { mode: ctx.modes[c.environment] } : {}) },
        requestsQueries: defaultRequestsQueries(ctx.modes?.[c.environment]),
      });
      const sampleRatio = c.sampleRatio ? await readSampleRatio(c.model, c.sampleRatio, { stable: c.sampleRatio.stable, canary: c.version }, window, ctx) : undefined;
      ev.canaries.set(key, { ...(startedAt ? { startedAt } : {}), observations, ...(sampleRatio ? { sampleRatio } : {}) });
    }));
  } finally {
    await warehouse?.close();
  }
  if (req.abTests?.size) await readAbTests(req.abTests, ctx, ev);
  if (req.abOverride && ctx.head) {
    // One line of at most 500 characters: it is shown in the report and kept by the audit record.
    const reason = (await commitInfo(ctx.root, ctx.head))?.trailers[abOverrideTrailer]?.[0]?.replace(/\s+/g, ' ').trim().slice(0, 500);
    if (reason) ev.abOverride = reason;
  }
  return ev;
}

/**
 * Each A/B's north-star metric since its split was set (git history, as for a canary step): the
 * one aggregation of metrics/ab-metric.ts, in one warehouse session per environment. No
 * Snowflake connection, an unknown start or a failed query is the gate's error, never a pass.
 */
async function readAbTests(tests: NonNullable<EvidenceRequest['abTests']>, ctx: EvidenceContext, ev: Evidence): Promise<void> {
  const out = (ev.abTests ??= new Map());
  const byEnv = new Map<string, Array<[string, AbRequest]>>();
  for (const entry of tests) byEnv.set(entry[1].environment, [...(byEnv.get(entry[1].environment) ?? []), entry]);
  await Promise.all([...byEnv.values()].map(async (entries) => {
    const conn = warehouseFor(entries[0]![1].env, process.env, { timeoutMs: ctx.timeoutMs ?? 60_000 });
    try {
      for (const [key, t] of entries) {
        const startedAt = abStartedAt(ev.timelines.get(t.environment) ?? [], t.model, { version: t.b, traffic: t.traffic });
        const at = startedAt ? { startedAt } : {};
        if (!startedAt) {
          out.set(key, { evidence: { error: `when the A/B of ${t.b} at ${t.traffic}% started is unknown (the base branch's history does not show it), so its window cannot be read` } });
          continue;
        }
        if (!conn) {
          out.set(key, { ...at, evidence: { error: `no Snowflake connection is configured (SNOWFLAKE_ACCOUNT) to read ${t.policy.metric.outcomes}` } });
          continue;
        }
        out.set(key, { ...at, evidence: await readAbTest(conn, t, startedAt, ctx.now) });
      }
    } finally {
      await conn?.close();
    }
  }));
}

/**
 * One A/B's north-star metric from `startedAt` to `now`: the aggregation of metrics/ab-metric.ts.
 * A failed query is the evidence's error. `modelship status` reads a running A/B through this too.
 */
export async function readAbTest(conn: Pick<SnowflakeConnection, 'query'>, t: Pick<AbRequest, 'model' | 'a' | 'b' | 'policy'>, startedAt: Date, now: Date): Promise<AbEvidence> {
  const window = { start: startedAt, end: now };
  try {
    const q = abQuery({ log: t.policy.metric.log, outcomes: t.policy.metric.outcomes, column: t.policy.metric.column, model: t.model, a: t.a, b: t.b, window });
    const figures = await readAbFigures(conn, q);
    return { figures, window: { start: window.start.toISOString(), end: window.end.toISOString() } };
  } catch (e) {
    if (!(e instanceof ModelshipError)) throw e;
    return { error: `${t.policy.metric.outcomes}: ${isTimeout(e) ? 'the warehouse query timed out: ' : ''}${e.message.replace(/\s+/g, ' ').trim()}` };
  }
}

function servingByEnvironment(req: EvidenceRequest): Array<Array<[string, ServingRequest]>> {
  const by = new Map<string, Array<[string, ServingRequest]>>();
  for (const entry of req.serving) by.set(entry[1].environment, [...(by.get(entry[1].environment) ?? []), entry]);
  return [...by.values()];
}

/**
 * The drift gate's serving data: the aggregation `modelship drift` runs (metrics/serving-drift.ts),
 * one per model, in one warehouse session per environment, over the policy's drift window ending
 * now. No Snowflake connection, or no rows: the gate compares with the live version's training
 * data and says why; a failed query is the gate's error.
 */
async function readServing(requests: Array<[string, ServingRequest]>, ctx: EvidenceContext, out: Map<string, ServingEvidence>): Promise<void> {
  const conn = warehouseFor(requests[0]![1].env, process.env, { timeoutMs: ctx.timeoutMs ?? 60_000 });
  try {
    for (const [key, r] of requests) {
      if (!conn) {
        out.set(key, { unavailable: `serving data not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT) for ${r.table}` });
        continue;
      }
      const window = { start: new Date(ctx.now.getTime() - r.windowMs), end: ctx.now };
      const span = r.windowText;
      try {
        const q = servingQuery({ table: r.table, version: r.version, window, features: r.features, ...(r.score ? { score: r.score } : {}) });
        const m = await readServingHistograms(conn, q);
        out.set(key, m.rows === 0
          ? { unavailable: `no serving rows scored by ${r.version} in the last ${span} (${r.table})` }
          : { histograms: m.features, ...(m.score ? { scores: m.score } : {}), label: `serving data of ${r.version} in ${r.environment}, last ${span} (${m.rows.toLocaleString('en-US')} rows of ${r.table})` });
      } catch (e) {
        if (!(e instanceof ModelshipError)) throw e;
        out.set(key, { error: `${r.table}: ${isTimeout(e) ? 'the warehouse query timed out: ' : ''}${e.message.replace(/\s+/g, ' ').trim()}` });
      }
    }
  } finally {
    await conn?.close();
  }
}

/**
 * The shadow gate's figures: one aggregation of the prediction log per shadow (metrics/prediction-log.ts),
 * over the policy's window ending now, starting no earlier than the shadow (from the pin history).
 * No Snowflake connection is `unavailable` (the gate errs: unknown is never a pass); a failed query an error.
 */
async function readShadows(requests: Array<[string, ShadowRequest]>, ctx: EvidenceContext, ev: { timelines: Evidence['timelines'] }, out: Map<string, ShadowEvidence>): Promise<void> {
  for (const [key, r] of requests) {
    const conn = warehouseFor(r.env, process.env, { timeoutMs: ctx.timeoutMs ?? 60_000 });
    if (!conn) {
      out.set(key, { unavailable: `the prediction log ${r.table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT)` });
      continue;
    }
    try {
      out.set(key, await readShadow(conn, r, shadowStartedAt(ev.timelines.get(r.environment) ?? [], r.model, r.candidate), ctx.now));
    } finally {
      await conn.close();
    }
  }
}

/**
 * One shadow's figures: the policy's window ending `now`, never before the shadow started
 * (`started`, from the pin history), one aggregation of the prediction log. A failed query is
 * the evidence's error. `modelship status` reads a running shadow through this too.
 */
export async function readShadow(conn: Pick<SnowflakeConnection, 'query'>, r: Omit<ShadowRequest, 'environment' | 'env'>, started: Date | undefined, now: Date): Promise<ShadowEvidence> {
  const from = now.getTime() - r.windowMs;
  const window = { start: new Date(started ? Math.max(from, started.getTime()) : from), end: now };
  try {
    const q = shadowQuery({ table: r.table, model: r.model, champion: r.champion, candidate: r.candidate, window, slices: r.slices,
      ...(r.scoreEdges ? { scoreEdges: r.scoreEdges } : {}), ...(r.threshold !== undefined ? { threshold: r.threshold } : {}) });
    return { figures: await readShadowFigures(conn, q), table: r.table, window };
  } catch (e) {
    if (!(e instanceof ModelshipError)) throw e;
    return { error: `${isTimeout(e) ? 'the warehouse query timed out: ' : ''}${e.message.replace(/\s+/g, ' ').trim()}` };
  }
}

function message(e: unknown): string {
  return e instanceof ModelshipError ? e.message : (e as Error)?.message ?? String(e);
}
