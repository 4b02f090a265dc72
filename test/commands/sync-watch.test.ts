// `modelship sync --watch` as a user runs it (dist/cli.js in its own process): the loop keeps
// production as main says, heals a hand edit, exposes its state, and ends cleanly on SIGTERM. The
// real @kubernetes/client-node and snowflake-sdk against the stand-ins, as in sync.test.ts (split
// from it so that no test file runs long).
import t from 'tap';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../helpers/cli.js';
import { stage } from '../helpers/stage.js';

const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const freePort = () => new Promise<number>((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address() as { port: number };
    srv.close(() => resolve(port));
  });
});


t.test('--watch keeps the environment as main says, heals a hand edit, and exposes its state', async (t) => {
  const s = await stage(t);
  const port = await freePort();
  let stderr = '';
  const child = spawn(process.execPath, [cliPath, 'sync', '--env', 'production', '--watch', '--interval', '1s', '--listen', String(port), '--force-conflicts', '-C', s.root],
    { env: cleanEnv(s.env), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  const state = async () => (await fetch(`http://127.0.0.1:${port}/state`)).json() as Promise<{ iterations: number; environments?: Record<string, { converged: boolean; drift: string[] }> }>;
  const until = async (ok: (x: Awaited<ReturnType<typeof state>>) => boolean) => {
    for (let i = 0; i < 200; i++) { // up to 40 s: a loaded machine (20 s was too short once)
      try { const x = await state(); if (ok(x)) return x; } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the watch loop never got there: ${stderr}`);
  };
  await until((x) => !!x.environments?.production?.converged);
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  const isvc = s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!;
  s.kube.put({ ...isvc, spec: { ...isvc.spec, predictor: { ...isvc.spec.predictor, minReplicas: 1 } } }, 'kubectl-edit');
  const healed = await until((x) => (x.environments?.production?.drift ?? []).length > 0);
  t.match(healed.environments!.production!.drift, [/^InferenceService\/ml-serving\/fraud-detector-/]);
  t.equal(s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!.spec.predictor.minReplicas, 4, 'put back');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM ends the loop cleanly');
});
