// apply's rules, with targets that keep objects in memory (the real adapters are tested against
// the Kubernetes and Snowflake stand-ins elsewhere): order, retries, readiness, per-object failure.
import t from 'tap';
import { applyPlan, type KubernetesTarget, type SnowflakeTarget } from '../../src/sync/apply.js';
import { ExternalError } from '../../src/errors.js';
import type { KubernetesObject, LiveKubernetesObject, Plan, PlanAction, ScoringTask } from '../../src/sync/types.js';

function obj(kind: string, name: string): KubernetesObject {
  return { apiVersion: kind === 'HTTPRoute' ? 'gateway.networking.k8s.io/v1' : 'serving.kserve.io/v1beta1', kind, metadata: { name, namespace: 'ml-serving', labels: {}, annotations: {} }, spec: {} };
}
const key = (o: KubernetesObject) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
const act = (op: PlanAction['op'], o: KubernetesObject): PlanAction => ({ op, target: 'kubernetes', key: key(o), ...(op === 'delete' ? { live: o } : { desired: o }), reason: 'test' });

/** Objects become ready `readyAfter` polls after they are applied, unless stuck. */
function memoryCluster(opts: { readyAfter?: number; stuck?: string[]; failures?: Record<string, number[]> } = {}) {
  const log: string[] = [];
  const polls = new Map<string, number>();
  const store = new Map<string, LiveKubernetesObject>();
  const failing = new Map(Object.entries(opts.failures ?? {}).map(([k, v]) => [k, [...v]]));
  const target: KubernetesTarget = {
    async apply(o) {
      const status = failing.get(`${o.metadata.name}`)?.shift();
      if (status) throw new ExternalError('kubernetes', `apply ${o.metadata.name}`, `HTTP ${status}`, { status, retryable: status >= 500 || status === 429 });
      log.push(`apply ${key(o)}`);
      store.set(key(o), { ...o, metadata: { ...o.metadata, generation: 1 } });
      polls.set(key(o), 0);
      return store.get(key(o))!;
    },
    async get(o) {
      const k = key(o as KubernetesObject);
      const live = store.get(k);
      if (!live) return undefined;
      const n = (polls.get(k) ?? 0) + 1;
      polls.set(k, n);
      const ready = !opts.stuck?.includes(o.metadata.name) && n > (opts.readyAfter ?? 0);
      const status = o.kind === 'HTTPRoute'
        ? { observedGeneration: 1, parents: ready ? [{ conditions: [{ type: 'Accepted', status: 'True' }] }] : [] }
        : { observedGeneration: 1, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', message: 'pods pending' }], modelStatus: { transitionStatus: ready ? 'UpToDate' : 'InProgress' } };
      return { ...live, status };
    },
    async remove(o) {
      log.push(`delete ${key(o as KubernetesObject)}`);
      store.delete(key(o as KubernetesObject));
    },
  };
  return { target, log };
}
const fast = { sleep: async () => {}, backoffMs: 1, pollMs: 1, readyTimeoutMs: 50 };
const plan = (actions: PlanAction[]): Plan => ({ environment: 'production', commit: 'c1', actions });

t.test('services first and ready, then the route, then deletions', async (t) => {
  const { target, log } = memoryCluster({ readyAfter: 2 });
  const r = await applyPlan(plan([
    act('delete', obj('InferenceService', 'fd-old')), act('update', obj('HTTPRoute', 'fd')), act('create', obj('InferenceService', 'fd-new')),
  ]), { kubernetes: target }, fast);
  t.same(log, ['apply InferenceService/ml-serving/fd-new', 'apply HTTPRoute/ml-serving/fd', 'delete InferenceService/ml-serving/fd-old']);
  t.ok(r.converged);
  t.equal(r.writes, 3);
  t.same(r.results.map((x) => x.outcome), ['deleted', 'ready', 'ready']);
});

t.test('a transient 503 is retried; a 403 is recorded and the rest goes on', async (t) => {
  const { target, log } = memoryCluster({ failures: { a: [503, 503], b: [403] } });
  const r = await applyPlan(plan([act('create', obj('InferenceService', 'a')), act('create', obj('InferenceService', 'b'))]), { kubernetes: target }, fast);
  t.same(log, ['apply InferenceService/ml-serving/a']);
  t.match(r.results, [{ key: 'InferenceService/ml-serving/a', outcome: 'ready' }, { key: 'InferenceService/ml-serving/b', outcome: 'failed', message: /HTTP 403/ }]);
  t.notOk(r.converged);
});

t.test('a service that never becomes ready: reported with its condition; traffic is not moved and nothing is deleted', async (t) => {
  const { target, log } = memoryCluster({ stuck: ['fd-new'] });
  const r = await applyPlan(plan([act('create', obj('InferenceService', 'fd-new')), act('update', obj('HTTPRoute', 'fd')), act('delete', obj('InferenceService', 'fd-old'))]), { kubernetes: target }, fast);
  t.same(log, ['apply InferenceService/ml-serving/fd-new']);
  t.match(r.results, [
    { outcome: 'not-ready', message: /not ready after 0 s: Ready is False: pods pending/ },
    { outcome: 'skipped', message: 'not applied: the services it routes to are not ready' },
    { outcome: 'skipped', message: 'not deleted: the new objects are not ready yet' },
  ]);
  t.notOk(r.converged);
});

t.test('a plan of no-ops writes nothing', async (t) => {
  const { target, log } = memoryCluster();
  const r = await applyPlan(plan([{ ...act('update', obj('InferenceService', 'a')), op: 'noop' }]), { kubernetes: target }, fast);
  t.same(log, []);
  t.equal(r.writes, 0);
  t.ok(r.converged);
});

t.test('tasks are upserted and dropped; without a connection they fail, not vanish', async (t) => {
  const calls: string[] = [];
  const snowflake: SnowflakeTarget = { upsert: async (x) => void calls.push(`upsert ${x.name}`), drop: async (x) => void calls.push(`drop ${x.name}`) };
  const task = { database: 'D', schema: 'S', name: 'T' } as ScoringTask;
  const actions: PlanAction[] = [{ op: 'create', target: 'snowflake', key: 'D.S.T', desired: task, reason: 'x' }, { op: 'delete', target: 'snowflake', key: 'D.S.OLD', live: { database: 'D', schema: 'S', name: 'OLD', state: 'started' }, reason: 'x' }];
  const r = await applyPlan(plan(actions), { snowflake }, fast);
  t.same(calls, ['upsert T', 'drop OLD']);
  t.ok(r.converged);
  const none = await applyPlan(plan(actions), {}, fast);
  t.match(none.results, [{ outcome: 'failed', message: 'no Snowflake connection' }, { outcome: 'failed' }]);
});

t.test('tasks are written while the Kubernetes steps wait, whatever becomes of those; an unexpected error waits for both', async (t) => {
  const { target, log } = memoryCluster({ stuck: ['fd-new'] });
  const snowflake: SnowflakeTarget = { upsert: async (x) => void log.push(`upsert ${x.name}`), drop: async (x) => void log.push(`drop ${x.name}`) };
  const task = { database: 'D', schema: 'S', name: 'T' } as ScoringTask;
  const actions: PlanAction[] = [act('create', obj('InferenceService', 'fd-new')), act('update', obj('HTTPRoute', 'fd')), { op: 'create', target: 'snowflake', key: 'D.S.T', desired: task, reason: 'x' }];
  // The readiness wait records where the writes stand each time it pauses.
  const seen: string[][] = [];
  const r = await applyPlan(plan(actions), { kubernetes: target, snowflake }, { ...fast, sleep: async () => void seen.push([...log]) });
  t.same([...seen[0]!].sort(), ['apply InferenceService/ml-serving/fd-new', 'upsert T'], 'the task was written before the service was ready');
  t.same(r.results.map((x) => x.outcome), ['not-ready', 'skipped', 'applied'], 'the route waits for the service; the task does not');
  t.notOk(r.converged);

  // A bug in one part (an error that is not a ModelshipError) is thrown once the other has finished its writes.
  let upserted = false;
  const slowTask: SnowflakeTarget = { upsert: async () => { await new Promise((res) => setTimeout(res, 20)); upserted = true; }, drop: async () => {} };
  const broken: KubernetesTarget = { ...target, apply: async () => { throw new TypeError('a bug'); } };
  await t.rejects(applyPlan(plan(actions), { kubernetes: broken, snowflake: slowTask }, fast), new TypeError('a bug'));
  t.ok(upserted, 'the task write that was under way finished first');
});

t.test('a lost lease stops the writes that have not been sent; what was sent is reported', async (t) => {
  const { target, log } = memoryCluster();
  const lost = new AbortController();
  const wrapped: KubernetesTarget = { ...target, apply: async (o, opts) => { const r = await target.apply(o, opts); lost.abort(); return r; } };
  const r = await applyPlan(plan([act('create', obj('InferenceService', 'a')), act('create', obj('InferenceService', 'b')), act('update', obj('HTTPRoute', 'r'))]),
    { kubernetes: wrapped }, { ...fast, signal: lost.signal });
  t.same(log, ['apply InferenceService/ml-serving/a'], 'nothing after the lease was lost');
  t.match(r.results, [{ key: 'InferenceService/ml-serving/a', outcome: 'ready' }, { outcome: 'skipped', message: "not applied: the environment's lease was lost" }, { outcome: 'skipped' }]);
  t.notOk(r.converged);
});

t.test('a lease lost while a write is being retried ends the retrying: nothing more is sent', async (t) => {
  const { target, log } = memoryCluster({ failures: { a: [503, 503, 503] } });
  const lost = new AbortController();
  const wrapped: KubernetesTarget = { ...target, apply: async (o, opts) => { lost.abort(); return target.apply(o, opts); } };
  const r = await applyPlan(plan([act('create', obj('InferenceService', 'a'))]), { kubernetes: wrapped }, { ...fast, signal: lost.signal });
  t.same(log, [], 'no second try of the write');
  t.equal(r.writes, 1);
  t.match(r.results, [{ key: 'InferenceService/ml-serving/a', outcome: 'failed', message: /HTTP 503/ }]);
});

t.test('an intermediate step is applied and waited on first; if it does not settle, the object gets no further write', async (t) => {
  const withFirst = (): PlanAction => {
    const desired = obj('InferenceService', 'fd');
    const first = { ...obj('InferenceService', 'fd'), spec: { predictor: { canaryTrafficPercent: 0 } } };
    return { ...act('update', desired), first: { object: first, why: 'canary at 10% → 0% first: all traffic back' } };
  };
  const ok = memoryCluster();
  const r = await applyPlan(plan([withFirst(), act('update', obj('HTTPRoute', 'fd'))]), { kubernetes: ok.target }, fast);
  t.same(ok.log, ['apply InferenceService/ml-serving/fd', 'apply InferenceService/ml-serving/fd', 'apply HTTPRoute/ml-serving/fd']);
  t.ok(r.converged);
  t.equal(r.writes, 3);

  const stuck = memoryCluster({ stuck: ['fd'] });
  const s = await applyPlan(plan([withFirst(), act('update', obj('HTTPRoute', 'fd'))]), { kubernetes: stuck.target }, fast);
  t.same(stuck.log, ['apply InferenceService/ml-serving/fd'], 'only the step was sent');
  t.notOk(s.converged);
  t.same(s.results.map((x) => [x.key, x.outcome]), [['InferenceService/ml-serving/fd', 'not-ready'], ['HTTPRoute/ml-serving/fd', 'skipped']]);
  t.match(s.results[0]!.message, /not ready after .*pods pending/);
});

t.test('concurrency: the writes of one step overlap up to the limit; the steps stay in order', async (t) => {
  const { target, log } = memoryCluster({ readyAfter: 1 });
  let inFlight = 0;
  let most = 0;
  const slow: KubernetesTarget = {
    ...target,
    apply: async (o, opts) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      try { return await target.apply(o, opts); } finally { inFlight--; }
    },
  };
  const services = ['a', 'b', 'c', 'd', 'e'].map((n) => act('create', obj('InferenceService', n)));
  const routes = ['a', 'b', 'c'].map((n) => act('create', obj('HTTPRoute', n)));
  const r = await applyPlan(plan([...services, ...routes]), { kubernetes: slow }, { ...fast, concurrency: 3 });
  t.equal(most, 3, 'three writes in flight at most, and three reached');
  t.same(log.slice(0, 5).sort(), services.map((a) => `apply ${a.key}`), 'every service before any route');
  t.same(log.slice(5).sort(), routes.map((a) => `apply ${a.key}`));
  t.same(r.results.map((x) => x.key), [...services, ...routes].map((a) => a.key), 'results in plan order');
  t.ok(r.results.every((x) => x.outcome === 'ready'));
  t.ok(r.converged);
});

