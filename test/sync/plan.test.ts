// plan = diff(desired, live): plain data in, actions out. The hash function is the renderer's
// business; here a live object's "hash" is whatever its spec serialises to, so a hand edit shows.
import t from 'tap';
import { conflictRefusal, diffLines, hasWrites, plan } from '../../src/sync/plan.js';
import { taskConfig, taskDefinition } from '../../src/sync/render/snowflake.js';
import type { DesiredEnvironment, KubernetesObject, LiveKubernetesObject, LiveTask, ScoringTask } from '../../src/sync/types.js';

const hashOf = (spec: unknown) => `h-${JSON.stringify(spec)}`;
function isvc(name: string, spec: Record<string, unknown>, env = 'production'): KubernetesObject {
  return {
    apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService',
    metadata: { name, namespace: 'ml-serving', labels: { 'app.kubernetes.io/managed-by': 'modelship', 'modelship.io/environment': env, 'modelship.io/model': name }, annotations: { 'modelship.io/spec-hash': hashOf(spec), 'modelship.io/commit': 'c1' } },
    spec,
  };
}
const live = (o: KubernetesObject, spec = o.spec): LiveKubernetesObject => ({ ...o, metadata: { ...o.metadata, generation: 1 }, spec });
function task(version: string, hash = `t-${version}`): ScoringTask {
  return {
    database: 'ML_PROD', schema: 'SCORING', name: 'MODELSHIP_FRAUD_DETECTOR', warehouse: 'SCORING_WH_M', schedule: 'USING CRON 0 2 * * * America/New_York',
    procedure: 'ML_PLATFORM.SCORING.SCORE_WITH_MODEL', args: ['fraud-detector', version, 's3://r/x', 'abc', 'SRC', 'TGT'],
    comment: { managedBy: 'modelship', environment: 'production', model: 'fraud-detector', version, specHash: hash, commit: 'c1' },
  };
}
const liveTask = (d: ScoringTask, state = 'started'): LiveTask => ({
  database: d.database, schema: d.schema, name: d.name, state, warehouse: d.warehouse, schedule: d.schedule, definition: taskDefinition(d), config: taskConfig(d), comment: d.comment,
});
const desired = (kubernetes: KubernetesObject[], snowflake: ScoringTask[] = []): DesiredEnvironment => ({ environment: 'production', commit: 'c2', kubernetes, snowflake });
const hashLive = (o: LiveKubernetesObject) => hashOf(o.spec);

t.test('everything as desired: all no-ops, nothing to write', async (t) => {
  const a = isvc('fraud-detector', { predictor: { minReplicas: 4 } });
  const p = plan({ desired: desired([a], [task('v1')]), live: { kubernetes: [live(a)], snowflake: [liveTask(task('v1'))] }, hashLive });
  t.same(p.actions.map((x) => x.op), ['noop', 'noop']);
  t.notOk(hasWrites(p));
});

t.test('missing objects are created, changed ones updated with a readable diff', async (t) => {
  const before = isvc('fraud-detector', { predictor: { model: { storageUri: 's3://r/a' } } });
  const after = isvc('fraud-detector', { predictor: { model: { storageUri: 's3://r/b' }, canaryTrafficPercent: 5 } });
  const p = plan({ desired: desired([after, isvc('chargeback-risk', {})], [task('v2')]), live: { kubernetes: [live(before)], snowflake: [liveTask(task('v1'))] }, hashLive });
  t.match(p.actions, [
    { op: 'update', key: 'InferenceService/ml-serving/fraud-detector', diff: ['~ annotations.modelship.io/spec-hash: ' + hashOf(before.spec) + ' → ' + hashOf(after.spec), '+ spec.predictor.canaryTrafficPercent: 5', '~ spec.predictor.model.storageUri: s3://r/a → s3://r/b'] },
    { op: 'create', key: 'InferenceService/ml-serving/chargeback-risk', reason: 'not found' },
    { op: 'update', target: 'snowflake', key: 'ML_PROD.SCORING.MODELSHIP_FRAUD_DETECTOR', reason: /spec hash t-v1… → t-v2…/ },
  ]);
  t.same(p.actions[2]!.diff, ['~ config.version: v1 → v2']);
});

