// What check reads of the version manifests: those the environments pin and those the change adds
// or edits, never the others (a repository keeps every version ever registered); and what it
// keeps of them for the next run (the validate cache).
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeReleaseRepo } from '../helpers/repo.js';
import { checkChange, runCache } from '../../src/check/flow.js';
import { openValidateCache } from '../../src/config/validate-cache.js';

const broken = 'models/fraud-detector/versions/2026.01.01-1.yaml';
const at = new Date('2026-11-20T10:00:00Z');

/** The example repository with a broken manifest of a version pinned nowhere, committed on main. */
function repoWithBrokenManifest(t: Test) {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const commit = (message: string, files: Record<string, string>) => {
    for (const [path, text] of Object.entries(files)) writeFileSync(join(repo.root, path), text);
    execFileSync('git', ['add', '-A'], { cwd: repo.root });
    execFileSync('git', ['commit', '-q', '-m', message], { cwd: repo.root });
  };
  commit('an old manifest nobody pins', { [broken]: 'model: [fraud-detector\n' });
  return { repo, commit };
}

t.test('a manifest the change does not touch and nobody pins is not read', async (t) => {
  const { repo, commit } = repoWithBrokenManifest(t);
  repo.git('checkout', '-q', '-b', 'docs');
  commit('docs', { 'README.md': 'release repository\n' });
  const report = await checkChange({ root: repo.root, base: 'main', head: 'docs', at });
  t.not(report.verdict, 'invalid', JSON.stringify(report.problems));
  t.notOk(report.problems?.some((p) => p.file === broken), 'the broken manifest is never parsed');
});

t.test('a manifest the change edits is validated though nobody pins it', async (t) => {
  const { repo, commit } = repoWithBrokenManifest(t);
  repo.git('checkout', '-q', '-b', 'edit');
  commit('touch the old manifest', { [broken]: 'model: [fraud-detector, again\n' });
  const report = await checkChange({ root: repo.root, base: 'main', head: 'edit', at });
  t.equal(report.verdict, 'invalid');
  t.match(report.headline, /does not validate: 1 problem; no gate ran/);
  t.same(report.problems?.filter((p) => p.severity === 'error').map((p) => p.file), [broken]);
});

t.test('a manifest the change adds is validated though nobody pins it', async (t) => {
  const { repo, commit } = repoWithBrokenManifest(t);
  repo.git('checkout', '-q', '-b', 'add');
  const added = 'models/fraud-detector/versions/2026.12.01-1.yaml';
  commit('register a version by hand', { [added]: 'model: fraud-detector\nversion: 2026.12.01-1\n' });
  const report = await checkChange({ root: repo.root, base: 'main', head: 'add', at });
  t.equal(report.verdict, 'invalid');
  const errors = report.problems?.filter((p) => p.severity === 'error') ?? [];
  t.ok(errors.length > 0 && errors.every((p) => p.file === added), 'every error is in the added manifest');
  t.match(errors[0], { file: added, path: 'registeredAt', message: 'missing required key "registeredAt"' });
  t.notOk(report.problems?.some((p) => p.file === broken), 'the untouched broken one is still not read');
});

t.test('check keeps the manifests it validated in the repository cache (only those), and a warm run reports the same', async (t) => {
  const { repo, commit } = repoWithBrokenManifest(t);
  repo.git('checkout', '-q', '-b', 'docs');
  commit('docs', { 'README.md': 'release repository\n' });
  const file = join(repo.root, '.git', 'modelship', 'validate-cache');
  t.notOk(existsSync(file), 'no cache before');
  const first = await checkChange({ root: repo.root, base: 'main', head: 'docs', at });
  const cached = readFileSync(file, 'utf8');
  // The example repository's environments pin these (each version string is one model's).
  const envs = repo.git('ls-tree', '-r', '--name-only', 'main', 'environments/').split('\n').filter(Boolean).map((e) => repo.git('show', `main:${e}`)).join('\n');
  const manifests = repo.git('ls-tree', '-r', '--name-only', 'main', 'models/').split('\n').filter((p) => /\/versions\/.+\.yaml$/.test(p));
  const isPinned = (p: string) => new RegExp(`version: ${p.split('/').at(-1)!.replace('.yaml', '').replace(/\./g, '\\.')}\\b`).test(envs);
  t.ok(manifests.some(isPinned) && manifests.some((p) => !isPinned(p)), 'some manifests pinned, some not');
  for (const p of manifests) {
    const sha = createHash('sha256').update(execFileSync('git', ['show', `main:${p}`], { cwd: repo.root })).digest('hex');
    t.equal(cached.includes(`["${sha}",`), isPinned(p), `${p} ${isPinned(p) ? 'is' : 'is not'} in the cache (${isPinned(p) ? 'pinned' : 'not read'})`);
  }
  const second = await checkChange({ root: repo.root, base: 'main', head: 'docs', at });
  t.same(second, first, 'a warm run reports the same');
});

t.test('one run: the memory answers first, the disk cache answers what earlier runs saved, what is learnt goes to both', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-run-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'validate-cache');
  const earlier = openValidateCache(path, 'id');
  earlier.put('a'.repeat(64), { from: 'disk' });
  earlier.save();
  const disk = openValidateCache(path, 'id');
  const run = runCache(disk);
  t.same(run.get('a'.repeat(64)), { from: 'disk' }, 'from the disk');
  t.equal(run.get('b'.repeat(64)), undefined, 'unknown: undefined');
  run.put('b'.repeat(64), { from: 'run' });
  t.same(run.get('b'.repeat(64)), { from: 'run' }, 'learnt in this run: from memory (the disk cache answers only from earlier runs)');
  t.same([run.stats.hits, run.stats.misses, run.stats.added], [2, 1, 1]);
  run.save();
  t.equal(run.stats.written, true, 'saved to disk');
  const later = openValidateCache(path, 'id');
  t.same([later.get('a'.repeat(64)), later.get('b'.repeat(64))], [{ from: 'disk' }, { from: 'run' }], 'both kept for the next run');
  const alone = runCache();
  alone.put('c'.repeat(64), 1);
  alone.save();
  t.same([alone.get('c'.repeat(64)), alone.stats.written, alone.file], [1, false, ''], 'no disk cache: memory only');
});
