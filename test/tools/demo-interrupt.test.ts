// `npm run demo` (tools/demo) interrupted with Ctrl-C: no process and no folder left behind. (Apart from
// demo.test.ts so that each file stays well under a minute.)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { processesMentioning, spawnDemo } from './demo-process.js';

t.test('interrupted with Ctrl-C: stops its stand-ins, removes its folder, exits 130', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'modelship-demo-test-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const dir = join(parent, 'demo');
  const demo = spawnDemo(['--dir', dir], parent);
  const child = demo.process;
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const started = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('[2/13]')) resolve(); // serve and the stand-ins run from step 1 on
  }));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await Promise.race([started, exited]);
  t.ok(processesMentioning(dir).length > 0, 'the stand-ins run while the story does');
  t.ok(processesMentioning(dir).some((l) =>/\/dist\/cli\.js serve /.test(l)), 'and modelship serve');
  child.kill('SIGINT');
  // Bounded: a demo that hangs on Ctrl-C fails here with what it said, not at tap's timeout.
  let hung: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<'hung'>((resolve) => (hung = setTimeout(() => resolve('hung'), 30_000)))]);
  clearTimeout(hung);
  if (code === 'hung') process.kill(await demo.pid, 'SIGKILL'); // the demo itself: its stand-ins and serve are tethered to it
  t.equal(code, 130, `exits 130 within 30 s of Ctrl-C; it said:\n${err}`);
  // The stand-ins are stopped before the process exits; the OS may take a moment to reap them.
  for (let waited = 0; processesMentioning(dir).length && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  t.same(processesMentioning(dir), [], 'no process left behind');
  t.notOk(existsSync(dir), 'the folder is removed');
});
