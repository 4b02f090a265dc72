import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { PinHistories } from '../../src/check/history.js';
import { pinHistory } from '../../src/adapters/git/history.js';

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

/** Puts a `git` on PATH that logs its arguments, one call a line, and runs the real one. */
function countGit(t: Test): () => string[] {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-git-log-'));
  const log = join(dir, 'calls');
  writeFileSync(log, '');
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'git'), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${real}' "$@"\n`);
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
  const searches = calls().filter((l) => l.includes('-S'));
  t.same(searches, [], 'no pickaxe search: the walk itself finds where a version appears');
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

t.test('where a version appears: exactly what git log -S says, from the walk alone', async (t) => {
  // A history with everything the pickaxe distinguishes: appearances, disappearances, a count
  // going 1 -> 2 -> 1, edits that leave the count alone, a commit that does not touch the file,
  // the file deleted and created again, and a merge whose side branch changed the file.
  const repo = makeReleaseRepo({ content: false });
  t.teardown(repo.cleanup);
  const file = (pins: Array<[string, string, string?]>) => ({
    'environments/production.yaml': `name: production\nmodels:\n${pins.map(([m, v, c]) => `  ${m}:\n    version: ${v}\n${c ? `    canary:\n      version: ${c}\n      traffic: 10\n` : ''}`).join('')}`,
  });
  const a = '2026.11.01-1';
  const b = '2026.11.05-1';
  const c = '2026.11.09-1';
  commitAt(repo, '2026-11-01T09:00:00Z', 'start', file([['m1', a], ['m2', a]]));
  commitAt(repo, '2026-11-02T09:00:00Z', 'canary', file([['m1', a, b], ['m2', a]]));
  commitAt(repo, '2026-11-03T09:00:00Z', 'same count', file([['m1', a, b], ['m2', b]]));
  commitAt(repo, '2026-11-04T09:00:00Z', 'readme', { 'README.md': 'x\n' });
  commitAt(repo, '2026-11-05T09:00:00Z', 'promote', file([['m1', b], ['m2', b]]));
  repo.git('rm', '-q', 'environments/production.yaml');
  commitAt(repo, '2026-11-06T09:00:00Z', 'delete', {});
  commitAt(repo, '2026-11-07T09:00:00Z', 'again', file([['m1', a], ['m2', b]]));
  repo.git('checkout', '-q', '-b', 'side');
  commitAt(repo, '2026-11-08T09:00:00Z', 'side 1', file([['m1', c], ['m2', b]]));
  commitAt(repo, '2026-11-08T10:00:00Z', 'side 2', file([['m1', c, a], ['m2', b]]));
  repo.git('checkout', '-q', '-');
  commitAt(repo, '2026-11-08T11:00:00Z', 'main meanwhile', { 'README.md': 'y\n' });
  execFileSync('git', ['merge', '-q', '--no-ff', '-m', 'merge side', 'side'], { cwd: repo.root, env: { ...process.env, GIT_AUTHOR_DATE: '2026-11-09T09:00:00Z', GIT_COMMITTER_DATE: '2026-11-09T09:00:00Z' } });
  commitAt(repo, '2026-11-10T09:00:00Z', 'rollback', file([['m1', b], ['m2', b]]));

  const pickaxe = (text: string, since?: string) =>
    repo.git('log', '--first-parent', '--format=%H', ...(since ? [`--since=${new Date(Date.parse(since) - 86_400_000).toISOString()}`] : []), `-S${text}`, 'HEAD', '--', 'environments/production.yaml').split('\n').filter(Boolean);
  const cases: Array<[string, string | undefined]> = [];
  for (const text of [a, b, c, '2026.12.01-1', 'version:']) for (const since of [undefined, '2026-11-03T09:00:00Z', '2026-11-06T12:00:00Z', '2026-11-09T10:00:00Z', '2026-11-20T00:00:00Z']) cases.push([text, since]);
  // Two orders: texts asked before the walk passed their commits, and after (files read again).
  for (const order of [cases, [...cases].reverse()]) {
    const histories = new PinHistories(repo.root, 'HEAD');
    try {
      for (const [text, since] of order) t.same(await histories.appearances('production', text, since), pickaxe(text, since), `${text} since ${since ?? 'ever'}`);
      // The pins read after the listing ran ahead are the ones a walk of its own reads.
      const all = await histories.timeline('production', new Map([[a, undefined]]));
      const own: string[] = [];
      for await (const x of pinHistory(repo.root, 'HEAD', 'production')) own.push(JSON.stringify(x));
      t.same(all.map((x) => JSON.stringify(x)), own, 'the same pins as pinHistory, commit by commit');
    } finally {
      await histories.close();
    }
  }
});
