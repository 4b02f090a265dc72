// The agent role of `modelship serve`, in-process (test/helpers/agent.ts: the stand-ins, the App,
// a real git origin): a push webhook converges production, other pushes are ignored with the
// reason, the resync repairs drift, duties run under leadership, /readyz waits for the mirror.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { deliver, example, inRepository } from '../helpers/webhooks.js';
import { appInfo, name, owner, production, pushEvent, secret, serve, statusOf, until, world } from '../helpers/agent.js';
import type { DutyContext } from '../../src/agent/duties.js';
import type { DeploymentRecord } from '../../src/model/deployments.js';

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
    // the first reconcile writes: a GitHub Deployment for production at that commit, in progress then success
    'repos/list-deployments 200', 'repos/create-deployment 201', 'repos/create-deployment-status 201', 'repos/create-deployment-status 201',
  ], 'without a webhook: the installation and clone URL from GitHub, as the App');
  t.match(w.gh.state.deployments.map((d) => ({ sha: d.sha, environment: d.environment, creator: d.creator, states: d.statuses.map((x) => x.state) })),
    [{ sha: first, environment: 'production', creator: `${appInfo.slug}[bot]`, states: ['in_progress', 'success'] }], 'the deployment, as the App');

  const pushed = w.promote('2026.11.13-1');
  const r = await deliver(service.webhookUrl, 'push', pushEvent(w, { after: pushed }), secret);
  t.same([r.status, r.body.message], [202, `reconciling: refs/heads/main at ${pushed.slice(0, 12)}`]);
  await until('production at the pushed commit', () => production(w).every((o) => o.commit === pushed));
  t.same(production(w).map((o) => [o.kind, o.version]), [['HTTPRoute', '2026.11.13-1'], ['InferenceService', '2026.11.13-1']]);
  await until('the reconcile recorded', () => statusOf(service.agent!).commit === pushed);
  // The reconcile that wrote the push converged (its log line below, with its writes); a request
  // made while it ran is followed by exactly one more (AgentEnvironment.request), then a no-op at
  // the same commit, which on a busy machine may have replaced the status's result before it is read.
  const settled = /^(converged|unchanged)$/;
  t.match(statusOf(service.agent!), { leader: true, result: settled, commit: pushed });
  const state = (await (await fetch(`${service.url}/state`)).json()) as { agent: { holder: string; head: string; environments: Record<string, unknown> } };
  t.match(state.agent, { holder: 'serve-a', head: pushed, ready: true, environments: { production: { leader: true, holder: 'serve-a', commit: pushed, result: settled, reconciles: Number } } }, JSON.stringify(state));
  t.ok(w.metrics.some(([m, env, result]) => m === 'reconcile' && env === 'production' && result === 'converged'), 'reconcile metric');
  t.ok(w.metrics.some(([m, env, leading]) => m === 'leader' && env === 'production' && leading === true), 'leader metric');
  t.match(w.logs.join('\n'), new RegExp(`production: converged at ${pushed.slice(0, 12)} in [0-9.]+ s: \\d+ writes`));
  await until('the push\'s deployment succeeded on GitHub', () => w.gh.state.deployments.some((d) => d.sha === pushed && d.statuses.at(-1)?.state === 'success'));
});

