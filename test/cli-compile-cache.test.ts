// The bin enables Node's compile cache (src/cli.ts): in $XDG_CACHE_HOME/modelship/compile-cache
// when that is set, else ~/.cache/modelship, never in the shared temp directory; a directory that
// cannot be written leaves the cache off, not the command.

import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
