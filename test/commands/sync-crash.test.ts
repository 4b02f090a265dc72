// Crash safety: an agent that dies after its k-th write, for every k, followed by a re-run,
// converges to the same state as a sync that was never interrupted.
//
// Each k runs in-process: at the k-th write the stand-ins take that write and then answer nothing
// else the dead agent sends (Kubernetes: 403, which no client retries; Snowflake: an access error),
// so the systems hold exactly what a SIGKILL at that moment would leave. One case kills a real
// `modelship sync` process with SIGKILL, to show the simulation and the real thing agree.
import t from 'tap';
import { runCli, spawnCli } from '../helpers/cli.js';
import { applied, production, stage, writes, type Stage } from '../helpers/stage.js';

/** Lease times as kube-apiserver wants them: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** The lease a dead agent held expires; the next agent may take it over then. Here: clear it. */
const expireLease = (s: Stage) => s.kube.put({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'modelship-production', namespace: 'ml-serving' }, spec: { holderIdentity: 'gone', leaseDurationSeconds: 1, renewTime: microTime(new Date(0)) } }, 'modelship');

// Every stage's repository is a copy of one built once (makeReleaseRepo's reuse): what is compared
// is what the systems hold, not when the repository's first commit was made.
t.test('killed after its k-th write, for every k, a re-run converges to the same state', async (t) => {
  const clean = await stage(t, { reuse: true });
  t.equal((await clean.cli('sync', '--env', 'production')).code, 0);
  const reference = production(clean);
  const total = writes(clean);
  t.ok(total >= 5, `a clean sync makes ${total} writes`);
  for (let k = 1; k <= total; k++) {
    await t.test(`dead after write ${k} of ${total}`, async (t) => {
      let seen = 0;
      let dead = false;
      const s = await stage(t, {
        onWrite: () => { if (++seen === k) dead = true; },
        refuse: () => dead,
        reuse: true,
      });
      // (A dead agent does nothing more; this one, refused everything, gives up waiting soon.)
      const first = await runCli(['sync', '--env', 'production', '--ready-timeout', '1s', '-C', s.root], { env: s.env });
      t.equal(applied(s), k, `the systems took exactly ${k} write(s) from the agent that died (exit ${first.code})`);
      dead = false;
      expireLease(s);
      const rerun = await s.cli('sync', '--env', 'production');
      t.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
      t.same(production(s), reference, 'the same state as a sync that was never interrupted');
    });
  }
});

t.test('a real agent process killed with SIGKILL in the middle of a sync: the re-run converges', async (t) => {
  const clean = await stage(t, { reuse: true });
  t.equal((await clean.cli('sync', '--env', 'production')).code, 0);
  const reference = production(clean);
  const k = Math.ceil(writes(clean) / 2);
  let seen = 0;
  let child = 0;
  const s = await stage(t, { onWrite: () => { if (++seen === k && child) process.kill(child, 'SIGKILL'); }, reuse: true });
  const killed = await spawnCli(['sync', '--env', 'production', '-C', s.root], { env: s.env, onSpawn: (pid) => (child = pid) });
  t.equal(killed.signal, 'SIGKILL', `the first run ended by SIGKILL after write ${k}`);
  expireLease(s);
  const rerun = await s.cli('sync', '--env', 'production');
  t.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
  t.same(production(s), reference, 'the same state as a sync that was never interrupted');
});