t.test('SHOW TASKS spelling the same schedule and body differently is no drift; a different schedule is', async (t) => {
  const respelled = { ...liveTask(task('v1')), schedule: 'using cron  0 2 * * * America/New_York', definition: `\n  ${taskDefinition(task('v1')).replace(', ', ',\n    ')};\n` };
  t.same(plan({ desired: desired([], [task('v1')]), live: { kubernetes: [], snowflake: [respelled] }, hashLive }).actions.map((a) => a.op), ['noop']);
  const hourly = { ...task('v1'), schedule: '60 MINUTES' };
  t.same(plan({ desired: desired([], [hourly]), live: { kubernetes: [], snowflake: [{ ...liveTask(hourly), schedule: '60 minute' }] }, hashLive }).actions.map((a) => a.op), ['noop']);
  const [changed] = plan({ desired: desired([], [task('v1')]), live: { kubernetes: [], snowflake: [{ ...liveTask(task('v1')), schedule: 'USING CRON 0 3 * * * America/New_York' }] }, hashLive }).actions;
  t.match(changed, { op: 'update', diff: ['~ schedule: USING CRON 0 3 * * * America/New_York → USING CRON 0 2 * * * America/New_York'] });
  // Quoted text is compared as written.
  const [quoted] = plan({ desired: desired([], [task('v1')]), live: { kubernetes: [], snowflake: [{ ...liveTask(task('v1')), definition: taskDefinition(task('v1')).replace("('model')", "('model ')") }] }, hashLive }).actions;
  t.equal(quoted!.op, 'update');
});

t.test('a task whose CONFIG was edited by hand is drift, though its comment still matches', async (t) => {
  const edited = { ...liveTask(task('v1')), config: { ...taskConfig(task('v1')), version: 'v0' } };
  const [action] = plan({ desired: desired([], [task('v1')]), live: { kubernetes: [], snowflake: [edited] }, hashLive }).actions;
  t.match(action, { op: 'update', reason: /edited outside modelship \(drift\): its definition or CONFIG no longer match/, diff: ['~ config.version: v0 → v1'] });
});

t.test('a hand edit is drift: the object is updated back even though its annotation still matches', async (t) => {
  const a = isvc('fraud-detector', { predictor: { minReplicas: 4 } });
  const edited = live(a, { predictor: { minReplicas: 1 } });
  const [action] = plan({ desired: desired([a]), live: { kubernetes: [edited], snowflake: [] }, hashLive }).actions;
  t.equal(action!.op, 'update');
  t.match(action!.reason, /edited outside modelship \(drift\)/);
  t.same(action!.diff, ['~ spec.predictor.minReplicas: 1 → 4']);
});

t.test('a suspended task is resumed', async (t) => {
  const [action] = plan({ desired: desired([], [task('v1')]), live: { kubernetes: [], snowflake: [liveTask(task('v1'), 'suspended')] }, hashLive }).actions;
  t.match(action, { op: 'update', reason: 'task is suspended (drift): resume it' });
});

t.test('only what modelship manages in this environment is pruned', async (t) => {
  const gone = isvc('old-model', {});
  const otherEnv = isvc('fraud-detector', {}, 'staging');
  const foreign: LiveKubernetesObject = { ...live(isvc('hand-made', {})), metadata: { name: 'hand-made', namespace: 'ml-serving', labels: {} } };
  const unmanagedTask: LiveTask = { database: 'ML_PROD', schema: 'SCORING', name: 'NIGHTLY_ETL', state: 'started' };
  const p = plan({ desired: desired([]), live: { kubernetes: [live(gone), live(otherEnv), foreign], snowflake: [unmanagedTask] }, hashLive });
  t.same(p.actions.map((a) => `${a.op} ${a.key}`), ['delete InferenceService/ml-serving/old-model']);
  t.match(p.actions[0]!.reason, 'no longer in environments/production.yaml');
});

t.test('diff lines: added, removed, changed, nested and arrays', async (t) => {
  t.same(diffLines({ a: 1, b: { c: [1, 2] } }, { a: 2, b: { c: [1] }, d: 'x' }), ['~ a: 1 → 2', '- b.c[1]: 2', '+ d: x']);
});

t.test('a live InferenceService in another KServe deployment mode: the plan says so (applying cannot change it)', async (t) => {
  // KServe keeps status.deploymentMode from creation (kserve/kserve
  // pkg/controller/v1beta1/inferenceservice/utils/utils.go GetDeploymentMode), and KServe up to
  // 0.15 sent the 0.16 names Standard / Knative to the cluster default (Serverless).
  const a = isvc('fraud-detector', { predictor: { minReplicas: 4 } });
  a.metadata.annotations['serving.kserve.io/deploymentMode'] = 'RawDeployment';
  const withMode = (mode: string): LiveKubernetesObject => ({ ...live(a), status: { deploymentMode: mode } });
  const p = plan({ desired: desired([a]), live: { kubernetes: [withMode('Serverless')], snowflake: [] }, hashLive });
  t.match(p.actions[0], { op: 'noop', warning: /^KServe runs it in deployment mode Serverless, not RawDeployment \(kubernetes\.mode raw\); .* delete it \(kubectl delete inferenceservice -n ml-serving fraud-detector\) and sync again$/ });
  t.notOk(hasWrites(p), 'a warning is not a write');
  const { planText } = await import('../../src/sync/show.js');
  t.match(planText(p), /no changes; 1 object as desired\n\n {4}InferenceService ml-serving\/fraud-detector {2}\(spec hash .*\)\n {6}warning: KServe runs it in deployment mode Serverless/);
  for (const same of ['RawDeployment', 'Standard']) {
    t.equal(plan({ desired: desired([a]), live: { kubernetes: [withMode(same)], snowflake: [] }, hashLive }).actions[0]!.warning, undefined, `${same} is raw on every KServe`);
  }
  t.equal(plan({ desired: desired([a]), live: { kubernetes: [live(a)], snowflake: [] }, hashLive }).actions[0]!.warning, undefined, 'no status yet: nothing to say');
});

