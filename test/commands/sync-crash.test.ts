// Crash safety: killing the agent after its k-th write, for every k, and re-running converges to
// the same state as a sync that was never interrupted. (Its own file: it runs ~40 syncs.)
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { production, stage, writes } from '../helpers/stage.js';

/** Lease times as kube-apiserver wants them: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

t.test('killed after its k-th write, for every k, a re-run converges to the same state', async (t) => {
  const clean = await stage(t);
  t.equal((await clean.cli('sync', '--env', 'production')).code, 0);
  const reference = production(clean);
  const total = writes(clean);
  t.ok(total >= 5, `a clean sync makes ${total} writes`);
  for (let k = 1; k <= total; k++) {
    await t.test(`killed after write ${k} of ${total}`, async (t) => {
      let seen = 0;
      let child = 0;
      const s = await stage(t, { onWrite: () => { if (++seen === k && child) process.kill(child, 'SIGKILL'); } });
      const killed = await runCli(['sync', '--env', 'production', '-C', s.root], { env: s.env, onSpawn: (pid) => (child = pid) });
      t.ok(killed.signal === 'SIGKILL' || killed.code === 0, `the first run ended by SIGKILL (${killed.signal ?? killed.code})`);
      // The lease a killed agent held expires; the next agent may take it over then. Here: clear it.
      s.kube.put({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'modelship-production', namespace: 'ml-serving' }, spec: { holderIdentity: 'gone', leaseDurationSeconds: 1, renewTime: microTime(new Date(0)) } }, 'modelship');
      const rerun = await s.cli('sync', '--env', 'production');
      t.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
      t.same(production(s), reference, 'the same state as a sync that was never interrupted');
    });
  }
});
