// The bin enables Node's compile cache (src/cli.ts): in $XDG_CACHE_HOME/modelship/compile-cache
// when that is set, else ~/.cache/modelship, never in the shared temp directory; a directory that
// cannot be written leaves the cache off, not the command.

import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { spawnCli } from './helpers/cli.js';

function tempDir(teardown: (f: () => void) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-cc-'));
  teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('the compile cache is written under $XDG_CACHE_HOME/modelship', async (t) => {
  const xdg = tempDir((f) => t.teardown(f));
  const r = await spawnCli(['validate'], { env: { XDG_CACHE_HOME: xdg, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined } });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'working tree: 12 files valid\n');
  const dir = join(xdg, 'modelship', 'compile-cache');
  t.ok(existsSync(dir) && readdirSync(dir).length > 0, `cache written in ${dir}`);
});

t.test('a cache directory that cannot be written: the command runs as before', async (t) => {
  const xdg = tempDir((f) => t.teardown(f));
  // a file where the directory should be: mkdir fails whoever runs the test (root included)
  writeFileSync(join(xdg, 'modelship'), 'not a directory');
  chmodSync(join(xdg, 'modelship'), 0o444);
  const r = await spawnCli(['validate'], { env: { XDG_CACHE_HOME: xdg, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined } });
  t.equal(r.code, 0);
  t.equal(r.stdout, 'working tree: 12 files valid\n');
  t.equal(r.stderr, '');
});

t.test('without XDG_CACHE_HOME: ~/.cache/modelship; with no home either: no cache, and nothing in the shared temp directory', async (t) => {
  const home = tempDir((f) => t.teardown(f));
  const r = await spawnCli(['validate'], { env: { HOME: home, XDG_CACHE_HOME: undefined, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined } });
  t.equal(r.code, 0, r.stderr);
  const dir = join(home, '.cache', 'modelship', 'compile-cache');
  t.ok(existsSync(dir) && readdirSync(dir).length > 0, `cache written in ${dir}`);
  const shared = tempDir((f) => t.teardown(f));
  const none = await spawnCli(['validate'], { env: { HOME: undefined, XDG_CACHE_HOME: undefined, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined, TMPDIR: shared } });
  t.equal(none.code, 0, none.stderr);
  t.equal(none.stdout, 'working tree: 12 files valid\n');
  t.same(readdirSync(shared).filter((f) => f.includes('compile-cache')), [], 'node\'s default under the temp directory is not used');
});

t.test('worker threads use the same cache: the bin hands its directory on in NODE_COMPILE_CACHE', async (t) => {
  const xdg = tempDir((f) => t.teardown(f));
  const dir = join(xdg, 'modelship', 'compile-cache');
  // Node: a worker thread does not share the cache enabled by module.enableCompileCache, but one
  // started with NODE_COMPILE_CACHE in its environment (the default: a copy of process.env) uses it
  const { Worker } = await import('node:worker_threads');
  const seen = await new Promise<string>((resolve, reject) => {
    const w = new Worker("const m = require('node:module'); require('node:worker_threads').parentPort.postMessage(String(m.getCompileCacheDir?.()))",
      { eval: true, env: { ...process.env, NODE_COMPILE_CACHE: dir } });
    w.once('message', resolve);
    w.once('error', reject);
  });
  t.ok(seen.startsWith(dir), `a worker started with NODE_COMPILE_CACHE caches in ${dir} (${seen})`);
  // the bin's own environment when the command has run (what its workers get)
  const probe = join(xdg, 'probe.mjs');
  writeFileSync(probe, "process.on('exit', () => process.stderr.write(`NODE_COMPILE_CACHE=${process.env.NODE_COMPILE_CACHE}\\n`));\n");
  const r = await spawnCli(['validate'], { env: { XDG_CACHE_HOME: xdg, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined, NODE_OPTIONS: `--import=${pathToFileURL(probe).href}` } });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, `NODE_COMPILE_CACHE=${dir}\n`);
  const off = await spawnCli(['validate'], { env: { XDG_CACHE_HOME: xdg, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: '1', NODE_OPTIONS: `--import=${pathToFileURL(probe).href}` } });
  t.equal(off.stderr, 'NODE_COMPILE_CACHE=undefined\n', 'cache off (NODE_DISABLE_COMPILE_CACHE=1): nothing handed on');
});