t.test('concurrency: a lost lease lets the writes in flight finish and starts no other', async (t) => {
  const { target, log } = memoryCluster();
  const lost = new AbortController();
  const wrapped: KubernetesTarget = { ...target, apply: async (o, opts) => { const r = await target.apply(o, opts); lost.abort(); return r; } };
  const services = ['a', 'b', 'c', 'd'].map((n) => act('create', obj('InferenceService', n)));
  const r = await applyPlan(plan(services), { kubernetes: wrapped }, { ...fast, signal: lost.signal, concurrency: 2 });
  t.same(log, ['apply InferenceService/ml-serving/a', 'apply InferenceService/ml-serving/b'], 'the two sent together, nothing after');
  t.match(r.results.slice(2), [{ outcome: 'skipped', message: "not applied: the environment's lease was lost" }, { outcome: 'skipped', message: "not applied: the environment's lease was lost" }]);
  t.notOk(r.converged);
});

t.test('a task the plan found absent is upserted without a suspend; one that exists with', async (t) => {
  const calls: string[] = [];
  const snowflake: SnowflakeTarget = { upsert: async (x, o) => void calls.push(`upsert ${x.name} absent=${o?.absent}`), drop: async () => {} };
  const task = (name: string) => ({ database: 'D', schema: 'S', name }) as ScoringTask;
  const live = { database: 'D', schema: 'S', name: 'OLD', state: 'started' };
  await applyPlan(plan([
    { op: 'create', target: 'snowflake', key: 'D.S.NEW', desired: task('NEW'), reason: 'x' },
    { op: 'update', target: 'snowflake', key: 'D.S.OLD', desired: task('OLD'), live, reason: 'x' },
  ]), { snowflake }, fast);
  t.same(calls, ['upsert NEW absent=true', 'upsert OLD absent=false']);
});

