// The agent role of `modelship serve`, in-process: the real @kubernetes/client-node and
// snowflake-sdk against the Kubernetes and Snowflake stand-ins, the App authenticating against the
// GitHub stand-in (JWT, installation token, GET /repos/{owner}/{repo}/installation), a real git
// origin as the repository's clone URL, and push webhooks signed as GitHub signs them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { connectApp, type GitHubApp } from '../../src/adapters/github/app.js';
import { startAgent, type Agent, type AgentOptions } from '../../src/agent/agent.js';
import type { Metrics } from '../../src/serve/metrics.js';
import { defaultMaxPayloadBytes, startService, type Service } from '../../src/serve/service.js';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';
import { promoteFraudDetector, stage, type Stage } from '../helpers/stage.js';
import { appKeys, deliver, example, inRepository } from '../helpers/webhooks.js';

const owner = 'acmerisk';
const name = 'model-releases';
const secret = 'whsec-modelship-test';
const appInfo = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
const keys = appKeys();

/** Lease times as kube-apiserver wants them: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

interface World {
  s: Stage;
  gh: GitHubStandIn;
  app: GitHubApp;
  origin: string;
  mirrorDir: string;
  logs: string[];
  metrics: Array<[string, ...unknown[]]>;
  /** records into `metrics` */
  recorder: Metrics;
  /** main's commit in the origin */
  main(): string;
  /** commits a promotion of production's fraud-detector and pushes it to the origin; returns the commit */
  promote(version: string): string;
  agent(o?: Partial<AgentOptions>): Promise<Agent>;
}

async function world(t: Test): Promise<World> {
  const s = await stage(t);
  const origin = join(s.root, '..', 'origin.git');
  const gh = await startGitHub({ owner, repo: name, cloneUrl: origin, apps: [{ ...appInfo, publicKey: keys.publicKey }] });
  const mirrorDir = mkdtempSync(join(tmpdir(), 'modelship-agent-mirrors-'));
  const logs: string[] = [];
  t.teardown(async () => {
    if (!t.passing()) t.comment(logs.join('\n'));
    await gh.stop();
    rmSync(mirrorDir, { recursive: true, force: true });
  });
  const app = await connectApp({ appId: appInfo.id, privateKey: keys.privateKey, baseUrl: gh.url });
  const recorded: World['metrics'] = [];
  const metrics: Metrics = {
    reconcile: (...a) => void recorded.push(['reconcile', ...a]), outOfSync: (...a) => void recorded.push(['outOfSync', ...a]),
    lastSuccessfulSync: (...a) => void recorded.push(['lastSuccessfulSync', ...a]), webhook: () => {}, gate: () => {},
    leader: (...a) => void recorded.push(['leader', ...a]),
  };
  return {
    s, gh, app, origin, mirrorDir, logs, metrics: recorded, recorder: metrics,
    main: () => s.git('rev-parse', 'main').trim(),
    promote(version) {
      const commit = promoteFraudDetector(s, version);
      s.git('push', '-q', 'origin', 'main');
      return commit;
    },
    async agent(o = {}) {
      const agent = await startAgent({
        repository: { owner, repo: name }, environments: ['production'], mirrorDir, resyncMs: 600_000, leaseDurationSeconds: 2,
        holder: 'agent-a', app, env: s.env, metrics, log: (l) => logs.push(l), readyTimeoutMs: 20_000, ...o,
      });
      t.teardown(() => agent.stop(1000));
      return agent;
    },
  };
}

/** Polls `check` every 100 ms until it holds, for at most `ms` (generous: the machine may be busy). */
async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** production's managed Kubernetes objects with the commit each was last written at. */
function production(w: World): Array<{ kind: string; version: string; commit: string }> {
  return [...w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving'), ...w.s.kube.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving')]
    .map((o) => ({ kind: o.kind as string, version: o.metadata.annotations?.['modelship.io/version'], commit: o.metadata.annotations?.['modelship.io/commit'] }))
    .sort((a, b) => a.kind.localeCompare(b.kind));
}

