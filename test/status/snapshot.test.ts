// The status snapshot from plain data: production's rendered objects as the live state (with a
// ready status), then the live state changed by hand: a split brain inside and past a sync's
// time, an unreadable cluster, a route whose canary weight differs, a task left over.
import t from 'tap';
import { loadDesiredState } from '../../src/config/state.js';
import { desiredFor } from '../../src/sync/agent.js';
import { taskConfig, taskDefinition } from '../../src/sync/render/snowflake.js';
import type { LiveKubernetesObject, LiveTask } from '../../src/sync/types.js';
import { environmentStatus, statusExitCode, type EnvironmentInput } from '../../src/status/snapshot.js';
import { canaryCell, environmentText } from '../../src/status/text.js';
import { projectRoot } from '../helpers/cli.js';

const repo = await loadDesiredState(projectRoot);
const commit = 'c0ffee0000000000000000000000000000000001';
const env = repo.environments.get('production')!.data;
const desired = desiredFor(repo, 'production', commit);
const deployedAt = '2026-11-20T09:00:00.000Z';
const minutesAfter = (m: number) => new Date(Date.parse(deployedAt) + m * 60_000);

/** What a converged sync leaves: the rendered objects, ready; the tasks, started. */
function converged(): { kubernetes: LiveKubernetesObject[]; snowflake: LiveTask[] } {
  const kubernetes = desired.kubernetes.map((o): LiveKubernetesObject => JSON.parse(JSON.stringify({
    ...o, metadata: { ...o.metadata, generation: 1, managedFields: [{ manager: 'modelship', operation: 'Apply', time: deployedAt }] },
    status: o.kind === 'HTTPRoute'
      ? { parents: [{ conditions: [{ type: 'Accepted', status: 'True', observedGeneration: 1 }] }] }
      : { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True' }], modelStatus: { transitionStatus: 'UpToDate' } },
  })));
  const snowflake = desired.snowflake.map((task): LiveTask => ({
    database: task.database, schema: task.schema, name: task.name, state: 'started', comment: task.comment,
    warehouse: task.warehouse, schedule: task.schedule, definition: taskDefinition(task), config: taskConfig(task),
  }));
  return { kubernetes, snowflake };
}

const input = (live: Partial<EnvironmentInput>): EnvironmentInput => ({
  environment: 'production', env, desired, ...converged(), runs: {},
  deployments: [{ deployedAt, environment: 'production', model: 'fraud-detector', version: '2026.11.06-1', commit, change: 'version', kind: 'online+batch' }],
  ...live,
});

t.test('live as rendered: every row ok, deployment from the log', async (t) => {
  const e = environmentStatus(input({}), minutesAfter(5), 15 * 60_000);
  t.same(e.models.map((m) => [m.model, m.state]), [['chargeback-risk', 'ok'], ['fraud-detector', 'ok']]);
  const f = e.models[1]!;
  t.match(f, { online: { version: '2026.11.06-1', ready: true, appliedAt: deployedAt, commit }, batch: { version: '2026.11.06-1', state: 'started' }, lastDeployment: { at: deployedAt, commit } });
  t.equal(statusExitCode({ generatedAt: '', commit, syncGraceMs: 0, environments: [e] }), 0);
});

t.test('EKS and Snowflake on different versions: converging within the grace, split brain after it', async (t) => {
  const live = converged();
  live.snowflake = live.snowflake.map((task) => (task.comment?.model === 'fraud-detector' ? { ...task, comment: { ...task.comment!, version: '2026.10.30-1', specHash: 'a1'.repeat(32) } } : task));
  const soon = environmentStatus(input(live), minutesAfter(10), 15 * 60_000).models[1]!;
  t.equal(soon.state, 'out-of-sync', 'the task differs from main; not yet a split brain');
  t.match(soon.problems.map((p) => p.kind), ['out-of-sync', 'converging']);
  t.match(soon.problems[1]!.message, 'EKS serves 2026.11.06-1, Snowflake scores with 2026.10.30-1 for 10m: a sync is under way');
  const late = environmentStatus(input(live), minutesAfter(40), 15 * 60_000).models[1]!;
  t.equal(late.state, 'split-brain');
  t.equal(late.problems[0]!.message, 'split brain: EKS serves 2026.11.06-1, Snowflake scores with 2026.10.30-1 for 40m (a sync takes at most 15m)');
});

t.test('an unreadable cluster: online rows unknown, batch rows still judged, exit 3', async (t) => {
  const e = environmentStatus(input({ kubernetes: { error: 'kubernetes: list InferenceService in ml-serving: ECONNREFUSED' } }), minutesAfter(5), 15 * 60_000);
  t.same(e.errors, ['kubernetes: kubernetes: list InferenceService in ml-serving: ECONNREFUSED']);
  t.match(e.models[1], { state: 'unknown', online: { detail: /^unknown: / } });
  t.equal(e.models[0]!.state, 'ok', 'chargeback-risk runs in Snowflake only');
  t.notOk(e.models[1]!.problems.some((p) => p.kind === 'out-of-sync'), 'no guess about a side that was not read');
  t.equal(statusExitCode({ generatedAt: '', commit, syncGraceMs: 0, environments: [e] }), 3);
  t.match(environmentText(e), /^ {2}! cannot read kubernetes: /m);
});

t.test('a canary on the route that main does not ask for, and a task main no longer names', async (t) => {
  const live = converged();
  const route = live.kubernetes.find((o) => o.kind === 'HTTPRoute')!;
  const rules = (route.spec as { rules: Array<{ backendRefs: Array<Record<string, unknown>> }> }).rules;
  rules[0]!.backendRefs = [{ ...rules[0]!.backendRefs[0]!, weight: 80 }, { ...rules[0]!.backendRefs[0]!, name: 'fraud-detector-x-predictor', weight: 20 }];
  live.snowflake.push({ database: 'ML_PROD', schema: 'SCORING', name: 'MODELSHIP_OLD_MODEL', state: 'started', comment: { managedBy: 'modelship', environment: 'production', model: 'old-model', version: '1', specHash: 'x', commit } });
  const e = environmentStatus(input(live), minutesAfter(5), 15 * 60_000);
  const f = e.models.find((m) => m.model === 'fraud-detector')!;
  t.equal(canaryCell(f), '—/20%', 'wanted none, 20% live');
  t.equal(f.state, 'out-of-sync');
  const old = e.models.find((m) => m.model === 'old-model')!;
  t.match(old, { state: 'out-of-sync', problems: [{ message: /not in environments\/production\.yaml but still running/ }] });
  t.notOk(old.pinned);
});
