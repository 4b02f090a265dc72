// What `modelship sync` refuses, through the CLI: a serverless canary before its stable version
// runs, another environment's objects or objects no one manages, a cluster or Snowflake account
// other than the one the environment names. The real @kubernetes/client-node and snowflake-sdk
// against the stand-ins, as in sync.test.ts (split from it so that no test file runs long).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { production, stage, writes } from '../helpers/stage.js';
import { ExitCode } from '../../src/errors.js';


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
