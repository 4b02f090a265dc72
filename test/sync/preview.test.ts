// The merge preview plans only the models a change can alter (preview.ts): a model whose entry,
// model card and pinned manifests are the same on both sides, in an environment whose settings
// are the same, renders the same objects, so it is counted, not planned. Each case compares the
// preview with the plan of every model rendered on both sides (what it replaces): the same
// changes, nothing missed.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadRepository, type LoadedRepository } from '../../src/config/load.js';
import { withChanges, workingTree } from '../../src/config/snapshot.js';
import { desiredFor } from '../../src/sync/agent.js';
import { plan } from '../../src/sync/plan.js';
import { previewMerge } from '../../src/sync/preview.js';
import { liveSpecHash } from '../../src/sync/render/hash.js';
import { taskConfig, taskDefinition } from '../../src/sync/render/snowflake.js';
import { planText } from '../../src/sync/show.js';
import type { Plan } from '../../src/sync/types.js';
import { projectRoot } from '../helpers/cli.js';

const commits = { base: 'c0ffee0000000000000000000000000000000001', head: 'c0ffee0000000000000000000000000000000002' };
const example = (file: string) => readFileSync(join(projectRoot, file), 'utf8');
let base: LoadedRepository;
t.before(async () => {
  base = await loadRepository(workingTree(projectRoot), { versions: 'all' });
});

async function headWith(written: Record<string, string>): Promise<LoadedRepository> {
  const head = await loadRepository(withChanges(workingTree(projectRoot), new Map(Object.entries(written).map(([p, text]) => [p, Buffer.from(text)]))), { versions: 'all' });
  t.same(head.problems.filter((p) => p.severity === 'error'), [], 'the head loads');
  return head;
}

/** The plan of every model of the environment, rendered on both sides. */
function fullPlan(head: LoadedRepository, environment: string): Plan {
  const running = desiredFor(base, environment, commits.base);
  const tasks = running.snowflake.map((x) => ({ database: x.database, schema: x.schema, name: x.name, state: 'started' as const, warehouse: x.warehouse, schedule: x.schedule, definition: taskDefinition(x), config: taskConfig(x), comment: x.comment }));
  return plan({ desired: desiredFor(head, environment, commits.head), live: { kubernetes: running.kubernetes, snowflake: tasks }, hashLive: liveSpecHash });
}

const changed = (p: Plan) => p.actions.filter((a) => a.op !== 'noop').map((a) => `${a.op} ${a.key} ${(a.diff ?? []).join('|')}`);
const models = (p: Plan) => [...new Set(p.actions.map((a) => a.model))].sort();

t.test('a one-model change plans that model only; the other is counted as untouched', async (t) => {
  const head = await headWith({ 'environments/production.yaml': example('environments/production.yaml').replace('replicas: { min: 4, max: 20 }', 'replicas: { min: 5, max: 20 }') });
  const { plans, problems } = previewMerge(base, head, ['production'], commits);
  t.same(problems, []);
  t.equal(plans.length, 1);
  const p = plans[0]!;
  t.same(models(p), ['fraud-detector'], 'only the changed model is rendered');
  t.equal(p.untouchedModels, 1, 'chargeback-risk is counted');
  const full = fullPlan(head, 'production');
  t.same(changed(p), changed(full), 'the same changes as rendering every model');
  t.ok(changed(p).length > 0);
  t.same(models(full), ['chargeback-risk', 'fraud-detector'], 'what it replaces renders both');
  t.match(planText(p).split('\n')[0], /^production at c0ffee000000: 0 to create, 1 to change, 0 to delete, \d+ unchanged; 1 other model untouched$/);
});

t.test('a change to the environment\'s settings renders every model', async (t) => {
  const head = await headWith({ 'environments/production.yaml': example('environments/production.yaml').replace('warehouse: SCORING_WH_M', 'warehouse: SCORING_WH_S') });
  const p = previewMerge(base, head, ['production'], commits).plans[0]!;
  t.equal(p.untouchedModels, undefined);
  t.same(models(p), ['chargeback-risk', 'fraud-detector']);
  t.same(changed(p), changed(fullPlan(head, 'production')));
  t.notMatch(planText(p), /untouched/);
});

t.test('a model whose card changes is planned though its entry is the same', async (t) => {
  const card = example('models/chargeback-risk/model.yaml');
  const head = await headWith({ 'models/chargeback-risk/model.yaml': card.replace('riskTier: medium', 'riskTier: high') });
  const p = previewMerge(base, head, ['production'], commits).plans[0]!;
  t.same(models(p), ['chargeback-risk'], 'the card is an input of its objects');
  t.equal(p.untouchedModels, 1, 'fraud-detector is counted');
  t.same(changed(p), changed(fullPlan(head, 'production')));
});

t.test('a model whose pinned manifest differs is planned (manifests are immutable; the preview does not assume it)', async (t) => {
  const pinned = /version: (\S+)/.exec(example('environments/production.yaml').split('chargeback-risk:')[1]!)![1]!;
  const file = `models/chargeback-risk/versions/${pinned}.yaml`;
  const head = await headWith({ [file]: example(file).replace(/^registeredBy: .*$/m, 'registeredBy: someone-else') });
  const p = previewMerge(base, head, ['production'], commits).plans[0]!;
  t.ok(models(p).includes('chargeback-risk'));
  t.same(changed(p), changed(fullPlan(head, 'production')));
});
