// Leader election and coalescing in the agent, in-process (test/helpers/agent.ts): one leader per
// environment, a killed leader replaced, a lost lease stopping the work at once, pushes during a
// reconcile making exactly one more.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { deliver } from '../helpers/webhooks.js';
import { electionTiming, LeaderElection, type LeaseLock } from '../../src/agent/leader.js';
import { ExternalError } from '../../src/errors.js';
import { appInfo, microTime, production, pushEvent, secret, serve, statusOf, until, world } from '../helpers/agent.js';

t.test('two agents: one leads and reconciles; the leader killed, the other takes the lease over and reconciles', async (t) => {
  const w = await world(t);
  // a short lease (3 s: renew deadline 2 s, retry 400 ms) so the failover is quick
  const a = await w.agent({ holder: 'agent-a', leaseDurationSeconds: 3 });
  await until('agent-a leads and converged', () => statusOf(a).result === 'converged');
  const b = await w.agent({ holder: 'agent-b', leaseDurationSeconds: 3 });
  await until('agent-b fetched', () => b.ready());
  // agent-b tries the lease every retry period and finds it held
  await new Promise((r) => setTimeout(r, 1500));
  t.match(statusOf(a), { leader: true });
  t.match(statusOf(b), { leader: false });
  t.notOk(w.logs.some((l) => l.includes('production: leading (lease held by agent-b')), 'agent-b never led');
  t.match(w.s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production'), { spec: { holderIdentity: 'agent-a', leaseDurationSeconds: 3 } });

  // killed: stops without releasing its lease (a crash releases nothing); main moves meanwhile
  await a.stop(0, { release: false });
  const killedAt = Date.now();
  const pushed = w.promote('2026.11.13-1');
  b.pushed({ installationId: appInfo.installationId, cloneUrl: w.origin, after: pushed });
  await until('agent-b reconciled production at the new commit', () => production(w).every((o) => o.commit === pushed));
  const failover = Date.now() - killedAt;
  t.comment(`failover: ${failover} ms (lease 3 s)`);
  await until('agent-b recorded its reconcile', () => statusOf(b).commit === pushed);
  t.match(statusOf(b), { leader: true, result: 'converged', commit: pushed });
  const lease = w.s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production');
  t.match(lease, { spec: { holderIdentity: 'agent-b', leaseTransitions: 1 } }, JSON.stringify(lease?.spec));
  t.match(w.logs.join('\n'), /production: leading \(lease held by agent-b, taken over from agent-a\); reconciling/);
  t.ok(failover < 60_000, 'bounded');
  // stopped (SIGTERM): the lease is given back, not left to expire
  await b.stop(1000);
  t.notOk(w.s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production')!.spec.holderIdentity, 'released');
  t.ok(w.metrics.some(([m, env, leading]) => m === 'leader' && env === 'production' && leading === false));
});

t.test('a push delivered to the replica that does not lead: it asks the leader through the Lease, and the leader reconciles', async (t) => {
  const w = await world(t);
  // GitHub delivers each webhook to one replica behind the Service; here, the standby
  const a = await w.agent({ holder: 'agent-a', leaseDurationSeconds: 3 });
  await until('agent-a leads and converged', () => statusOf(a).result === 'converged');
  const ownMirror = mkdtempSync(join(tmpdir(), 'modelship-agent-b-'));
  t.teardown(() => rmSync(ownMirror, { recursive: true, force: true }));
  const b = await w.agent({ holder: 'agent-b', leaseDurationSeconds: 3, mirrorDir: ownMirror });
  await until('agent-b fetched and saw the holder', () => b.ready() && (b.status() as any).environments.production.holder === 'agent-a');
  const pushed = w.promote('2026.11.13-1');
  b.pushed({ installationId: appInfo.installationId, cloneUrl: w.origin, after: pushed });
  await until('agent-a reconciled production at the pushed commit (no resync: it is 10 minutes)', () => production(w).every((o) => o.commit === pushed));
  await until('agent-a recorded it', () => statusOf(a).commit === pushed);
  t.match(statusOf(a), { leader: true, result: 'converged', commit: pushed });
  t.match(statusOf(b), { leader: false });
  const logs = w.logs.join('\n');
  t.match(logs, new RegExp(`production: asked the leader \\(agent-a\\) to reconcile ${pushed.slice(0, 12)}`));
  t.match(logs, new RegExp(`production: another replica got the push of ${pushed.slice(0, 12)}`));
  // the leader's renewal cleared the request: nothing is asked twice
  await until('the request cleared', () => !w.s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production')?.metadata.annotations?.['modelship.io/reconcile-requested']);
  t.match(w.s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production'), { spec: { holderIdentity: 'agent-a' } }, 'the request did not move the lease');
});

t.test('leadership lost mid-way: the reconcile stops writing at once', async (t) => {
  const w = await world(t);
  // objects never become ready: the reconcile waits for readiness, under leadership
  w.s.kube.controller.enabled = false;
  const a = await w.agent({ leaseDurationSeconds: 3 });
  await until('the InferenceService written', () => w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving').length === 1);
  t.equal(w.s.kube.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving').length, 0, 'the route waits for the version to be ready');
  // another holder writes the lease (as a replica that judged it expired would)
  const lease = w.s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production')!;
  w.s.kube.put({ ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: microTime(new Date()), leaseDurationSeconds: 60 } }, 'other-agent');
  await until('leadership lost', () => !statusOf(a).leader);
  await until('the reconcile ended', () => statusOf(a).result !== undefined);
  t.match(w.logs.join('\n'), /production: leadership lost, work stopped: kubernetes: renew lease ml-serving\/modelship-production: the lease is now held by intruder; this agent \(agent-a\) lost it/);
  t.match(statusOf(a), { leader: false, result: 'not-converged' });
  t.match(w.logs.join('\n'), /production: not-converged at [0-9a-f]{12} in [0-9.]+ s: stopped \(leadership lost: /);
  const writesAfter = w.s.kube.writes().filter((r) => !r.path.includes('/leases/')).length;
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(w.s.kube.writes().filter((r) => !r.path.includes('/leases/')).length, writesAfter, 'nothing written after');
  t.equal(w.s.kube.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving').length, 0, 'the route was never written');
  t.ok(w.metrics.some(([m, env, leading]) => m === 'leader' && env === 'production' && leading === false));
});

t.test('pushes during a reconcile coalesce: one more reconcile at the newest head, never two at once', async (t) => {
  const w = await world(t);
  const service = await serve(t, w);
  await until('converged at start', () => statusOf(service.agent!).result === 'converged');
  // the next version takes a while to become ready: the reconcile of c1 is still running when c2 and c3 arrive
  w.s.kube.controller.delayMs = 4000;
  const c1 = w.promote('2026.11.13-1');
  t.equal((await deliver(service.webhookUrl, 'push', pushEvent(w, { after: c1 }), secret)).status, 202);
  await until('c1 being written', () => w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving').some((o) => o.metadata.annotations?.['modelship.io/commit'] === c1));
  const more: string[] = [];
  for (const n of [2, 3]) {
    w.s.git('commit', '-q', '--allow-empty', '-m', `chore: ${n}`);
    w.s.git('push', '-q', 'origin', 'main');
    more.push(w.main());
    t.equal((await deliver(service.webhookUrl, 'push', pushEvent(w, { after: w.main() }), secret)).status, 202);
  }
  await until('reconciled at the newest head', () => statusOf(service.agent!).commit === more[1]);
  const reconciled = w.logs.map((l) => /production: \S+ at ([0-9a-f]{12}) in /.exec(l)?.[1]).filter(Boolean);
  t.same(reconciled, [w.s.git('rev-parse', 'main~3').trim().slice(0, 12), c1.slice(0, 12), more[1]!.slice(0, 12)], 'c2 was overtaken by c3 while c1 ran');
});

t.test('timings: client-go\'s 15 s / 10 s / 2 s, in proportion to the lease', async (t) => {
  t.same(electionTiming(15), { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
  t.same(electionTiming(3), { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 400 });
  t.same(electionTiming(1), { leaseDurationMs: 1_000, renewDeadlineMs: 667, retryPeriodMs: 133 });
});

t.test('a leader that cannot reach the API for the renew deadline stops leading; one that can keeps leading', async (t) => {
  let down = false;
  let renewals = 0;
  const lock: LeaseLock = {
    holder: 'me',
    acquire: async () => {
      if (down) throw new ExternalError('kubernetes', 'read lease ml-serving/modelship-production', 'connect ECONNREFUSED 127.0.0.1:6443', { retryable: true });
      return { acquired: true };
    },
    renew: async () => {
      renewals++;
      if (down) throw new ExternalError('kubernetes', 'renew lease ml-serving/modelship-production', 'connect ECONNREFUSED 127.0.0.1:6443', { retryable: true });
    },
    release: async () => {},
  };
  const lost: string[] = [];
  let signal: AbortSignal | undefined;
  const election = new LeaderElection({ lease: lock, timing: { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 100 }, onLead: (s) => (signal = s), onLost: (r) => lost.push(r), log: () => {} });
  election.start();
  t.teardown(() => election.stop({ release: false }));
  await until('leading', () => election.leading);
  await until('a few renewals', () => renewals >= 3);
  t.equal(lost.length, 0, 'renewing: still leading');
  down = true;
  await until('leadership given up', () => lost.length === 1);
  t.match(lost[0], /^could not renew the lease for 1000 ms: kubernetes: renew lease ml-serving\/modelship-production: connect ECONNREFUSED 127\.0\.0\.1:6443/);
  t.equal(signal?.aborted, true, 'the environment\'s work is told to stop');
  t.equal(election.leading, false);
});
