import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { PinHistories, prefetchChangedPins } from '../../src/check/history.js';
import { checkChange } from '../../src/check/flow.js';

// Production's history in November: 11.01-1 stable, 11.05-1 promoted, then rolled back to
// 11.01-1 (which holds 11.05-1 there). The check run asks all three questions of it — rollback
// detection, the soak timeline, the holds — and git walks the file once.

const v1 = '2026.11.01-1';
const v2 = '2026.11.05-1';
const production = (version: string) => ({ 'environments/production.yaml': `name: production\nmodels:\n  fraud-detector:\n    version: ${version}\n` });

function commitAt(repo: TestRepo, iso: string, message: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(repo.root, path, '..'), { recursive: true });
    writeFileSync(join(repo.root, path), text);
  }
  const env = { ...process.env, GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso };
  execFileSync('git', ['add', '-A'], { cwd: repo.root, env });
  execFileSync('git', ['commit', '-q', '--allow-empty', '-m', message], { cwd: repo.root, env });
  return repo.git('rev-parse', 'HEAD').trim();
}

function novemberRepo(t: Test) {
  const repo = makeReleaseRepo({ content: false });
  t.teardown(repo.cleanup);
  const c = {
    start: commitAt(repo, '2026-11-01T09:00:00Z', 'production starts', production(v1)),
    promote: commitAt(repo, '2026-11-05T09:00:00Z', `promote ${v2}`, production(v2)),
    other: commitAt(repo, '2026-11-06T09:00:00Z', 'README', { 'README.md': 'hello\n' }),
    rollback: commitAt(repo, '2026-11-08T09:00:00Z', `Revert "promote ${v2}"`, production(v1)),
  };
  return { repo, c };
}

/**
 * Puts a `git` on PATH that logs its arguments, one call a line (with `stdinOf`, what the calls
 * with those first two arguments are asked on standard input instead), and runs the real one.
 */
function countGit(t: Test, stdinOf?: string): () => string[] {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-git-log-'));
  const log = join(dir, 'calls');
  writeFileSync(log, '');
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const run = stdinOf
    ? `if [ "$1 $2" = '${stdinOf}' ]; then tee -a '${log}' | '${real}' "$@"; else exec '${real}' "$@"; fi`
    : `echo "$*" >> '${log}'\nexec '${real}' "$@"`;
  writeFileSync(join(dir, 'git'), `#!/bin/sh\n${run}\n`);
  chmodSync(join(dir, 'git'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir}:${path}`;
  t.teardown(() => {
    process.env.PATH = path;
    rmSync(dir, { recursive: true, force: true });
  });
  return () => readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

t.test('rollback detection, the soak timeline and the holds share one walk of the environment', async (t) => {
  const { repo, c } = novemberRepo(t);
  const calls = countGit(t);
  const histories = new PinHistories(repo.root, 'HEAD');
  try {
    t.equal(await histories.wasStableBefore('production', 'fraud-detector', v1), true, `${v1} was stable before: a return to it is a rollback`);
    t.equal(await histories.wasStableBefore('production', 'fraud-detector', '2026.11.09-1'), false, 'a version never there was never stable');
    const timeline = await histories.timeline('production', new Map([[v2, undefined]]));
    t.same(timeline.map((e) => e.commit), [c.rollback, c.promote], 'back to where the version first appeared');
    const holds = await histories.holds('production', 'fraud-detector', v2);
    t.same(holds.map((h) => [h.version, h.commit, h.how]), [[v2, c.rollback, 'rollback']], `${v2} is held since the rollback`);
    const [again] = await Promise.all([
      histories.timeline('production', new Map([[v1, undefined]])),
      histories.holds('production', 'fraud-detector', v1),
    ]);
    t.same(again.map((e) => e.commit), [c.rollback, c.promote, c.start], 'a deeper question reads on from where the walk stopped');
  } finally {
    await histories.close();
  }
  const walks = calls().filter((l) => l.startsWith('log ') && l.includes(':(literal)environments/production.yaml'));
  t.equal(walks.length, 1, `one walk of production's history: ${walks.join(' | ')}`);
  const searches = calls().filter((l) => l.includes(`-S${v1}`));
  t.equal(searches.length, 1, `one search for ${v1}, whoever asks`);
});

