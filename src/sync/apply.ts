// apply: the only place the sync agent writes. It carries out a plan in an order that never
// sends traffic to something that is not serving: InferenceServices first and wait until they
// are ready, then the routes that move traffic, then deletions of what nothing routes to any
// more. The Snowflake tasks depend on none of that (they are written whatever becomes of the
// Kubernetes objects), so they are written meanwhile, not after. Every write is idempotent, so a
// crash after any write is repaired by the next run's plan. Transient failures are retried with
// backoff; every other failure is recorded per object and the run goes on with what does not
// depend on it.

import { ExternalError, ModelshipError } from '../errors.js';
import { retry } from '../adapters/retry.js';
import { readiness, type Readiness } from './readiness.js';
import type { KubernetesObject, LiveKubernetesObject, LiveTask, Plan, PlanAction, ScoringTask } from './types.js';

export interface KubernetesTarget {
  /** server-side apply; `force` takes over fields another field manager owns */
  apply(obj: KubernetesObject, options?: { force?: boolean }): Promise<LiveKubernetesObject>;
  get(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace: string } }): Promise<LiveKubernetesObject | undefined>;
  remove(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace: string } }): Promise<void>;
  /**
   * Every object of one kind in one namespace (a LIST). When the target has it, a readiness round
   * with many objects of one kind pending reads them with one request instead of one each.
   */
  list?(ref: { apiVersion: string; kind: string; namespace: string }): Promise<LiveKubernetesObject[]>;
}

/**
 * From how many pending objects of one kind in one namespace a readiness round LISTs the kind
 * instead of reading each object (a first sync of 4,800 objects waited with 3,000 GETs). A LIST
 * without resourceVersion is served from etcd like a GET, the most recent state
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-get-and-list),
 * so the verdicts are the same; below this, the list would carry more than it saves.
 */
export const listReadinessFrom = 4;

export interface SnowflakeTarget {
  /** CREATE OR ALTER TASK, then RESUME; `absent`: the plan found no such task (nothing to suspend) */
  upsert(task: ScoringTask, options?: { absent?: boolean }): Promise<void>;
  drop(task: LiveTask): Promise<void>;
}

export interface ApplyOptions {
  attempts?: number;
  backoffMs?: number;
  /** how long to wait for each object to become ready */
  readyTimeoutMs?: number;
  /** the longest pause between readiness checks (they start at 100 ms and double) */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  /** a line per step, for the terminal */
  progress?: (line: string) => void;
  /**
   * Take over fields another field manager (a hand edit, another tool) set on a managed object.
   * Off by default: such a conflict fails that object and names who owns the field.
   */
  forceConflicts?: boolean;
  /** aborted when the agent lost the environment's lease: no further write is sent */
  signal?: AbortSignal;
  /**
   * How many writes (and readiness reads) of one step are in flight at once; default 1 (sync
   * runs with 8: src/sync/run.ts). Writes in flight when the lease is lost complete (and are
   * reported); none starts after. The
   * Kubernetes steps stay in order (services, wait, routes, wait, deletions): only objects of the
   * same step, which do not depend on each other, overlap; the Snowflake tasks, which depend on
   * none of them, are written alongside (up to `concurrency` of them besides). One at a time, a
   * first sync of 4,800 objects was ~11,000 round trips one after another (30 s).
   */
  concurrency?: number;
}

export type ActionOutcome = 'unchanged' | 'applied' | 'ready' | 'deleted' | 'failed' | 'not-ready' | 'skipped';

export interface ActionResult {
  key: string;
  op: PlanAction['op'];
  target: PlanAction['target'];
  model?: string;
  outcome: ActionOutcome;
  /** when the write was accepted, and when the object was seen ready */
  appliedAt?: string;
  readyAt?: string;
  /** the error or the readiness message */
  message?: string;
}

export interface ApplyResult {
  environment: string;
  commit: string;
  converged: boolean;
  /** writes sent (apply/delete/DDL calls that reached the target) */
  writes: number;
  results: ActionResult[];
}