const statusOf = (a: Agent) => (a.status() as { environments: Record<string, { leader: boolean; reconciles?: number; result?: string; commit?: string }> }).environments.production!;

function pushEvent(w: World, o: { ref?: string; after: string; repo?: string; deleted?: boolean }): any {
  const payload = inRepository(example('push'), { owner, repo: o.repo ?? name, cloneUrl: w.origin, installationId: appInfo.installationId });
  Object.assign(payload, { ref: o.ref ?? 'refs/heads/main', after: o.after, deleted: o.deleted ?? false });
  return payload;
}

async function serve(t: Test, w: World): Promise<Service> {
  const service = await startService({
    appId: appInfo.id, privateKey: keys.privateKey, webhookSecret: secret, apiUrl: w.gh.url, listen: '127.0.0.1:0', mirrorDir: w.mirrorDir,
    concurrency: 1, maxPayloadBytes: defaultMaxPayloadBytes, log: (l) => w.logs.push(l), check: false, metrics: w.recorder,
    agent: { repository: { owner, repo: name }, environments: ['production'], resyncMs: 600_000, leaseDurationSeconds: 2, holder: 'serve-a', env: w.s.env, readyTimeoutMs: 20_000 },
  });
  t.teardown(() => service.stop(1000));
  return service;
}

t.test('a signed push to main: the agent fetches it and production converges at the pushed commit', async (t) => {
  const w = await world(t);
  const before = w.gh.requests.length;
  const service = await serve(t, w);
  const first = w.main();
  await until('ready', () => service.agent!.ready());
  t.equal((await fetch(`${service.url}/readyz`)).status, 200, 'ready once the release branch is fetched');
  await until('the first reconcile at start', () => statusOf(service.agent!).result === 'converged');
  t.same(production(w).map((o) => [o.kind, o.version, o.commit]), [['HTTPRoute', '2026.11.06-1', first], ['InferenceService', '2026.11.06-1', first]]);
  t.same(w.gh.requests.slice(before).map((r) => `${r.operationId} ${r.status}`), [
    'apps/get-authenticated 200', 'apps/get-repo-installation 200', 'apps/create-installation-access-token 201', 'repos/get 200',
  ], 'without a webhook: the installation and clone URL from GitHub, as the App');

  const pushed = w.promote('2026.11.13-1');
  const r = await deliver(service.webhookUrl, 'push', pushEvent(w, { after: pushed }), secret);
  t.same([r.status, r.body.message], [202, `reconciling: refs/heads/main at ${pushed.slice(0, 12)}`]);
  await until('production at the pushed commit', () => production(w).every((o) => o.commit === pushed));
  t.same(production(w).map((o) => [o.kind, o.version]), [['HTTPRoute', '2026.11.13-1'], ['InferenceService', '2026.11.13-1']]);
  await until('the reconcile recorded', () => statusOf(service.agent!).commit === pushed);
  t.match(statusOf(service.agent!), { leader: true, result: 'converged', commit: pushed });
  t.ok(w.metrics.some(([m, env, result]) => m === 'reconcile' && env === 'production' && result === 'converged'), 'reconcile metric');
  t.ok(w.metrics.some(([m, env, leading]) => m === 'leader' && env === 'production' && leading === true), 'leader metric');
  t.match(w.logs.join('\n'), new RegExp(`production: converged at ${pushed.slice(0, 12)} in [0-9.]+ s: \\d+ writes`));
});

