// `modelship plan` and `modelship sync` through the CLI: the real @kubernetes/client-node against
// the Kubernetes API stand-in, the real snowflake-sdk against the Snowflake stand-in, the example
// repository in a real git clone. What is asserted is what the systems end up holding.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { production, promoteFraudDetector, stage, writes } from '../helpers/stage.js';
import { ExitCode } from '../../src/errors.js';

/** Lease times as kube-apiserver wants them: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');


t.test('plan on an empty cluster lists what sync will create, and writes nothing', async (t) => {
  const s = await stage(t);
  const r = await s.cli('plan', '--env', 'production');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^production at [0-9a-f]{12}: 4 to create, 0 to change, 0 to delete, 0 unchanged/);
  t.match(r.stdout, /\+ InferenceService ml-serving\/fraud-detector-2026-11-06-1-[0-9a-f]{6}  \(not found\)\n      \+ annotations\.modelship\.io\/spec-hash: [0-9a-f]{64}/);
  t.match(r.stdout, /\+ HTTPRoute ml-serving\/fraud-detector/);
  t.match(r.stdout, /\+ task ML_PROD\.SCORING\.MODELSHIP_FRAUD_DETECTOR  \(not found\)\n(.*\n)*      \+ config\.version: 2026\.11\.06-1/);
  t.equal(writes(s), 0, 'plan only reads');
});

t.test('plan without a Snowflake connection plans Kubernetes and reports Snowflake unreachable; exit 3', async (t) => {
  const s = await stage(t);
  const env = { ...s.env, SNOWFLAKE_ACCOUNT: undefined, SNOWFLAKE_USER: undefined, SNOWFLAKE_PASSWORD: undefined, MODELSHIP_SNOWFLAKE_URL: undefined };
  const r = await runCli(['plan', '--env', 'production', '-C', s.root], { env, cwd: s.root });
  t.equal(r.code, ExitCode.external, r.stderr);
  t.equal(r.stderr, '');
  const lines = r.stdout.split('\n');
  t.match(lines[0], /^production at [0-9a-f]{12}: 2 to create, 0 to change, 0 to delete, 0 unchanged; snowflake unreachable, not planned$/);
  t.equal(lines[1], '  ? snowflake: unreachable, not planned: environment production runs batch scoring in Snowflake, but no Snowflake connection is configured'
    + ' (set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PRIVATE_KEY_PATH; see the README)');
  t.match(r.stdout, /\+ InferenceService ml-serving\/fraud-detector-2026-11-06-1-[0-9a-f]{6}  \(not found\)/);
  t.match(r.stdout, /\+ HTTPRoute ml-serving\/fraud-detector/);
  t.notMatch(r.stdout, /\+ task /, 'nothing planned in Snowflake');
  const json = await runCli(['plan', '--env', 'production', '--json', '-C', s.root], { env, cwd: s.root });
  t.equal(json.code, ExitCode.external);
  t.same(JSON.parse(json.stdout).plans[0].unreachable.map((u: { target: string }) => u.target), ['snowflake']);
  // and with Kubernetes down too: both are reported, nothing is planned
  const down = await runCli(['plan', '--env', 'production', '-C', s.root], { env: { ...env, MODELSHIP_KUBE_TOKEN: undefined }, cwd: s.root });
  t.equal(down.code, ExitCode.external);
  t.match(down.stdout, /^production at [0-9a-f]{12}: no changes; 0 objects as desired; kubernetes and snowflake unreachable, not planned\n  \? kubernetes: unreachable, not planned: MODELSHIP_KUBE_SERVER is set but MODELSHIP_KUBE_TOKEN is not\n  \? snowflake: /);
  t.equal(writes(s), 0, 'plan only reads');
});

t.test('sync prints each plan with its diffs as it goes; --json prints every plan whole at the end', async (t) => {
  const s = await stage(t);
  const text = await s.cli('sync', '--env', 'staging');
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^staging at [0-9a-f]{12}: \d+ to create, 0 to change, 0 to delete, 0 unchanged\n/);
  t.match(text.stdout, /\+ InferenceService [^ ]+  \(not found\)\n      \+ annotations\.modelship\.io\/spec-hash: [0-9a-f]{64}\n/);
  t.match(text.stdout, /\n      \+ config\.version: /, 'the tasks\' diffs too');
  const json = await s.cli('sync', '--env', 'production', '--json');
  t.equal(json.code, 0, json.stderr);
  const { results } = JSON.parse(json.stdout) as { results: Array<{ plan: { actions: Array<{ op: string; key: string; desired?: { kind?: string; name?: string }; diff?: string[] }> } }> };
  const actions = results[0]!.plan.actions;
  t.ok(actions.length >= 3, `${actions.length} actions`);
  for (const a of actions) {
    t.equal(a.op, 'create', a.key);
    t.ok(a.desired && (a.desired.kind ?? a.desired.name), `${a.key}: the object to create`);
    t.ok(a.diff?.some((l) => l.startsWith('+ ')), `${a.key}: its diff`);
  }
});

t.test('sync: production runs what main says, is ready, and the deployment is recorded', async (t) => {
  const s = await stage(t);
  const recordDir = join(s.root, '.records');
  const r = await s.cli('sync', '--env', 'production', '--record-dir', recordDir);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /production at [0-9a-f]{12}: converged/);
  const now = production(s);
  t.same(now.objects.map((o) => `${o.kind} ${o.version}`), ['HTTPRoute 2026.11.06-1', 'InferenceService 2026.11.06-1']);
  t.ok(now.objects.every((o) => o.labels['app.kubernetes.io/managed-by'] === 'modelship' && o.labels['modelship.io/environment'] === 'production'));
  t.same(now.tasks.map((x) => [x.name, x.state]), [['MODELSHIP_FRAUD_DETECTOR', 'started'], ['MODELSHIP_CHARGEBACK_RISK', 'started']]);
  const commit = s.git('rev-parse', 'HEAD').trim();
  const record = JSON.parse(readFileSync(join(recordDir, 'production', `${commit}.json`), 'utf8'));
  t.match(record, { environment: 'production', commit, converged: true, models: [{ model: 'chargeback-risk', version: '2026.10.15-1', deployed: true }, { model: 'fraud-detector', version: '2026.11.06-1', deployed: true, kind: 'online+batch' }] });
  t.ok(record.objects.every((o: { outcome: string }) => ['ready', 'applied'].includes(o.outcome)));
  t.ok(record.objects.filter((o: { target: string }) => o.target === 'kubernetes').every((o: { readyAt?: string }) => o.readyAt), 'each object has the time it became ready');
  const inserts = s.snow.queries.filter((q) => /INSERT INTO .*MODELSHIP_DEPLOYMENTS/i.test(q.sqlText));
  t.equal(inserts.length, 1);
  const bound = JSON.stringify(inserts[0]!.bindings);
  t.ok(bound.includes('fraud-detector') && bound.includes('chargeback-risk') && bound.includes('2026.11.06-1'), 'a MODELSHIP_DEPLOYMENTS row per model, values bound');
  t.notMatch(inserts[0]!.sqlText, /2026\.11\.06-1/, 'no value in the SQL text');
});

t.test('a sync with nothing to do sends no write at all, not even the lease', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  const before = writes(s);
  const again = await s.cli('sync', '--env', 'production');
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, /production at [0-9a-f]{12}: no changes; 4 objects as desired/);
  t.equal(writes(s), before, 'no write');
});

t.test('a promotion merged to main: only that model\'s objects are written; traffic moves after the new version is ready', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  promoteFraudDetector(s, '2026.11.13-1');
  const before = s.kube.writes().length;
  const r = await s.cli('sync', '--env', 'production');
  t.equal(r.code, 0, r.stdout + r.stderr);
  const paths = s.kube.writes().slice(before).map((w) => `${w.method} ${w.path.replace(/\/namespaces\/ml-serving/, '')}`).filter((p) => !p.includes('leases'));
  t.match(paths, [/^PATCH .*inferenceservices\/fraud-detector-2026-11-13-1-/, /^PATCH .*httproutes\/fraud-detector$/, /^DELETE .*inferenceservices\/fraud-detector-2026-11-06-1-/],
    'the new version first, then the route, then the old version; chargeback-risk untouched');
  t.same(production(s).objects.map((o) => `${o.kind} ${o.version}`), ['HTTPRoute 2026.11.13-1', 'InferenceService 2026.11.13-1']);
  t.match(production(s).tasks[0]!.config, /"version":"2026\.11\.13-1"/);
});

t.test('a hand edit of a managed object is drift: sync names who changed what; --force-conflicts puts it back', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  const isvc = s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!;
  s.kube.put({ ...isvc, spec: { ...isvc.spec, predictor: { ...isvc.spec.predictor, minReplicas: 1 } } }, 'kubectl-edit');
  const plan = await s.cli('plan', '--env', 'production');
  t.match(plan.stdout, /~ InferenceService ml-serving\/fraud-detector-2026-11-06-1-[0-9a-f]{6}  \(edited outside modelship \(drift\)/);
  t.match(plan.stdout, /~ spec\.predictor\.minReplicas: 1 → 4/);
  const refused = await s.cli('sync', '--env', 'production');
  t.equal(refused.code, 1, 'not converged: the conflict is reported, never silently forced');
  t.match(refused.stdout, /failed +InferenceService\/ml-serving\/fraud-detector-2026-11-06-1-[0-9a-f]{6} .*kubectl-edit.*minReplicas/);
  t.equal(s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!.spec.predictor.minReplicas, 1, 'left as it was');
  const r = await s.cli('sync', '--env', 'production', '--force-conflicts');
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.equal(s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!.spec.predictor.minReplicas, 4);
});

t.test('an object that never becomes ready: exit 1 with its condition; traffic not moved; not recorded as deployed', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  promoteFraudDetector(s, '2026.11.13-1', 'promote');
  s.kube.controller.failWhen = (o) => (String(o.metadata?.name).includes('2026-11-13-1') ? 'ModelLoadFailed: xgboost cannot parse model.json' : undefined);
  const recordDir = join(s.root, '.records');
  const r = await s.cli('sync', '--env', 'production', '--ready-timeout', '3s', '--record-dir', recordDir);
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, /NOT converged/);
  t.match(r.stdout, /not-ready .*fraud-detector-2026-11-13-1-[0-9a-f]{6}  .*xgboost cannot parse model\.json/);
  t.match(r.stdout, /skipped +HTTPRoute\/ml-serving\/fraud-detector  not applied: the services it routes to are not ready/);
  const route = s.kube.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving', 'fraud-detector')!;
  t.equal(route.metadata.annotations['modelship.io/version'], '2026.11.06-1', 'traffic still goes to the old version');
  const record = JSON.parse(readFileSync(join(recordDir, 'production', `${s.git('rev-parse', 'HEAD').trim()}.json`), 'utf8'));
  t.match(record.models.find((m: { model: string }) => m.model === 'fraud-detector'), { deployed: false });
  t.notOk(s.snow.queries.some((q) => /INSERT INTO .*MODELSHIP_DEPLOYMENTS/i.test(q.sqlText) && JSON.stringify(q.bindings).includes('2026.11.13-1')),
    'no deployment row for what did not converge');
});

t.test('raw mode: a replicas-only change and an HPA scale event leave status.observedGeneration behind (KServe copies the Deployment\'s); sync still converges', async (t) => {
  // kserve/kserve pkg/apis/serving/v1beta1/inference_service_status.go (PropagateRawStatus): the
  // InferenceService's status.observedGeneration is its predictor Deployment's. minReplicas goes
  // to the HPA, so the InferenceService's generation moves and the Deployment's does not.
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  const file = join(s.root, 'environments/production.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('replicas: { min: 4, max: 20 }', 'replicas: { min: 6, max: 20 }'));
  s.git('commit', '-qam', 'production: fraud-detector min replicas 6');
  const [stable] = s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving').filter((o) => o.metadata.name.startsWith('fraud-detector-'));
  s.kube.controller.scale('ml-serving', stable!.metadata.name);
  s.kube.controller.scale('ml-serving', stable!.metadata.name);
  await s.kube.controller.idle();
  const r = await s.cli('sync', '--env', 'production', '--ready-timeout', '3s');
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /production at [0-9a-f]{12}: converged/);
  const live = s.kube.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving', stable!.metadata.name)!;
  t.equal(live.spec.predictor.minReplicas, 6);
  t.not(live.status.observedGeneration, live.metadata.generation, 'the two differ, as on a real cluster');
});

t.test('KServe 0.15 runs the rendered InferenceServices in the mode asked for (RawDeployment, not the default Serverless)', async (t) => {
  const s = await stage(t);
  s.kube.controller.kserveVersion = '0.15';
  const r = await s.cli('sync', '--env', 'production');
  t.equal(r.code, 0, r.stdout + r.stderr);
  for (const o of s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')) t.equal(o.status.deploymentMode, 'RawDeployment', o.metadata.name);
});

t.test('a gateway that does not implement RequestMirror: sync fails at once, naming the gateway and the filter', async (t) => {
  const s = await stage(t);
  s.kube.controller.unsupportedFilters = ['RequestMirror'];
  const file = join(s.root, 'environments/production.yaml');
  const text = readFileSync(file, 'utf8');
  t.match(text, /\n {4}version: 2026\.11\.06-1/);
  writeFileSync(file, text.replace(/\n( {4})version: 2026\.11\.06-1([^\n]*)\n/, (_m, indent: string, rest: string) => `\n${indent}version: 2026.11.06-1${rest}\n${indent}shadow: { version: 2026.11.13-1 }\n`));
  s.git('commit', '-qam', 'production: shadow fraud-detector 2026.11.13-1');
  const started = Date.now();
  const r = await s.cli('sync', '--env', 'production', '--ready-timeout', '20s');
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.ok(Date.now() - started < 15_000, 'did not wait for the timeout');
  t.match(r.stdout, /HTTPRoute\/ml-serving\/fraud-detector .*gateway [^ ]+ \(sandbox\.modelship\.io\/gateway-controller\) refused the route's filter RequestMirror: UnsupportedValue/);
});

t.test('another agent holds the lease: exit 4, nothing written', async (t) => {
  const s = await stage(t);
  s.kube.put({
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'modelship-production', namespace: 'ml-serving' },
    spec: { holderIdentity: 'sync-runner-7', leaseDurationSeconds: 300, acquireTime: microTime(new Date()), renewTime: microTime(new Date()) },
  }, 'modelship');
  const before = writes(s);
  const r = await s.cli('sync', '--env', 'production');
  t.equal(r.code, ExitCode.leaseHeld, r.stdout + r.stderr);
  t.match(r.stderr, /sync-runner-7/);
  t.equal(writes(s), before);
});

t.test('a record directory is optional; usage errors exit 2', async (t) => {
  const s = await stage(t);
  const r = await s.cli('sync', '--env', 'qa');
  t.equal(r.code, 2);
  t.match(r.stderr, /no such environment: qa; environments: production, staging/);
  t.notOk(existsSync(join(s.root, '.records')));
});