export async function applyPlan(plan: Plan, targets: { kubernetes?: KubernetesTarget; snowflake?: SnowflakeTarget }, options: ApplyOptions = {}): Promise<ApplyResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? (() => new Date());
  const say = options.progress ?? (() => {});
  const limit = Math.max(1, Math.floor(options.concurrency ?? 1));
  const results = new Map<string, ActionResult>();
  let writes = 0;
  const record = (a: PlanAction, outcome: ActionOutcome, extra: Partial<ActionResult> = {}) =>
    results.set(a.key, { key: a.key, op: a.op, target: a.target, ...(a.model ? { model: a.model } : {}), ...results.get(a.key), outcome, ...extra });

  for (const a of plan.actions) if (a.op === 'noop') record(a, 'unchanged');
  for (const a of plan.actions) if (a.refused && a.op !== 'noop') record(a, 'failed', { message: `refused: ${a.refused}` });
  const kube = plan.actions.filter((a) => a.target === 'kubernetes' && a.op !== 'noop' && !a.refused);
  const services = kube.filter((a) => a.op !== 'delete' && (a.desired as KubernetesObject).kind === 'InferenceService');
  const routes = kube.filter((a) => a.op !== 'delete' && (a.desired as KubernetesObject).kind !== 'InferenceService');
  const deletions = kube.filter((a) => a.op === 'delete').sort((x, y) => (kindOf(x) === 'InferenceService' ? 1 : 0) - (kindOf(y) === 'InferenceService' ? 1 : 0));
  const tasks = plan.actions.filter((a) => a.target === 'snowflake' && a.op !== 'noop' && !a.refused);

  /** Runs one write with retries; records failure; returns whether it succeeded. */
  const write = async (a: PlanAction, what: string, fn: () => Promise<unknown>): Promise<boolean> => {
    if (options.signal?.aborted) {
      // Another agent may own the environment now; writing on would interleave with it.
      record(a, 'skipped', { message: 'not applied: the environment\'s lease was lost' });
      return false;
    }
    try {
      await retry(async () => {
        writes++;
        await fn();
      }, {
        attempts: options.attempts ?? 4,
        baseDelayMs: options.backoffMs ?? 500,
        retryable: (e) => e instanceof ExternalError && e.details.retryable === true,
        onRetry: ({ error, delayMs }) => say(`${what} ${a.key}: ${(error as Error).message}; retrying in ${delayMs} ms`),
        sleep,
        // A lost lease stops the retrying too: another agent may be writing now.
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (e) {
      if (!(e instanceof ModelshipError)) throw e;
      record(a, 'failed', { message: e.message });
      say(`${what} ${a.key} failed: ${e.message}`);
      return false;
    }
    record(a, a.op === 'delete' ? 'deleted' : 'applied', { appliedAt: now().toISOString() });
    say(`${what} ${a.key}`);
    return true;
  };

  const waitReady = async (actions: PlanAction[], objectOf: (a: PlanAction) => KubernetesObject = (a) => a.desired as KubernetesObject): Promise<boolean> => {
    if (!targets.kubernetes) return false;
    const deadline = now().getTime() + (options.readyTimeoutMs ?? 300_000);
    let pending = actions.filter((a) => results.get(a.key)?.outcome === 'applied');
    const last = new Map<string, Readiness>();
    // Look again soon, then less often: most objects settle in seconds, some take minutes.
    let pause = Math.min(100, options.pollMs ?? 2_000);
    const k = targets.kubernetes;
    while (pending.length) {
      // The reads of one round overlap; their verdicts are taken in plan order. Many objects of
      // one kind in one namespace: one LIST for them all.
      const seen = new Map<string, Readiness>();
      const groups = new Map<string, PlanAction[]>();
      for (const a of pending) {
        const d = objectOf(a);
        const group = `${d.apiVersion} ${d.kind} ${d.metadata.namespace}`;
        const list = groups.get(group);
        if (list) list.push(a);
        else groups.set(group, [a]);
      }
      const reads: Array<PlanAction | PlanAction[]> = [];
      for (const group of groups.values()) {
        if (k.list && group.length >= listReadinessFrom) reads.push(group);
        else reads.push(...group);
      }
      await inParallel(reads, limit, async (read) => {
        const group = Array.isArray(read) ? read : [read];
        try {
          if (Array.isArray(read)) {
            const d = objectOf(read[0]!);
            const live = new Map((await k.list!({ apiVersion: d.apiVersion, kind: d.kind, namespace: d.metadata.namespace })).map((o) => [o.metadata.name, o]));
            for (const a of read) seen.set(a.key, readiness(objectOf(a), live.get(objectOf(a).metadata.name), a.live as LiveKubernetesObject | undefined));
          } else {
            const d = objectOf(read);
            seen.set(read.key, readiness(d, await k.get(d), read.live as LiveKubernetesObject | undefined));
          }
        } catch (e) {
          if (!(e instanceof ModelshipError)) throw e;
          for (const a of group) seen.set(a.key, { ready: false, reason: e.message });
        }
      });
      for (const a of pending) {
        const r = seen.get(a.key)!;
        last.set(a.key, r);
        if (r.ready) {
          record(a, 'ready', { readyAt: now().toISOString(), message: r.reason });
          say(`ready ${a.key}: ${r.reason}`);
        } else if (r.failed) {
          record(a, 'not-ready', { message: r.reason });
          say(`not ready ${a.key}: ${r.reason}`);
        }
      }
      pending = pending.filter((a) => results.get(a.key)?.outcome === 'applied');
      if (!pending.length || options.signal?.aborted) break;
      if (now().getTime() >= deadline) {
        for (const a of pending) record(a, 'not-ready', { message: `not ready after ${Math.round((options.readyTimeoutMs ?? 300_000) / 1000)} s: ${last.get(a.key)?.reason ?? 'no status'}` });
        break;
      }
      await sleep(pause);
      pause = Math.min(pause * 2, options.pollMs ?? 2_000);
    }
    return actions.every((a) => results.get(a.key)?.outcome === 'ready');
  };

  // The tasks go on at the same time as the Kubernetes steps: a first sync of 4,800 objects spent
  // its Kubernetes steps with the Snowflake session idle and then its tasks with the cluster idle.
  const snowflake = (async () => {
    if (tasks.length && !targets.snowflake) for (const a of tasks) record(a, 'failed', { message: 'no Snowflake connection' });
    else if (targets.snowflake) {
      const s = targets.snowflake;
      await inParallel(tasks, limit, (a) => write(a, a.op === 'delete' ? 'dropped' : a.op === 'create' ? 'created' : 'updated',
        () => (a.op === 'delete' ? s.drop(a.live as LiveTask) : s.upsert(a.desired as ScoringTask, { absent: a.op === 'create' && !a.live }))));
    }
  })();
  const kubernetes = (async () => {
    if (kube.length && !targets.kubernetes) for (const a of kube) record(a, 'failed', { message: 'no Kubernetes connection' });
    else if (targets.kubernetes) {
      const k = targets.kubernetes;
      // Intermediate steps first (a serverless canary taken to 0 %), each waited on; an object whose
      // step does not settle gets no further write.
      const staged = services.filter((a) => a.first);
      await inParallel(staged, limit, (a) => write(a, a.first!.why.split(':')[0]!, () => k.apply(a.first!.object, { force: options.forceConflicts === true })));
      if (staged.length) await waitReady(staged, (a) => a.first!.object);
      await inParallel(services, limit, async (a) => {
        if (a.first && results.get(a.key)?.outcome !== 'ready') return;
        await write(a, a.op === 'create' ? 'created' : 'updated', () => k.apply(a.desired as KubernetesObject, { force: options.forceConflicts === true }));
      });
      const servicesReady = await waitReady(services);
      // Traffic moves only onto services that serve; deletions only once nothing routes to them.
      if (!servicesReady) for (const a of routes) record(a, 'skipped', { message: 'not applied: the services it routes to are not ready' });
      else await inParallel(routes, limit, (a) => write(a, a.op === 'create' ? 'created' : 'updated', () => k.apply(a.desired as KubernetesObject, { force: options.forceConflicts === true })));
      const routesReady = await waitReady(routes);
      if (!servicesReady || !routesReady) for (const a of deletions) record(a, 'skipped', { message: 'not deleted: the new objects are not ready yet' });
      else await inOrderOfKind(deletions, limit, (a) => write(a, 'deleted', () => k.remove(a.live as LiveKubernetesObject)));
    }
  })();
  // Both run to their end before an unexpected error (a bug, not a failed write) is thrown.
  const [k8s, sql] = await Promise.allSettled([kubernetes, snowflake]);
  if (k8s.status === 'rejected') throw k8s.reason;
  if (sql.status === 'rejected') throw sql.reason;

  const list = plan.actions.map((a) => results.get(a.key)!);
  const converged = list.every((r) => r.outcome === 'unchanged' || r.outcome === 'ready' || r.outcome === 'deleted' || (r.outcome === 'applied' && r.target === 'snowflake'));
  return { environment: plan.environment, commit: plan.commit, converged, writes, results: list };
}

/**
 * Runs `fn` over `items`, at most `limit` at once, starting them in order. An unexpected error
 * (not a ModelshipError, which `write` records) stops new ones from starting and is thrown.
 */
async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  let stop = false;
  const lane = async () => {
    while (!stop && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        stop = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** Deletions: routes (and other kinds) all done before any InferenceService is deleted, as sorted. */
async function inOrderOfKind(deletions: PlanAction[], limit: number, fn: (a: PlanAction) => Promise<unknown>): Promise<void> {
  const services = deletions.filter((a) => kindOf(a) === 'InferenceService');
  await inParallel(deletions.filter((a) => kindOf(a) !== 'InferenceService'), limit, fn);
  await inParallel(services, limit, fn);
}

function kindOf(a: PlanAction): string | undefined {
  return (a.live as LiveKubernetesObject | undefined)?.kind ?? (a.desired as KubernetesObject | undefined)?.kind;
}
