// The Snowflake scoring tasks rendered from the example repository's environments, checked against
// golden SQL; the spec hash ignores the commit; values that could change the SQL's meaning are
// refused before any SQL text exists.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { loadDocument } from '../../src/config/load.js';
import type { Environment, ModelCard, VersionManifest } from '../../src/config/types.js';
import { ValidationError } from '../../src/errors.js';
import { renderScript, renderTasks, taskStatements, type TaskInput } from '../../src/sync/render/snowflake.js';
import type { ScoringTask } from '../../src/sync/types.js';
import { projectRoot } from '../helpers/cli.js';
import { golden } from '../helpers/golden.js';

const commit = '4f1c2e9a7b3d5f60718293a4b5c6d7e8f9012345';
const load = <T>(file: string, schema: 'environment' | 'model' | 'version'): T => {
  const doc = loadDocument<T>(file, readFileSync(`${projectRoot}${file}`), schema);
  if (!doc.loaded) throw new Error(`${file} does not load: ${JSON.stringify(doc)}`);
  return doc.loaded.data;
};

/** What the sync agent passes for one environment of the example repository. */
function exampleInput(environment: string, at = commit): TaskInput {
  const env = load<Environment>(`environments/${environment}.yaml`, 'environment');
  const models = Object.entries(env.models).flatMap(([model, deployment]) => {
    const card = load<ModelCard>(`models/${model}/model.yaml`, 'model');
    if (!deployment.batch || !card.serving.batch) return [];
    return [{ card, deployment, manifest: load<VersionManifest>(`models/${model}/versions/${deployment.version}.yaml`, 'version') }];
  });
  return { environment, env, commit: at, models };
}

for (const environment of ['staging', 'production']) {
  t.test(`${environment}: one task per batch model, as golden SQL`, async (t) => {
    const tasks = renderTasks(exampleInput(environment));
    t.same(tasks.map((x) => x.name), ['MODELSHIP_CHARGEBACK_RISK', 'MODELSHIP_FRAUD_DETECTOR']);
    golden(t, `sync/${environment}-tasks.sql`, renderScript(tasks));
  });
}