t.test('many objects of one kind pending: one LIST per round instead of a GET each; a few: GETs', async (t) => {
  const { target } = memoryCluster({ readyAfter: 1 });
  const reads: string[] = [];
  let listFails = 0;
  const listing: KubernetesTarget = {
    ...target,
    get: async (o) => {
      reads.push(`get ${o.kind}/${o.metadata.name}`);
      return target.get(o);
    },
    list: async (ref) => {
      reads.push(`list ${ref.kind} in ${ref.namespace}`);
      if (listFails-- > 0) throw new ExternalError('kubernetes', `list ${ref.kind} in ${ref.namespace}`, 'HTTP 503', { status: 503, retryable: true });
      // what the memory cluster holds of that kind, each as get() would return it
      const names = ['s1', 's2', 's3', 's4', 'r1'].filter((n) => (ref.kind === 'HTTPRoute') === n.startsWith('r'));
      const live = await Promise.all(names.map((n) => target.get(obj(ref.kind, n))));
      return live.filter((o): o is LiveKubernetesObject => !!o);
    },
  };
  const services = ['s1', 's2', 's3', 's4'].map((n) => act('create', obj('InferenceService', n)));
  const r = await applyPlan(plan([...services, act('create', obj('HTTPRoute', 'r1'))]), { kubernetes: listing }, fast);
  t.ok(r.converged);
  t.same(reads, [
    'list InferenceService in ml-serving', 'list InferenceService in ml-serving', // not ready at the first look, ready at the second
    'get HTTPRoute/r1', 'get HTTPRoute/r1',
  ]);

  reads.length = 0;
  listFails = Infinity;
  const failing = await applyPlan(plan(['s1', 's2', 's3', 's4'].map((n) => act('update', obj('InferenceService', n)))), { kubernetes: listing }, fast);
  t.notOk(failing.converged);
  t.ok(reads.every((x) => x === 'list InferenceService in ml-serving'), 'a failed list is tried again next round, still as a list');
  t.match(failing.results, Array.from({ length: 4 }, () => ({ outcome: 'not-ready', message: 'not ready after 0 s: kubernetes: list InferenceService in ml-serving: HTTP 503' })));
});
