// Only forward, on plans over a real git history: which commits are live, and when a target is
// refused. Besides the CLI scenarios (test/commands/sync-forward.test.ts): a target on a branch
// beside what runs (neither descends from the other), several live commits, Snowflake's COMMENT.
import t from 'tap';
import { backwardsRefusal, liveCommits } from '../../src/sync/forward.js';
import type { Plan, PlanAction } from '../../src/sync/types.js';
import { makeReleaseRepo } from '../helpers/repo.js';

const isvc = (name: string, commit: string): PlanAction => ({
  op: 'noop', target: 'kubernetes', key: `InferenceService/ml-serving/${name}`, reason: '',
  live: { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name, namespace: 'ml-serving', annotations: { 'modelship.io/commit': commit } } },
});
const task = (name: string, commit: string): PlanAction => ({
  op: 'update', target: 'snowflake', key: `ML_PROD.SCORING.${name}`, reason: '',
  live: { database: 'ML_PROD', schema: 'SCORING', name, state: 'started', comment: { managedBy: 'modelship', environment: 'production', model: 'm', version: '1', specHash: 'h', commit } },
});
const planAt = (commit: string, actions: PlanAction[]): Plan => ({ environment: 'production', commit, actions });

t.test('live commits come from the annotation and the task COMMENT, with the objects carrying each', async (t) => {
  const a = 'a'.repeat(40);
  const b = 'b'.repeat(40);
  t.same([...liveCommits(planAt(b, [isvc('x', a), task('T', a), isvc('y', b), { op: 'create', target: 'kubernetes', key: 'HTTPRoute/ml-serving/x', reason: '' }])).entries()],
    [[a, ['InferenceService/ml-serving/x', 'task ML_PROD.SCORING.T']], [b, ['InferenceService/ml-serving/y']]]);
  t.same([...liveCommits(planAt(b, [])).entries()], [], 'nothing live (a first deployment): nothing to compare');
});

t.test('descendants pass; a commit beside or behind what runs is refused', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const c1 = repo.git('rev-parse', 'HEAD').trim();
  repo.git('commit', '-q', '--allow-empty', '-m', 'two');
  const c2 = repo.git('rev-parse', 'HEAD').trim();
  repo.git('commit', '-q', '--allow-empty', '-m', 'three');
  const c3 = repo.git('rev-parse', 'HEAD').trim();
  repo.git('checkout', '-q', '-b', 'beside', c1);
  repo.git('commit', '-q', '--allow-empty', '-m', 'beside');
  const beside = repo.git('rev-parse', 'HEAD').trim();

  t.equal(await backwardsRefusal(repo.root, planAt(c3, [isvc('x', c1), task('T', c2), isvc('y', c3)])), undefined, 'every live commit is an ancestor or the target');
  t.equal(await backwardsRefusal(repo.root, planAt(c3, [isvc('x', c1), task('T', c2)])), undefined, 'asked again (answered from memory)');
  t.equal(await backwardsRefusal(repo.root, planAt(beside, [isvc('x', c1), task('T', c2), task('U', c2)])),
    `refused: ${beside.slice(0, 12)} is not a descendant of ${c2.slice(0, 12)}, the commit live in production (task ML_PROD.SCORING.T and 1 more); sync only moves forward; nothing was written in production\n`
    + '  a rollback is a new commit on main: git revert, or modelship rollback, then sync main', 'a sibling branch is refused like an older commit');
  t.match(await backwardsRefusal(repo.root, planAt(c2, [isvc('x', c1), isvc('y', c3)])), new RegExp(`^refused: ${c2.slice(0, 12)} is not a descendant of ${c3.slice(0, 12)}, the commit live in production \\(InferenceService/ml-serving/y\\)`));
  const missing = 'c'.repeat(40);
  t.match(await backwardsRefusal(repo.root, planAt(c3, [isvc('x', c1), isvc('y', missing)])), new RegExp(`^refused: ${missing.slice(0, 12)}, the commit live in production \\(InferenceService/ml-serving/y\\), is not in this repository`));
});
