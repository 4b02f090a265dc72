// What sync keeps of a plan it does not print again: the plan read before the lease (until its
// environment's turn) and the plans in the outcome of a sync without --json. The checks made on
// the kept plan must answer as on the whole one.
import t from 'tap';
import { conflictRefusal, hasWrites, plan } from '../../src/sync/plan.js';
import { slimPlan } from '../../src/sync/run.js';
import { liveCommits } from '../../src/sync/forward.js';
import { deploymentRequest } from '../../src/sync/deployment.js';
import type { Environment } from '../../src/config/types.js';
import type { DesiredEnvironment, KubernetesObject, LiveKubernetesObject } from '../../src/sync/types.js';

function isvc(name: string, spec: Record<string, unknown>, commit: string, env = 'production'): KubernetesObject {
  return {
    apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService',
    metadata: { name, namespace: 'ml-serving', labels: { 'app.kubernetes.io/managed-by': 'modelship', 'modelship.io/environment': env, 'modelship.io/model': name }, annotations: { 'modelship.io/spec-hash': `h-${JSON.stringify(spec)}`, 'modelship.io/commit': commit } },
    spec,
  };
}
const hashLive = (o: LiveKubernetesObject) => `h-${JSON.stringify(o.spec)}`;
const live = (o: KubernetesObject): LiveKubernetesObject => ({ ...o, metadata: { ...o.metadata, generation: 1 }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
const c1 = '1'.repeat(40);

const desired: DesiredEnvironment = { environment: 'production', commit: '2'.repeat(40), kubernetes: [
  isvc('fraud-detector', { predictor: { v: 2 } }, '2'.repeat(40)), isvc('chargeback-risk', { predictor: { v: 1 } }, '2'.repeat(40)), isvc('churn', {}, '2'.repeat(40)),
], snowflake: [] };
const full = plan({ desired, live: { kubernetes: [live(isvc('fraud-detector', { predictor: { v: 1 } }, c1)), live(isvc('chargeback-risk', { predictor: { v: 1 } }, c1)), live(isvc('old', {}, c1))], snowflake: [] }, hashLive });
full.actions[2]!.refused = 'not yet';
full.actions[0]!.warning = 'a warning';

t.test('the slim plan keeps what each action does and why, not its objects or diff', async (t) => {
  const slim = slimPlan(full);
  t.same(slim.actions.map((a) => a.op), ['update', 'noop', 'create', 'delete']);
  t.same(slim.actions.map((a) => Object.keys(a).sort()), [
    ['key', 'model', 'op', 'reason', 'target', 'warning'], ['key', 'model', 'op', 'reason', 'target'], ['key', 'model', 'op', 'reason', 'refused', 'target'], ['key', 'model', 'op', 'reason', 'target'],
  ]);
  t.same(slim.actions.map((a) => [a.key, a.reason, a.refused, a.warning]), full.actions.map((a) => [a.key, a.reason, a.refused, a.warning]));
  t.equal(slim.environment, full.environment);
  t.equal(slim.commit, full.commit);
  t.ok(full.actions[0]!.desired && full.actions[0]!.diff?.length, 'the whole plan is left as it was');
});

t.test('with live: the checks before the lease answer as on the whole plan', async (t) => {
  const slim = slimPlan(full, { live: true });
  t.same(slim.actions.map((a) => !!a.live), [true, true, false, true]);
  t.equal(hasWrites(slim), hasWrites(full));
  t.same([...liveCommits(slim)], [...liveCommits(full)]);
  t.same([...liveCommits(slim)], [[c1, ['InferenceService/ml-serving/fraud-detector', 'InferenceService/ml-serving/chargeback-risk', 'InferenceService/ml-serving/old']]]);
  const env = { models: { 'fraud-detector': { version: 'v2' }, 'chargeback-risk': { version: 'v1' }, churn: { version: 'v1' } } } as unknown as Environment;
  t.same(deploymentRequest(slim, env), deploymentRequest(full, env));
  const conflicted = { ...full, conflicts: [{ target: 'kubernetes' as const, key: 'InferenceService/ml-serving/x', message: 'x belongs to environment "staging"' }] };
  t.equal(conflictRefusal(slimPlan(conflicted, { live: true })), conflictRefusal(conflicted));
  t.match(conflictRefusal(slimPlan(conflicted)), /^refused: an object production wants belongs to another environment or to no one; nothing was written in production\n  x belongs to environment "staging"$/);
});
