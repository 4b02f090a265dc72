// `modelship plan` and `modelship sync` through the CLI: the real @kubernetes/client-node against
// the Kubernetes API stand-in, the real snowflake-sdk against the Snowflake stand-in, the example
// repository in a real git clone. What is asserted is what the systems end up holding.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { cleanEnv, runCli } from '../helpers/cli.js';
import { production, promoteFraudDetector, stage, writes } from '../helpers/stage.js';
import { ExitCode } from '../../src/errors.js';

const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const freePort = () => new Promise<number>((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address() as { port: number };
    srv.close(() => resolve(port));
  });
});

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

t.test('--watch keeps the environment as main says, heals a hand edit, and exposes its state', async (t) => {
  const s = await stage(t);
  const port = await freePort();
  let stderr = '';
  const child = spawn(process.execPath, [cliPath, 'sync', '--env', 'production', '--watch', '--interval', '1s', '--listen', String(port), '--force-conflicts', '-C', s.root],
    { env: cleanEnv(s.env), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  const state = async () => (await fetch(`http://127.0.0.1:${port}/state`)).json() as Promise<{ iterations: number; environments?: Record<string, { converged: boolean; drift: string[] }> }>;
  const until = async (ok: (x: Awaited<ReturnType<typeof state>>) => boolean) => {
    for (let i = 0; i < 200; i++) { // up to 40 s: a loaded machine (20 s was too short once)
      try { const x = await state(); if (ok(x)) return x; } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the watch loop never got there: ${stderr}`);
  };
  await until((x) => !!x.environments?.production?.converged);
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  const isvc = s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!;
  s.kube.put({ ...isvc, spec: { ...isvc.spec, predictor: { ...isvc.spec.predictor, minReplicas: 1 } } }, 'kubectl-edit');
  const healed = await until((x) => (x.environments?.production?.drift ?? []).length > 0);
  t.match(healed.environments!.production!.drift, [/^InferenceService\/ml-serving\/fraud-detector-/]);
  t.equal(s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!.spec.predictor.minReplicas, 4, 'put back');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM ends the loop cleanly');
});

t.test('serverless: a canary is applied only once the stable version runs', async (t) => {
  const s = await stage(t);
  const file = join(s.root, 'environments/staging.yaml');
  const original = readFileSync(file, 'utf8');
  writeFileSync(file, original.replace('    version: 2026.11.13-1\n', '    version: 2026.11.13-1\n    canary: { version: 2026.11.06-1, traffic: 10 }\n'));
  s.git('commit', '-qam', 'canary on a fresh cluster');
  const refused = await s.cli('sync', '--env', 'staging');
  t.equal(refused.code, 1, refused.stdout + refused.stderr);
  t.match(refused.stdout, /! InferenceService ml-staging\/fraud-detector  \(refused: a serverless canary needs the stable version 2026\.11\.13-1 running first/);
  t.notOk(s.kube.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-staging', 'fraud-detector'), 'nothing was sent');
  writeFileSync(file, original);
  s.git('commit', '-qam', 'stable first');
  t.equal((await s.cli('sync', '--env', 'staging')).code, 0);
  writeFileSync(file, original.replace('    version: 2026.11.13-1\n', '    version: 2026.11.13-1\n    canary: { version: 2026.11.06-1, traffic: 10 }\n'));
  s.git('commit', '-qam', 'canary');
  const r = await s.cli('sync', '--env', 'staging');
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.equal(s.kube.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-staging', 'fraud-detector')!.spec.predictor.canaryTrafficPercent, 10);

  // The canary is reverted: its share goes to 0 % first (no new revision), then the stable spec rolls.
  writeFileSync(file, original);
  s.git('commit', '-qam', 'Revert "canary"');
  const plan = await s.cli('plan', '--env', 'staging');
  t.match(plan.stdout, /~ InferenceService ml-staging\/fraud-detector .*\n {6}first: canary 2026\.11\.06-1 at 10% → 0% first: all traffic back to the rolled-out revision at once/);
  const before = s.kube.writes().length;
  const aborted = await s.cli('sync', '--env', 'staging');
  t.equal(aborted.code, 0, aborted.stdout + aborted.stderr);
  const patches = s.kube.writes().slice(before).filter((w) => w.path.endsWith('/inferenceservices/fraud-detector'))
    .map((w) => (w.body as { spec: { predictor: { canaryTrafficPercent?: number; model: { storageUri: string } } } }).spec.predictor)
    .map((p) => `${p.canaryTrafficPercent ?? 'none'} ${p.model.storageUri.includes('8116cbcc') ? 'stable' : 'canary'}`);
  t.same(patches, ['0 canary', 'none stable'], 'first the canary\'s share to 0 on its own spec, then the stable spec');
  const isvc = s.kube.get('serving.kserve.io/v1beta1', 'InferenceService', 'ml-staging', 'fraud-detector')!;
  t.equal(isvc.spec.predictor.canaryTrafficPercent, undefined);
  t.equal(isvc.metadata.annotations['modelship.io/version'], '2026.11.13-1');
});

t.test('staging retargeted at production\'s namespace and database: invalid for validate, and sync refuses to touch production\'s objects', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0, 'production is deployed');
  const before = production(s);
  const file = join(s.root, 'environments/staging.yaml');
  writeFileSync(file, readFileSync(file, 'utf8')
    .replace('cluster: acme-eks-staging\n  namespace: ml-staging\n  mode: serverless', 'cluster: acme-eks-prod\n  namespace: ml-serving\n  mode: raw\n  gateway: { name: ml-gateway, namespace: gateway-system }')
    .replace('database: ML_STAGING', 'database: ML_PROD'));
  s.git('commit', '-qam', 'staging: point at production');
  const validate = await s.cli('validate');
  t.equal(validate.code, 1, validate.stdout + validate.stderr);
  t.match(validate.stderr + validate.stdout, /environments "production" and "staging" share Kubernetes cluster acme-eks-prod, namespace ml-serving/);
  t.match(validate.stderr + validate.stdout, /environments "production" and "staging" share Snowflake database ML_PROD, schema SCORING/);

  t.equal((await s.cli('sync', '--env', 'staging')).code, 1, 'sync validates the revision first: refused, as invalid');

  // Past validate: staging names another cluster (which records no identity here), and names the
  // Snowflake account production leaves unnamed, so the files differ; the connections reach
  // production's targets (the one stand-in of each): sync itself must refuse.
  writeFileSync(file, readFileSync(file, 'utf8').replace('cluster: acme-eks-prod', 'cluster: acme-eks-staging').replace('snowflake:\n', 'snowflake:\n  account: ACME\n'));
  s.git('commit', '-qam', 'staging: other names, same targets');
  t.equal((await s.cli('validate')).code, 0, 'valid as files');
  const writesBefore = writes(s);
  const r = await s.cli('sync', '--env', 'staging');
  t.equal(r.code, ExitCode.targetRefused, r.stdout + r.stderr);
  const lines = r.stderr.split('\n');
  t.equal(lines[0], 'staging: warning: the cluster\'s identity is not verified: it has no ConfigMap kube-public/modelship-cluster (key name); create it with the cluster\'s name (deploy/cluster-identity.yaml) so sync can refuse the wrong cluster');
  t.equal(lines[1], 'staging: refused: 3 objects staging wants belong to another environment or to no one; nothing was written in staging');
  for (const line of [
    '  HTTPRoute/ml-serving/fraud-detector belongs to environment "production" (label modelship.io/environment=production); staging will not adopt or overwrite it',
    '  task ML_PROD.SCORING.MODELSHIP_CHARGEBACK_RISK belongs to environment "production" (its COMMENT); staging will not adopt or overwrite it',
    '  task ML_PROD.SCORING.MODELSHIP_FRAUD_DETECTOR belongs to environment "production" (its COMMENT); staging will not adopt or overwrite it',
  ]) t.ok(lines.includes(line), `${line}\n  in:\n${r.stderr}`);
  t.equal(writes(s), writesBefore, 'nothing was written: not production\'s objects, not staging\'s own InferenceService, not the lease');
  t.same(production(s), before, 'production runs exactly what it ran');
  const plan = await s.cli('plan', '--env', 'staging');
  t.equal(plan.code, ExitCode.targetRefused);
  t.match(plan.stdout, /^staging at [0-9a-f]{12}: 1 to create, 0 to change, 0 to delete, 0 unchanged; 3 conflicts: sync will write nothing here\n  ! conflict: HTTPRoute\/ml-serving\/fraud-detector belongs to environment "production"/);
});

t.test('an object modelship does not manage, where an environment wants one, is never adopted: nothing is written', async (t) => {
  const s = await stage(t);
  s.kube.put({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'fraud-detector', namespace: 'ml-serving', labels: { team: 'payments' } }, spec: { hostnames: ['fraud.example'] } }, 'kubectl');
  const writesBefore = writes(s);
  const r = await s.cli('sync', '--env', 'production');
  t.equal(r.code, ExitCode.targetRefused, r.stdout + r.stderr);
  t.equal(r.stderr, 'production: warning: the cluster\'s identity is not verified: it has no ConfigMap kube-public/modelship-cluster (key name); create it with the cluster\'s name (deploy/cluster-identity.yaml) so sync can refuse the wrong cluster\n'
    + 'production: refused: an object production wants belongs to another environment or to no one; nothing was written in production\n'
    + '  HTTPRoute/ml-serving/fraud-detector is not managed by modelship (no label app.kubernetes.io/managed-by=modelship); production will not adopt or overwrite it\n');
  t.equal(writes(s), writesBefore, 'nothing was written');
  t.same(s.kube.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving', 'fraud-detector')!.spec, { hostnames: ['fraud.example'] });
  t.equal(s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving').length, 0, 'not even production\'s own InferenceService');
});

t.test('sync refuses a cluster other than the one kubernetes.cluster names (the name the cluster records for itself): nothing is written', async (t) => {
  const s = await stage(t);
  s.kube.createNamespace('kube-public');
  s.kube.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'modelship-cluster', namespace: 'kube-public' }, data: { name: 'acme-eks-prod' } }, 'kubectl');
  const writesBefore = writes(s);
  const r = await s.cli('sync', '--env', 'staging');
  t.equal(r.code, ExitCode.targetRefused, r.stdout + r.stderr);
  t.equal(r.stderr, 'staging: refused: the Kubernetes API server this sync talks to is cluster "acme-eks-prod" (ConfigMap kube-public/modelship-cluster), but environments/staging.yaml names kubernetes.cluster "acme-eks-staging"; nothing was written in staging\n');
  t.equal(writes(s), writesBefore, 'nothing was written, in Kubernetes or in Snowflake');
  t.notOk(s.snow.tasks.get('ML_STAGING.SCORING.MODELSHIP_FRAUD_DETECTOR'), 'no staging task');
  // The cluster it names: synced, without a warning.
  const ok = await s.cli('sync', '--env', 'production');
  t.equal(ok.code, 0, ok.stdout + ok.stderr);
  t.equal(ok.stderr, '');
  // A Snowflake account other than the one the file names: refused too.
  const file = join(s.root, 'environments/production.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('snowflake:\n', 'snowflake:\n  account: acme-prod\n'));
  s.git('commit', '-qam', 'production names its Snowflake account');
  const other = await s.cli('sync', '--env', 'production');
  t.equal(other.code, ExitCode.targetRefused);
  t.equal(other.stderr, 'production: refused: the Snowflake connection is to account acme (SNOWFLAKE_ACCOUNT), but environments/production.yaml names snowflake.account acme-prod; nothing was written in production\n');
});

t.test('a record directory is optional; usage errors exit 2', async (t) => {
  const s = await stage(t);
  const r = await s.cli('sync', '--env', 'qa');
  t.equal(r.code, 2);
  t.match(r.stderr, /no such environment: qa; environments: production, staging/);
  t.notOk(existsSync(join(s.root, '.records')));
});