t.test('a version never in the file: the newest state only', async (t) => {
  const { repo, c } = novemberRepo(t);
  const histories = new PinHistories(repo.root, 'HEAD');
  t.teardown(() => histories.close());
  const timeline = await histories.timeline('production', new Map([['2026.11.09-1', undefined]]));
  t.same(timeline.map((e) => e.commit), [c.rollback]);
  t.same(await histories.holds('production', 'fraud-detector', '2026.11.09-1'), []);
});

t.test('the registration time bounds the search', async (t) => {
  const { repo, c } = novemberRepo(t);
  const histories = new PinHistories(repo.root, 'HEAD');
  t.teardown(() => histories.close());
  // Registered on the 7th: git searches from the 6th on and finds only the rollback.
  t.equal(await histories.wasStableBefore('production', 'fraud-detector', v1, '2026-11-07T09:00:00Z'), true);
  const timeline = await histories.timeline('production', new Map([[v1, '2026-11-07T09:00:00Z']]));
  t.same(timeline.map((e) => e.commit), [c.rollback], 'the walk stops at the newest appearance after the bound');
});

/** The example repository with a branch `name` whose one commit edits environments/production.yaml. */
function branchEditing(t: Test, name: string, edit: (text: string) => string) {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const main = repo.git('rev-parse', 'HEAD').trim();
  repo.git('checkout', '-q', '-b', name);
  const file = join(repo.root, 'environments/production.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  repo.git('commit', '-q', '-am', `${name}: edit production`);
  return { repo, main, head: repo.git('rev-parse', 'HEAD').trim() };
}

t.test('check starts the searches a promotion needs from the raw files, before loading them, and each runs once', async (t) => {
  // Promote the version staging runs (2026.11.13-1) to production, on a branch.
  const { repo, main, head } = branchEditing(t, 'promote', (text) => text.replace('version: 2026.11.06-1', 'version: 2026.11.13-1'));
  const calls = countGit(t);
  const searches = () => calls().filter((l) => l.includes('-S2026.11.13-1'));

  // The guess alone: production (rollback detection, holds) and staging (soak: production promotes from it).
  const histories = new PinHistories(repo.root, main);
  const guessed = await prefetchChangedPins(histories, repo.root, { forkPoint: main, base: main, head }, ['environments/production.yaml']);
  await Promise.all(guessed.searches);
  t.same(searches().map((l) => l.split(' ').at(-1)).sort(), ['environments/production.yaml', 'environments/staging.yaml'], 'both started');
  t.notOk(calls().some((l) => l.startsWith('ls-tree')), 'from the raw files: nothing listed, nothing loaded');
  await histories.close();

  // A whole run: the gates ask for the same searches, and git runs each once.
  const before = searches().length;
  const report = await checkChange({ root: repo.root, base: 'main', head: 'promote', at: new Date('2026-11-20T10:00:00Z') });
  t.equal(report.changes[0]?.change.kind, 'promote');
  t.equal(searches().length - before, 2, `once each: ${searches().slice(before).join(' | ')}`);
});

t.test('the guess never reads a file over the size limit whole (a pull request may add one)', async (t) => {
  const { repo, main, head } = branchEditing(t, 'huge', (text) => `${text}# ${'x'.repeat(1_100_000)}\n`);
  // A git that logs what `cat-file --batch` is asked for (its standard input), then answers as usual.
  const asked = countGit(t, 'cat-file --batch');
  const histories = new PinHistories(repo.root, main);
  t.teardown(() => histories.close());
  const guessed = await prefetchChangedPins(histories, repo.root, { forkPoint: main, base: main, head }, ['environments/production.yaml']);
  t.same(guessed.searches, [], 'nothing to guess from');
  t.ok(asked().includes(`${main}:environments/production.yaml`), 'the base\'s file is read');
  t.notOk(asked().includes(`${head}:environments/production.yaml`), 'the head\'s, over 1 MiB, is not');
});