t.test('production: warehouse and schedule come from the environment, the model override wins', async (t) => {
  const [chargeback, fraud] = renderTasks(exampleInput('production')) as [ScoringTask, ScoringTask];
  t.match(fraud, {
    database: 'ML_PROD', schema: 'SCORING', warehouse: 'SCORING_WH_M', schedule: 'USING CRON 0 2 * * * America/New_York',
    procedure: 'ML_PLATFORM.SCORING.SCORE_WITH_MODEL',
    args: ['fraud-detector', '2026.11.06-1', /^s3:\/\/acme-model-registry\//, /^[a-f0-9]{64}$/, 'ANALYTICS.FEATURES.TXN_FEATURES_DAILY', 'ANALYTICS.SCORES.FRAUD_SCORES'],
    comment: { managedBy: 'modelship', environment: 'production', model: 'fraud-detector', version: '2026.11.06-1', commit },
  });
  t.equal(chargeback.warehouse, 'SCORING_WH_L', 'deployment.batch.warehouse overrides the environment');
  const [suspend, create, resume] = taskStatements(fraud);
  t.equal(suspend!.sqlText, 'ALTER TASK IF EXISTS "ML_PROD"."SCORING"."MODELSHIP_FRAUD_DETECTOR" SUSPEND');
  t.match(create!.sqlText, /^CREATE OR ALTER TASK "ML_PROD"\."SCORING"\."MODELSHIP_FRAUD_DETECTOR"\n/);
  t.notMatch(create!.sqlText, /OR REPLACE/);
  t.equal(resume!.sqlText, 'ALTER TASK "ML_PROD"."SCORING"."MODELSHIP_FRAUD_DETECTOR" RESUME');
  const body = create!.sqlText.slice(create!.sqlText.indexOf('\nAS\n'));
  t.notMatch(body, /2026\.11\.06-1|s3:\/\/|fraud-detector/, 'the stored body carries no values: it reads them from CONFIG');
  t.match(body, /SYSTEM\$GET_TASK_GRAPH_CONFIG\('version'\)::VARCHAR/);
});

t.test('interval schedules', async (t) => {
  const input = exampleInput('staging');
  const every = (e: string) => {
    const m = input.models.map((x) => ({ ...x, deployment: { ...x.deployment, batch: { schedule: { every: e } } } }));
    return renderTasks({ ...input, models: m })[0]!.schedule;
  };
  t.equal(every('15m'), '15 MINUTES');
  t.equal(every('120m'), '2 HOURS');
  const noTz = input.models.map((x) => ({ ...x, deployment: { ...x.deployment, batch: { schedule: { cron: '0 4 * * *' } } } }));
  t.equal(renderTasks({ ...input, models: noTz })[0]!.schedule, 'USING CRON 0 4 * * * UTC', 'time zone defaults to UTC');
});

t.test('the spec hash ignores the commit and follows every rendered value', async (t) => {
  const a = renderTasks(exampleInput('staging'));
  const b = renderTasks(exampleInput('staging', 'a'.repeat(40)));
  t.same(a.map((x) => x.comment.specHash), b.map((x) => x.comment.specHash), 'a new commit that changes nothing is a no-op');
  t.not(a[0]!.comment.commit, b[0]!.comment.commit);
  const input = exampleInput('staging');
  const moved = { ...input, env: { ...input.env, snowflake: { ...input.env.snowflake!, warehouse: 'SCORING_WH_S' } } };
  t.not(renderTasks(moved)[0]!.comment.specHash, a[0]!.comment.specHash, 'a warehouse change is a change');
});

t.test('a hostile value smuggled into a manifest is refused before any SQL is produced', async (t) => {
  const input = exampleInput('production');
  const hostileVersion = "1'); DROP TABLE x; --";
  const smuggled = input.models.map((m, i) => (i === 0 ? { ...m, deployment: { ...m.deployment, version: hostileVersion }, manifest: { ...m.manifest, version: hostileVersion } } : m));
  const error = t.throws(() => renderTasks({ ...input, models: smuggled })) as unknown as ValidationError;
  t.type(error, ValidationError);
  t.match(error.message, /cannot be written into a Snowflake task/);
  t.match(error.problems, [{ path: 'version', found: JSON.stringify(hostileVersion) }]);

  // The same checks guard taskStatements, whatever built the task.
  const good = renderTasks(input)[0]!;
  const forged: ScoringTask[] = [
    { ...good, args: [good.args[0]!, hostileVersion, ...good.args.slice(2)] },
    { ...good, args: [...good.args.slice(0, 2), "s3://bucket/key'||CURRENT_USER()||'", ...good.args.slice(3)] },
    { ...good, name: 'MODELSHIP_X" SUSPEND; DROP TASK "Y' },
    { ...good, warehouse: 'WH; DROP' },
    { ...good, schedule: "5 MINUTES' COMMENT = 'x" },
    { ...good, procedure: 'A.B.C"(); DROP TABLE x; --' },
    { ...good, comment: { ...good.comment, environment: "prod'\\" } },
    { ...good, args: [...good.args.slice(0, 4), 'ANALYTICS.FEATURES.T; DROP TABLE x', good.args[5]!] },
  ];
  for (const task of forged) t.throws(() => taskStatements(task), { name: 'ValidationError' }, `refused: ${JSON.stringify(task).slice(0, 0)}`);

  const badUri = input.models.map((m) => ({ ...m, manifest: { ...m.manifest, artifact: { ...m.manifest.artifact, uri: 's3://bucket/$$ || x' } } }));
  t.throws(() => renderTasks({ ...input, models: badUri }), { name: 'ValidationError', message: /artifact\.uri/ });
  const badTable = input.models.map((m) => ({ ...m, card: { ...m.card, serving: { ...m.card.serving, batch: { ...m.card.serving.batch!, target: 'SCORES' } } } }));
  t.throws(() => renderTasks({ ...input, models: badTable }), { name: 'ValidationError', message: /serving\.batch\.target/ });
});
