// Gathers what the checker's gates asked for (gates/run.ts `needs`) through the adapters: git
// history, artifact HEADs in S3, the dbt manifest, canary metrics, reviews on GitHub. Every
// failure becomes an `error` the gate reports; nothing here decides pass or fail.

import { readDbtIndex } from '../adapters/dbt.js';
import { ModelshipError } from '../errors.js';
import { pinHistory, readPins, type PinCommit } from '../adapters/git/history.js';
import { showFile } from '../adapters/git/repo.js';
import { commitsChangingText, isAncestor } from '../adapters/git/search.js';
import type { Evidence, EvidenceRequest } from '../gates/run.js';
import { observeChecks, type MetricSource } from '../metrics/source.js';
import { DEFAULT_REQUESTS_QUERY, prometheusSource } from '../adapters/prometheus.js';
import { warehouseFromEnv, warehouseSource, type WarehouseSource } from '../adapters/snowflake/warehouse.js';
import { ArtifactStore, parseS3Uri, s3Client } from '../adapters/s3/store.js';
import { readHolds } from '../rollback/holds.js';

export interface EvidenceContext {
  root: string;
  /** the base commit: history is read from it, never from the head */
  base: string;
  now: Date;
  /** Kubernetes namespace per environment, for canary query templates */
  namespaces: Record<string, string>;
  prometheusUrl?: string;
  /** reviews etc. in GitHub mode */
  review?: Evidence['review'];
  /** per-call timeout for S3 HEADs */
  timeoutMs?: number;
}

export async function collectEvidence(req: EvidenceRequest, ctx: EvidenceContext): Promise<Evidence> {
  const ev: Evidence = {
    now: ctx.now, artifacts: new Map(), dbt: new Map(), timelines: new Map(), canaries: new Map(), serving: new Map(),
    ...(ctx.review ? { review: ctx.review } : {}),
  };
  const s3 = req.artifacts.size || [...req.dbtManifests.keys()].some((l) => l.startsWith('s3://')) ? s3Client({ maxAttempts: 3, requestTimeout: ctx.timeoutMs ?? 15_000 }) : undefined;

  await Promise.all([
    ...[...req.artifacts].map(async ([id, uri]) => {
      try {
        ev.artifacts.set(id, await new ArtifactStore(s3!).head(parseS3Uri(uri), AbortSignal.timeout(ctx.timeoutMs ?? 15_000)));
      } catch (e) {
        ev.artifacts.set(id, { error: message(e) });
      }
    }),
    ...[...req.dbtManifests].map(async ([location, { models }]) => {
      ev.dbt.set(location, await readDbtIndex(location, { root: ctx.root, ...(s3 ? { s3 } : {}), only: models }));
    }),
    ...[...req.timelines].map(async ([env, versions]) => {
      ev.timelines.set(env, await timeline(ctx.root, ctx.base, env, versions));
    }),
    ...[...(req.holds ?? [])].map(async ([key, h]) => {
      const holds = await readHolds(ctx.root, ctx.base, h.environment, h.model, h.version, h.registeredAt).catch((e: unknown) => ({ error: message(e) }));
      (ev.holds ??= new Map()).set(key, holds);
    }),
  ]);

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
      const startedAt = canaryStart(ev.timelines.get(c.environment) ?? [], c.model, c.version, c.traffic);
      const window = { start: startedAt ?? new Date(ctx.now.getTime() - 3_600_000), end: ctx.now };
      const observations = await observeChecks({
        checks: c.policy.checks, sources, window,
        context: { namespace: ctx.namespaces[c.environment] ?? c.environment, model: c.model, version: c.version, environment: c.environment },
        requestsQueries: { prometheus: DEFAULT_REQUESTS_QUERY },
      });
      ev.canaries.set(key, { ...(startedAt ? { startedAt } : {}), observations });
    }));
  } finally {
    await warehouse?.close();
  }
  return ev;
}

/**
 * An environment's pin history, newest first, back to the commit where the oldest of `versions`
 * first appeared in its file (found by git's pickaxe): enough for soak and canary timing. A
 * version cannot be pinned before it was registered, so each search starts there (`--since`,
 * a day early for clock skew): the walk grows with the change, not with the history.
 */
export async function timeline(root: string, base: string, env: string, versions: Map<string, string | undefined>): Promise<PinCommit[]> {
  const path = `environments/${env}.yaml`;
  let oldest: string | undefined;
  for (const [v, registeredAt] of versions) {
    const hits = await pickaxe(root, base, path, v, registeredAt);
    const first = hits.at(-1);
    if (first && (!oldest || (await isAncestor(root, first, oldest)))) oldest = first;
  }
  const events: PinCommit[] = [];
  if (!oldest) {
    // Never there: the newest state is all soak needs to say so.
    for await (const c of pinHistory(root, base, env, { limit: 1 })) events.push(c);
    return events;
  }
  for await (const c of pinHistory(root, base, env)) {
    events.push(c);
    if (c.commit === oldest) break;
  }
  return events;
}

/**
 * Whether `version` was the stable pin of `model` in `env` at some commit of `base`'s first-parent
 * history. Only the commits where the version string appears or disappears in the file can
 * change the answer, so only those are read.
 */
export async function wasStableBefore(root: string, base: string, env: string, model: string, version: string, registeredAt?: string): Promise<boolean> {
  const path = `environments/${env}.yaml`;
  const hits = await pickaxe(root, base, path, version, registeredAt);
  if (!hits.length) return false;
  for (const commit of hits) {
    if (readPins(await showFile(root, commit, path), path).pins?.[model]?.version === version) return true;
  }
  return false;
}

/** First-parent commits of `base` that changed how often `text` occurs in `path`, newest first. */
function pickaxe(root: string, base: string, path: string, text: string, registeredAt?: string): Promise<string[]> {
  return commitsChangingText(root, base, path, text, registeredAt);
}

/** When the running canary reached its current share: the oldest consecutive commit (newest first) with it. */
export function canaryStart(events: PinCommit[], model: string, version: string, traffic: number): Date | undefined {
  let start: Date | undefined;
  for (const e of events) {
    const c = e.pins?.[model]?.canary;
    if (c?.version === version && c.traffic === traffic) start = e.at;
    else if (e.pins) break;
  }
  return start;
}

function message(e: unknown): string {
  return e instanceof ModelshipError ? e.message : (e as Error)?.message ?? String(e);
}