t.test('pushes that are not to the release branch of the release repository are ignored with the reason', async (t) => {
  const w = await world(t);
  const service = await serve(t, w);
  await until('ready', () => service.agent!.ready());
  const sha = w.main();
  const cases: Array<[Parameters<typeof pushEvent>[1], string]> = [
    [{ ref: 'refs/heads/feature', after: sha }, `push to feature in ${owner}/${name}, not the release branch main`],
    [{ ref: 'refs/tags/v1', after: sha }, `push of refs/tags/v1 in ${owner}/${name}: not a branch`],
    [{ after: sha, repo: 'other-repo' }, `push to ${owner}/other-repo, not the release repository ${owner}/${name}`],
    [{ after: '0000000000000000000000000000000000000000', deleted: true }, `push deleting main in ${owner}/${name}: nothing to deploy`],
  ];
  for (const [push, reason] of cases) {
    const r = await deliver(service.webhookUrl, 'push', pushEvent(w, push), secret);
    t.same([r.status, r.body.message], [200, `ignored: ${reason}`]);
  }
  t.equal(service.stats.ignored, 4);
  t.equal(service.stats.accepted, 0);
  // with the checker role off, pull request events are not judged
  const pr = inRepository(example('pull_request', 'opened'), { owner, repo: name, cloneUrl: w.origin, installationId: appInfo.installationId });
  const judged = await deliver(service.webhookUrl, 'pull_request', pr, secret);
  t.same([judged.status, judged.body.message], [200, 'ignored: pull_request (the checker role is not running)']);
});

t.test('two agents: one leads and reconciles; the leader killed, the other takes the lease over and reconciles', async (t) => {
  const w = await world(t);
  const a = await w.agent({ holder: 'agent-a' });
  await until('agent-a leads and converged', () => statusOf(a).result === 'converged');
  const b = await w.agent({ holder: 'agent-b' });
  await until('agent-b fetched', () => b.ready());
  // agent-b tries the lease every retry period and finds it held
  await new Promise((r) => setTimeout(r, 1500));
  t.match(statusOf(a), { leader: true });
  t.match(statusOf(b), { leader: false });
  t.notOk(w.logs.some((l) => l.includes('production: leading (lease held by agent-b')), 'agent-b never led');
  t.match(w.s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production'), { spec: { holderIdentity: 'agent-a', leaseDurationSeconds: 2 } });

  // killed: stops without releasing its lease (a crash releases nothing); main moves meanwhile
  await a.stop(0, { release: false });
  const killedAt = Date.now();
  const pushed = w.promote('2026.11.13-1');
  b.pushed({ installationId: appInfo.installationId, cloneUrl: w.origin, after: pushed });
  await until('agent-b reconciled production at the new commit', () => production(w).every((o) => o.commit === pushed));
  const failover = Date.now() - killedAt;
  t.comment(`failover: ${failover} ms (lease 2 s)`);
  await until('agent-b recorded its reconcile', () => statusOf(b).commit === pushed);
  t.match(statusOf(b), { leader: true, result: 'converged', commit: pushed });
  const lease = w.s.kube.get('coordination.k8s.io/v1', 'Lease', 'ml-serving', 'modelship-production');
  t.match(lease, { spec: { holderIdentity: 'agent-b', leaseTransitions: 1 } }, JSON.stringify(lease?.spec));
  t.match(w.logs.join('\n'), /production: leading \(lease held by agent-b, taken over from agent-a\); reconciling/);
  t.ok(failover < 60_000, 'bounded');
});

t.test('the periodic resync repairs drift without any webhook', async (t) => {
  const w = await world(t);
  const a = await w.agent({ resyncMs: 1000 });
  await until('converged', () => statusOf(a).result === 'converged');
  const isvc = w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!;
  // someone deletes the InferenceService by hand
  const del = await fetch(`${w.s.kube.url}/apis/serving.kserve.io/v1beta1/namespaces/ml-serving/inferenceservices/${isvc.metadata.name}`, {
    method: 'DELETE', headers: { authorization: `Bearer ${w.s.kube.token}` },
  });
  t.equal(del.status, 200);
  t.equal(w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving').length, 0);
  await until('the InferenceService is back', () => w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving').length === 1);
  t.equal(w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!.metadata.name, isvc.metadata.name);
  await until('a resync converged again', () => w.logs.some((l) => /production: converged at [0-9a-f]{12} in [0-9.]+ s: 1 write$/.test(l)));
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