t.test('a push from a repository webhook (no installation in it): the agent reconciles with the installation it found through the App', async (t) => {
  const w = await world(t);
  const service = await serve(t, w);
  await until('the first reconcile at start', () => statusOf(service.agent!).result === 'converged');
  const pushed = w.promote('2026.11.13-1');
  const payload = pushEvent(w, { after: pushed });
  delete payload.installation;
  const r = await deliver(service.webhookUrl, 'push', payload, secret);
  t.same([r.status, r.body.message], [202, `reconciling: refs/heads/main at ${pushed.slice(0, 12)}`]);
  await until('production at the pushed commit', () => production(w).every((o) => o.commit === pushed));
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

t.test('a hand edit of a managed field: the resync reports it (not converged, left as it is); with self-heal it is put back', async (t) => {
  const w = await world(t);
  const a = await w.agent({ holder: 'agent-a', resyncMs: 1000 });
  await until('converged', () => statusOf(a).result === 'converged');
  const isvc = w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!;
  w.s.kube.put({ ...isvc, spec: { ...isvc.spec, predictor: { ...isvc.spec.predictor, minReplicas: 1 } } }, 'kubectl-edit');
  await until('a resync reported the conflict', () => statusOf(a).result === 'not-converged');
  t.match(w.logs.join('\n'), /production: not-converged at [0-9a-f]{12} in [0-9.]+ s: .*InferenceService\/ml-serving\/fraud-detector-[^:]+: failed/);
  t.ok(w.metrics.some(([m, env, n]) => m === 'outOfSync' && env === 'production' && (n as number) > 0), 'out of sync in the metrics');
  t.equal(w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!.spec.predictor.minReplicas, 1, 'never silently forced');
  await a.stop(1000);
  const b = await w.agent({ holder: 'agent-b', resyncMs: 1000, selfHeal: true });
  await until('self-heal put it back', () => w.s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!.spec.predictor.minReplicas === 4);
  await until('converged', () => statusOf(b).result === 'converged');
  t.match(w.logs.join('\n'), /starting as agent-b for production; .*, self-heal/);
});

t.test('duties run under leadership: audit after a sync that wrote, canary and drift on their own timers, all stopped with it', async (t) => {
  const w = await world(t);
  const calls: Array<{ duty: string; ctx: DutyContext; record?: DeploymentRecord }> = [];
  const a = await w.agent({
    resyncMs: 1000,
    duties: {
      canary: async (ctx) => (calls.push({ duty: 'canary', ctx }), { nextInMs: 1000 }),
      drift: async (ctx) => (calls.push({ duty: 'drift', ctx }), { nextInMs: 600_000 }),
      audit: async (ctx, record) => void calls.push({ duty: 'audit', ctx, record }),
    },
  });
  await until('canary ran twice', () => calls.filter((c) => c.duty === 'canary').length >= 2);
  // a few no-op resyncs later
  await until('two more reconciles', () => statusOf(a).reconciles! >= 3);
  const main = w.main();
  const audits = calls.filter((c) => c.duty === 'audit');
  t.equal(audits.length, 1, 'audited once: the first sync wrote, the no-op resyncs did not');
  t.match(audits[0]!.record, { environment: 'production', commit: main, converged: true });
  t.equal(calls.filter((c) => c.duty === 'drift').length, 1, 'drift waits for its own next time');
  const ctx = calls.find((c) => c.duty === 'canary')!.ctx;
  t.match(ctx, {
    environment: 'production', commit: main, releaseBranch: 'main', repository: { owner, repo: name }, mirror: join(w.mirrorDir, owner, `${name}.git`),
    github: { cloneUrl: w.origin, login: 'modelship-acme[bot]' },
  });
  t.match(await ctx.github.token(), /^ghs_/, 'an installation token');
  t.equal(ctx.signal.aborted, false);
  await a.stop(1000);
  t.equal(ctx.signal.aborted, true, 'the duties\' signal aborts when leadership ends');
  const after = calls.length;
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(calls.length, after, 'no duty runs after');
});

t.test('stopping waits for a canary or drift run under way (its signal aborted), at most the grace, and says when it gave up', async (t) => {
  const w = await world(t);
  const signals: AbortSignal[] = [];
  let ended = false;
  let release: () => void = () => {};
  const idle = { drift: async () => ({ nextInMs: 600_000 }), audit: async () => {} };
  const a = await w.agent({
    holder: 'agent-a',
    duties: { ...idle, canary: (ctx) => (signals.push(ctx.signal), new Promise((r) => (release = () => { ended = true; r({ nextInMs: 600_000 }); }))) },
  });
  await until('a canary run under way', () => signals.length === 1);
  const stopping = a.stop(10_000).then(() => ended);
  // The run ends 2 s after the stop began (or as soon as the stop returned, had it not waited).
  await Promise.race([stopping, new Promise((r) => setTimeout(r, 2000))]);
  t.equal(signals[0]!.aborted, true, 'the run\'s signal aborted when the stop began');
  release();
  t.equal(await stopping, true, 'the stop returned after the run ended');

  const b = await w.agent({ holder: 'agent-b', duties: { ...idle, canary: (ctx) => (signals.push(ctx.signal), new Promise(() => {})) } });
  await until('a run that never ends under way', () => signals.length === 2);
  await b.stop(500);
  t.ok(w.logs.includes(`agent ${owner}/${name}: production: a duty still running 500 ms after the stop; left to end on its own`), 'the stop says it gave up on the run');
});

t.test('/readyz waits for the first fetch of the release branch; /healthz does not', async (t) => {
  const w = await world(t);
  w.gh.fail = (r) => (r.operationId === 'apps/get-repo-installation' ? 503 : undefined);
  const service = await serve(t, w);
  await until('a failed first fetch', () => w.logs.some((l) => l.includes('could not fetch main (start)')));
  t.equal((await fetch(`${service.url}/readyz`)).status, 503);
  t.equal((await fetch(`${service.url}/healthz`)).status, 200);
  t.match(w.logs.join('\n'), /agent acmerisk\/model-releases: could not fetch main \(start\): github: find the App's installation on acmerisk\/model-releases: /);
  w.gh.fail = undefined;
  await until('ready after a retry', () => service.agent!.ready());
  t.equal((await fetch(`${service.url}/readyz`)).status, 200);
});

t.test('what cannot be reconciled is said, and the rest goes on: an environment main does not have, an invalid commit on main', async (t) => {
  const w = await world(t);
  const a = await w.agent({ environments: ['production', 'qa'] });
  await until('production converged', () => statusOf(a).result === 'converged');
  const first = w.main();
  t.ok(w.logs.includes(`agent ${owner}/${name}: qa: not reconciled: environment qa is not in main at ${first.slice(0, 12)}; known: production, staging`), w.logs.join('\n'));
  t.match((a.status() as { environments: Record<string, unknown> }).environments.qa, { leader: false, waiting: /environment qa is not in main/ });

  const file = join(w.s.root, 'environments/production.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('version: 2026.11.06-1', 'version: latest'));
  w.s.git('commit', '-qam', 'a broken pin');
  w.s.git('push', '-q', 'origin', 'main');
  const broken = w.main();
  a.pushed({ installationId: appInfo.installationId, cloneUrl: w.origin, after: broken });
  await until('the broken commit judged', () => statusOf(a).commit === broken);
  t.match(statusOf(a), { leader: true, result: 'error' });
  const problem = 'environments/production.yaml:25:14  models.fraud-detector.version  version "latest" of fraud-detector is not registered; expected a registered version of fraud-detector (2026.10.30-1, 2026.11.06-1, 2026.11.13-1), found "latest"';
  const sha = broken.slice(0, 12);
  t.ok(w.logs.some((l) => new RegExp(`^agent ${owner}/${name}: production: error at ${sha} in [0-9.]+ s: `).test(l) && l.endsWith(`s: ${sha}: 1 problem in 1 file: ${problem}`)), 'the reconcile says what is wrong, where');
  t.ok(w.logs.includes(`agent ${owner}/${name}: cannot read the environments at ${sha}: ${sha}: 1 problem in 1 file: ${problem}`));
  t.same(production(w).map((o) => o.commit), [first, first], 'what ran before still runs');
  t.ok(w.metrics.some(([m, env, result]) => m === 'reconcile' && env === 'production' && result === 'error'));
});
