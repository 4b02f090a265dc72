// One sync agent per environment: the pure lease rule as plain data, then the Lease I/O with the
// real client against the API stand-in (acquire, contend, expire and take over, renew, release, races).
import t, { type Test } from 'tap';
import { ExternalError } from '../../../src/errors.js';
import { startKubernetesStandIn, type KubernetesStandIn } from '../../../tools/sandbox/kubernetes/server.js';
import { EnvironmentLease, holderIdentity, leaseDecision, leaseExpiry, leaseName } from '../../../src/adapters/kubernetes/lease.js';
import { loadKubeConfig } from '../../../src/adapters/kubernetes/target.js';

const t0 = new Date('2026-11-20T10:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

t.test('leaseDecision, as data', async (t) => {
  t.same(leaseDecision(undefined, t0, 'me'), { action: 'create' });
  const held = { spec: { holderIdentity: 'other', leaseDurationSeconds: 60, acquireTime: at(-100), renewTime: at(-30) } };
  t.same(leaseDecision(held, t0, 'me'), { action: 'wait', holder: 'other', until: at(30) });
  t.same(leaseDecision(held, at(30), 'me'), { action: 'wait', holder: 'other', until: at(30) }, 'held up to and including renewTime + duration');
  t.same(leaseDecision(held, at(31), 'me'), { action: 'take-over', previousHolder: 'other', expiredAt: at(30) });
  t.same(leaseDecision(held, t0, 'other'), { action: 'renew' });
  t.same(leaseDecision({ spec: { ...held.spec, renewTime: at(-120) } }, t0, 'other'), { action: 'renew' }, 'expired but still mine: renew');
  t.same(leaseDecision({ spec: { leaseDurationSeconds: 60, renewTime: at(-1) } }, t0, 'me'), { action: 'take-over' }, 'released: no holder');
  t.same(leaseDecision({ spec: { holderIdentity: '', renewTime: at(-1) } }, t0, 'me'), { action: 'take-over' });
  t.same(leaseDecision({ spec: { holderIdentity: 'other', leaseDurationSeconds: 60 } }, t0, 'me'), { action: 'take-over', previousHolder: 'other' }, 'no time at all: expired');
  t.same(leaseDecision({ spec: { holderIdentity: 'other', leaseDurationSeconds: 60, renewTime: '2026-11-20T09:59:30.000000Z' } }, t0, 'me'),
    { action: 'wait', holder: 'other', until: at(30) }, 'times as the API sends them (strings, microseconds)');
  t.same(leaseDecision({ spec: { holderIdentity: 'other', leaseDurationSeconds: 60, acquireTime: at(-10) } }, t0, 'me'), { action: 'wait', holder: 'other', until: at(50) }, 'acquireTime when never renewed');
  t.equal(leaseExpiry(undefined), undefined);
  t.equal(leaseName('production'), 'modelship-production');
  t.equal(holderIdentity({ GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2' }), 'github-run-42-2');
  t.match(holderIdentity({}), /-\d+$/);
});

interface Clock { now: () => Date; advance: (s: number) => void }
function clock(start = t0): Clock {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (s) => { now += s * 1000; } };
}

async function setup(t: Test): Promise<{ s: KubernetesStandIn; agent: (holder: string, c: Clock, durationSeconds?: number) => EnvironmentLease }> {
  const s = await startKubernetesStandIn({ namespaces: ['ml-serving'] });
  t.teardown(() => s.stop());
  const kc = loadKubeConfig({ kind: 'server', server: s.url, token: s.token! });
  return {
    s,
    agent: (holder, c, durationSeconds = 60) => new EnvironmentLease(kc, {
      namespace: 'ml-serving', environment: 'production', holder, durationSeconds, now: c.now,
      sleep: async (ms) => c.advance(ms / 1000),
    }),
  };
}

const leaseOf = (s: KubernetesStandIn) => s.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production');

t.test('acquire creates the lease; another agent is told who holds it and until when', async (t) => {
  const { s, agent } = await setup(t);
  const c = clock();
  const a = agent('agent-a', c);
  t.same(await a.acquire(), { acquired: true });
  const lease = leaseOf(s)!;
  t.match(lease, {
    metadata: { name: 'modelship-production', labels: { 'app.kubernetes.io/managed-by': 'modelship', 'modelship.io/environment': 'production' } },
    spec: { holderIdentity: 'agent-a', leaseDurationSeconds: 60, leaseTransitions: 0, renewTime: '2026-11-20T10:00:00.000000Z', acquireTime: '2026-11-20T10:00:00.000000Z' },
  });
  t.equal(s.writes()[0]!.query.fieldManager, 'modelship');

  c.advance(10);
  const b = agent('agent-b', c);
  const contended = await b.acquire();
  t.same(contended, {
    acquired: false, holder: 'agent-a', until: at(60),
    message: 'environment production is being synced by agent-a (lease ml-serving/modelship-production held until 2026-11-20T10:01:00.000Z)',
  });
  t.equal(leaseOf(s)!.spec.holderIdentity, 'agent-a', 'unchanged');

  await a.renew();
  t.equal(leaseOf(s)!.spec.renewTime, '2026-11-20T10:00:10.000000Z');
  t.equal(leaseOf(s)!.spec.acquireTime, '2026-11-20T10:00:00.000000Z', 'acquireTime kept on renew');
  t.same(await a.acquire(), { acquired: true }, 're-acquiring my own lease renews it');
});

t.test('an expired lease is taken over; the old holder learns it lost the lease', async (t) => {
  const { s, agent } = await setup(t);
  const ca = clock();
  const a = agent('agent-a', ca);
  await a.acquire();
  const cb = clock(at(61));
  const b = agent('agent-b', cb);
  t.same(await b.acquire(), { acquired: true, tookOverFrom: 'agent-a' });
  t.match(leaseOf(s)!.spec, { holderIdentity: 'agent-b', leaseTransitions: 1, acquireTime: '2026-11-20T10:01:01.000000Z' });
  const lost = await a.renew().then(() => undefined, (e: unknown) => e);
  t.ok(lost instanceof ExternalError);
  t.match(lost, { system: 'kubernetes', message: /held by agent-b; this agent \(agent-a\) lost it/, details: { retryable: false } });
  await a.release();
  t.equal(leaseOf(s)!.spec.holderIdentity, 'agent-b', 'release by a non-holder changes nothing');
});

t.test('release clears the holder; the next agent takes over at once', async (t) => {
  const { s, agent } = await setup(t);
  const c = clock();
  const a = agent('agent-a', c);
  await a.acquire();
  await a.release();
  const released = leaseOf(s)!;
  t.equal(released.spec.holderIdentity, undefined);
  t.equal(released.spec.leaseTransitions, 0);
  const b = agent('agent-b', c);
  t.same(await b.acquire(), { acquired: true });
  t.equal(leaseOf(s)!.spec.leaseTransitions, 1);
  const writes = s.writes().length;
  await a.release();
  t.equal(s.writes().length, writes, 'not the holder: no write');
  t.match(await a.renew().then(() => undefined, (e: unknown) => e), { message: /held by agent-b/ });
});

t.test('a race: two agents acquiring at once, exactly one wins (resourceVersion preconditions)', async (t) => {
  const { s, agent } = await setup(t);
  const c = clock();
  const results = await Promise.all([agent('agent-a', c).acquire(), agent('agent-b', c).acquire(), agent('agent-c', c).acquire()]);
  t.equal(results.filter((r) => r.acquired).length, 1);
  const holder = leaseOf(s)!.spec.holderIdentity;
  for (const r of results) if (!r.acquired) t.equal(r.holder, holder);

  // and on a take-over of an expired lease
  const later = clock(at(120));
  const takeovers = await Promise.all([agent('agent-x', later).acquire(), agent('agent-y', later).acquire()]);
  t.equal(takeovers.filter((r) => r.acquired).length, 1);
  t.equal(leaseOf(s)!.spec.leaseTransitions, 1);
  t.ok(s.requests.some((r) => r.status === 409), 'the loser met a 409 and looked again');
});

t.test('acquireWaiting waits for the holder\'s lease to run out, up to a limit', async (t) => {
  const { agent } = await setup(t);
  const c = clock();
  await agent('agent-a', c, 30).acquire();
  const b = agent('agent-b', c);
  const gaveUp = await b.acquireWaiting(10_000, 2_000);
  t.match(gaveUp, { acquired: false, holder: 'agent-a' });
  t.same(c.now(), at(10), 'waited exactly the limit');
  const got = await b.acquireWaiting(60_000, 5_000);
  t.match(got, { acquired: true, tookOverFrom: 'agent-a' });
  t.ok(c.now() > at(30) && c.now() < at(40), `acquired soon after the expiry (${c.now().toISOString()})`);
});

t.test('I/O failures are ExternalErrors; MicroTime goes out with six fractional digits', async (t) => {
  const { s, agent } = await setup(t);
  const a = agent('agent-a', clock());
  s.fail = (r) => (r.method === 'POST' ? 503 : undefined);
  t.match(await a.acquire().then(() => undefined, (e: unknown) => e), { name: 'ExternalError', operation: 'create lease ml-serving/modelship-production', details: { status: 503, retryable: true } });
  s.fail = (r) => (r.method === 'GET' ? 403 : undefined);
  t.match(await a.acquire().then(() => undefined, (e: unknown) => e), { operation: 'read lease ml-serving/modelship-production', details: { status: 403, retryable: false } });
  s.fail = undefined;
  await a.acquire();
  const sent = s.writes().at(-1)!.body as { spec: { renewTime: string } };
  t.match(sent.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});

t.test('keepRenewed renews in the background and reports a lost lease', async (t) => {
  const { s, agent } = await setup(t);
  const a = agent('agent-a', { now: () => new Date(), advance: () => undefined }, 3); // renews every second
  await a.acquire();
  const first = leaseOf(s)!.spec.renewTime;
  const lost = new Promise<ExternalError>((resolve) => {
    const stop = a.keepRenewed(resolve);
    t.teardown(stop);
  });
  for (let waited = 0; leaseOf(s)!.spec.renewTime === first && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  t.not(leaseOf(s)!.spec.renewTime, first, 'renewed');
  // someone else takes the lease (say, an operator with kubectl)
  const live = leaseOf(s)!;
  s.put({ ...live, spec: { ...live.spec, holderIdentity: 'intruder' } }, 'kubectl-edit');
  const e = await lost;
  t.match(e.message, /held by intruder/);
});