t.test('an object another environment owns, or modelship does not manage, is a conflict: never created over, updated or deleted', async (t) => {
  const mine = isvc('fraud-detector', { predictor: { minReplicas: 4 } });
  const staging = isvc('churn', { predictor: {} }, 'staging');
  const unmanaged = live(isvc('payments', {}));
  delete unmanaged.metadata.labels!['app.kubernetes.io/managed-by'];
  const sfOther = { ...liveTask(task('v1')), comment: { ...task('v1').comment, environment: 'staging' } };
  const p = plan({
    desired: desired([mine, isvc('churn', { predictor: {} }), isvc('payments', {})], [task('v1')]),
    live: { kubernetes: [live(mine), live(staging), unmanaged], snowflake: [sfOther] }, hashLive,
  });
  t.same(p.actions.map((a) => `${a.op} ${a.key}`), ['noop InferenceService/ml-serving/fraud-detector'], 'only its own object is planned; nothing of the others is deleted');
  t.same(p.conflicts!.map((c) => c.message), [
    'InferenceService/ml-serving/churn belongs to environment "staging" (label modelship.io/environment=staging); production will not adopt or overwrite it',
    'InferenceService/ml-serving/payments is not managed by modelship (no label app.kubernetes.io/managed-by=modelship); production will not adopt or overwrite it',
    'task ML_PROD.SCORING.MODELSHIP_FRAUD_DETECTOR belongs to environment "staging" (its COMMENT); production will not adopt or overwrite it',
  ]);
  t.match(conflictRefusal(p), /^refused: 3 objects production wants belong to another environment or to no one; nothing was written in production\n {2}InferenceService/);
  const handMade = { ...liveTask(task('v1')) } as LiveTask;
  delete handMade.comment;
  t.same(plan({ desired: desired([], [task('v1')]), live: { kubernetes: [], snowflake: [handMade] }, hashLive }).conflicts!.map((c) => c.message),
    ['task ML_PROD.SCORING.MODELSHIP_FRAUD_DETECTOR is not managed by modelship (its COMMENT is not modelship\'s); production will not adopt or overwrite it']);
  t.equal(conflictRefusal(plan({ desired: desired([mine]), live: { kubernetes: [live(mine)], snowflake: [] }, hashLive })), undefined);
});

t.test('a diff is made when first read: the same lines, in JSON and copies too, and can be replaced', async (t) => {
  const before = isvc('fraud-detector', { predictor: { model: { storageUri: 's3://r/a' } } });
  const after = isvc('fraud-detector', { predictor: { model: { storageUri: 's3://r/b' } } });
  const p = plan({ desired: desired([after, isvc('chargeback-risk', { predictor: {} })], [task('v2')]), live: { kubernetes: [live(before)], snowflake: [] }, hashLive });
  const [update, create, taskCreate] = p.actions;
  t.ok(Object.getOwnPropertyDescriptor(update!, 'diff')?.get, 'not made with the plan');
  t.same(update!.diff, ['~ annotations.modelship.io/spec-hash: h-{"predictor":{"model":{"storageUri":"s3://r/a"}}} → h-{"predictor":{"model":{"storageUri":"s3://r/b"}}}',
    '~ spec.predictor.model.storageUri: s3://r/a → s3://r/b']);
  t.equal(update!.diff, update!.diff, 'made once, then kept');
  t.same(create!.diff, diffLines({}, { labels: (create!.desired as KubernetesObject).metadata.labels, annotations: { 'modelship.io/spec-hash': 'h-{"predictor":{}}' }, spec: { predictor: {} } }));
  t.ok(taskCreate!.diff!.includes('+ warehouse: SCORING_WH_M'), taskCreate!.diff!.join('\n'));
  const copied = JSON.parse(JSON.stringify(p)) as typeof p;
  t.same(copied.actions.map((a) => a.diff), p.actions.map((a) => a.diff), 'JSON carries the diffs');
  t.same({ ...create! }.diff, create!.diff, 'a spread copies it');
  update!.diff = ['replaced'];
  t.same(update!.diff, ['replaced']);
});
