// Only forward (#15): sync deploys a commit only when it descends from the commit live in the
// environment (the modelship.io/commit annotation, the task COMMENT's commit). An older commit is
// refused before any write, the lease included; a rollback, a new commit reverting, goes through;
// a live commit the repository does not know (main rewritten) is refused with its own message.
import t from 'tap';
import { ExitCode } from '../../src/errors.js';
import { production, promoteFraudDetector, stage, writes } from '../helpers/stage.js';

const short = (c: string) => c.slice(0, 12);

t.test('the issue\'s reproduction: sync --rev HEAD~1 after a newer sync is refused, nothing written; a revert commit deploys', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  const newer = promoteFraudDetector(s, '2026.11.13-1');
  const synced = await s.cli('sync', '--env', 'production');
  t.equal(synced.code, 0, synced.stderr);
  const older = s.git('rev-parse', 'HEAD~1').trim();

  const before = writes(s);
  const back = await s.cli('sync', '--env', 'production', '--rev', 'HEAD~1');
  t.equal(back.code, ExitCode.targetRefused, back.stdout + back.stderr);
  t.equal(back.stderr, `production: warning: the cluster's identity is not verified: it has no ConfigMap kube-public/modelship-cluster (key name); create it with the cluster's name (deploy/cluster-identity.yaml) so sync can refuse the wrong cluster\n`
    + `production: refused: ${short(older)} is not a descendant of ${short(newer)}, the commit live in production (HTTPRoute/ml-serving/fraud-detector and 2 more); sync only moves forward; nothing was written in production\n`
    + '  a rollback is a new commit on main: git revert, or modelship rollback, then sync main\n');
  t.equal(writes(s), before, 'the stand-ins saw no write, not even the lease');
  t.same(production(s).objects.map((o) => `${o.kind} ${o.version}`), ['HTTPRoute 2026.11.13-1', 'InferenceService 2026.11.13-1'], 'still the newer version');

  // Going back the GitOps way: a new commit on main that reverts the promotion.
  s.git('revert', '--no-edit', 'HEAD');
  const revert = s.git('rev-parse', 'HEAD').trim();
  const rollback = await s.cli('sync', '--env', 'production');
  t.equal(rollback.code, 0, rollback.stdout + rollback.stderr);
  t.match(rollback.stdout, new RegExp(`production at ${short(revert)}: converged`));
  t.same(production(s).objects.map((o) => `${o.kind} ${o.version}`), ['HTTPRoute 2026.11.06-1', 'InferenceService 2026.11.06-1'], 'the revert deployed the older version');
  t.match(production(s).tasks[0]!.config, /"version":"2026\.11\.06-1"/);
});

t.test('the same commit again, and a commit that changes nothing running, still sync (descendants)', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0, 'the commit live is its own descendant');
  s.git('commit', '-q', '--allow-empty', '-m', 'docs: nothing deployed changes');
  const r = await s.cli('sync', '--env', 'production');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /no changes; 4 objects as desired/);
});

t.test('a live commit the repository does not know (main rewritten): refused, nothing written', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  const gone = promoteFraudDetector(s, '2026.11.13-1');
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  // main force-pushed past the deployed commit, which then disappears from the repository
  s.git('reset', '-q', '--hard', 'HEAD~1');
  s.git('commit', '-q', '--allow-empty', '-m', 'main rewritten');
  s.git('reflog', 'expire', '--expire=now', '--all');
  s.git('gc', '-q', '--prune=now');
  t.throws(() => s.git('cat-file', '-e', `${gone}^{commit}`), 'the deployed commit is gone from the repository');

  const before = writes(s);
  const r = await s.cli('sync', '--env', 'production');
  t.equal(r.code, ExitCode.targetRefused, r.stdout + r.stderr);
  t.equal(r.stderr.split('\n').slice(1).join('\n'),
    `production: refused: ${short(gone)}, the commit live in production (HTTPRoute/ml-serving/fraud-detector and 2 more), is not in this repository: main was rewritten (force-pushed) after it was deployed, or this clone lacks it; sync only moves forward; nothing was written in production\n`
    + `  a stale or shallow clone: git fetch --unshallow; main rewritten: make main descend from it again (git fetch it, then git merge -s ours ${short(gone)}) and sync that\n`);
  t.equal(writes(s), before, 'nothing written');
});

t.test('a live commit annotation that is not a commit id is refused, its value quoted and escaped', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  promoteFraudDetector(s, '2026.11.13-1');
  const route = s.kube.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving', 'fraud-detector')!;
  s.kube.put({ ...route, metadata: { ...route.metadata, annotations: { ...route.metadata.annotations, 'modelship.io/commit': '--all\u001b[31m' } } }, 'kubectl-edit');
  const before = writes(s);
  const r = await s.cli('sync', '--env', 'production');
  t.equal(r.code, ExitCode.targetRefused, r.stdout + r.stderr);
  t.equal(r.stderr.split('\n').slice(1).join('\n'),
    'production: refused: HTTPRoute/ml-serving/fraud-detector in production records "--all\\u001b[31m" as the commit it was deployed from, which is not a commit id; sync only moves forward; nothing was written in production\n'
    + '  an object edited by hand: fix or remove the annotation, or delete the object, and sync again\n');
  t.equal(writes(s), before, 'nothing written');
});
