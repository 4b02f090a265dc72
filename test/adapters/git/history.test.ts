import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeReleaseRepo, type TestRepo } from '../../helpers/repo.js';
import { pinHistory } from '../../../src/adapters/git/history.js';
import type { Pin, PinCommit } from '../../../src/model/pins.js';
import { soakGate } from '../../../src/gates/soak.js';
import { ExternalError, UsageError } from '../../../src/errors.js';

// Real repositories whose commits carry the dates of a release timeline, so what git says about
// "when" is what a production repository would say.

function envFile(name: string, pins: Record<string, Pin>): string {
  const lines = [`name: ${name}`, 'models:'];
  for (const [model, p] of Object.entries(pins)) {
    lines.push(`  ${model}:`, `    version: ${p.version}`);
    if (p.canary) lines.push(`    canary: { version: ${p.canary.version}, traffic: ${p.canary.traffic} }`);
    if (p.shadow) lines.push(`    shadow: { version: ${p.shadow.version} }`);
  }
  return lines.join('\n') + '\n';
}

/** Commits `files` (null deletes) on the checked-out branch with author and committer time `iso`. */
function commitAt(repo: TestRepo, iso: string, message: string, files: Record<string, string | null>): string {
  for (const [path, text] of Object.entries(files)) {
    const file = join(repo.root, path);
    if (text === null) rmSync(file);
    else {
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, text);
    }
  }
  const env = { ...process.env, GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso };
  execFileSync('git', ['add', '-A'], { cwd: repo.root, env });
  execFileSync('git', ['commit', '-q', '--allow-empty', '-m', message], { cwd: repo.root, env });
  return repo.git('rev-parse', 'HEAD').trim();
}

function mergeAt(repo: TestRepo, iso: string, branch: string, message: string): string {
  const env = { ...process.env, GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso };
  execFileSync('git', ['merge', '-q', '--no-ff', '-m', message, branch], { cwd: repo.root, env });
  return repo.git('rev-parse', 'HEAD').trim();
}

async function collect(it: AsyncIterable<PinCommit>): Promise<PinCommit[]> {
  const out: PinCommit[] = [];
  for await (const c of it) out.push(c);
  return out;
}

const chargeback = { 'chargeback-risk': { version: '2026.11.01-1' } };
const staging = (fraud: Pin) => ({ 'environments/staging.yaml': envFile('staging', { 'fraud-detector': fraud, ...chargeback }) });

/** AcmeRisk's staging history in November, with unrelated commits in between. */
function novemberRepo(t: Test) {
  const repo = makeReleaseRepo({ content: false });
  t.teardown(repo.cleanup);
  const c: Record<string, string> = {};
  c.start = commitAt(repo, '2026-11-01T09:00:00Z', 'AcmeRisk release repository', {
    ...staging({ version: '2026.11.06-1' }),
    'environments/production.yaml': envFile('production', { 'fraud-detector': { version: '2026.10.30-1' } }),
  });
  c.production = commitAt(repo, '2026-11-10T09:00:00Z', 'promote(production): fraud-detector 2026.10.30-1 → 2026.11.06-1',
    { 'environments/production.yaml': envFile('production', { 'fraud-detector': { version: '2026.11.06-1' } }) });
  c.canary = commitAt(repo, '2026-11-13T12:00:00Z',
    'canary(staging): fraud-detector 2026.11.13-1 at 10% beside 2026.11.06-1\n\nStart a canary.\n\nModelship-Environment: staging\nModelship-Version: 2026.11.13-1\nModelship-Change: canary-start\nCo-authored-by: Ada <ada@acmerisk.example>\nCo-authored-by: Grace <grace@acmerisk.example>',
    staging({ version: '2026.11.06-1', canary: { version: '2026.11.13-1', traffic: 10 } }));
  c.readme = commitAt(repo, '2026-11-14T08:00:00Z', 'docs: résumé of the release process', { 'README.md': '# release\n' });
  c.promote = commitAt(repo, '2026-11-15T10:00:00Z', 'promote(staging): fraud-detector 2026.11.06-1 → 2026.11.13-1 (canary complete)',
    staging({ version: '2026.11.13-1' }));
  return { repo, c };
}

t.test('lists the first-parent commits that changed the file, newest first, with their pins', async (t) => {
  const { repo, c } = novemberRepo(t);
  const history = await collect(pinHistory(repo.root, 'main', 'staging'));
  t.same(history.map((h) => h.commit), [c.promote, c.canary, c.start], 'production-only and README commits are not in staging\'s history');
  const [promote, canary, start] = history as [PinCommit, PinCommit, PinCommit];
  t.equal(promote.at.toISOString(), '2026-11-15T10:00:00.000Z');
  t.equal(promote.subject, 'promote(staging): fraud-detector 2026.11.06-1 → 2026.11.13-1 (canary complete)');
  t.same(promote.pins, { 'fraud-detector': { version: '2026.11.13-1' }, 'chargeback-risk': { version: '2026.11.01-1' } });
  t.same(canary.pins!['fraud-detector'], { version: '2026.11.06-1', canary: { version: '2026.11.13-1', traffic: 10 } });
  t.same(canary.trailers, {
    'Modelship-Environment': ['staging'], 'Modelship-Version': ['2026.11.13-1'], 'Modelship-Change': ['canary-start'],
    'Co-authored-by': ['Ada <ada@acmerisk.example>', 'Grace <grace@acmerisk.example>'],
  });
  t.same(start.trailers, {});
  t.equal(start.at.toISOString(), '2026-11-01T09:00:00.000Z');

  const production = await collect(pinHistory(repo.root, c.production!, 'production'));
  t.same(production.map((h) => h.commit), [c.production, c.start], 'any revision, any environment');
});

t.test('a merge on main stands for what its side branch did: first-parent history', async (t) => {
  const { repo, c } = novemberRepo(t);
  repo.git('checkout', '-q', '-b', 'promote/staging/fraud-detector-2026.11.20-1');
  const sideCanary = commitAt(repo, '2026-11-19T15:00:00Z', 'canary(staging): fraud-detector 2026.11.20-1 at 5%',
    staging({ version: '2026.11.13-1', canary: { version: '2026.11.20-1', traffic: 5 } }));
  const sidePromote = commitAt(repo, '2026-11-19T16:00:00Z', 'promote(staging): fraud-detector 2026.11.13-1 → 2026.11.20-1',
    staging({ version: '2026.11.20-1' }));
  repo.git('checkout', '-q', 'main');
  const unrelated = commitAt(repo, '2026-11-19T17:00:00Z', 'production: raise replicas',
    { 'environments/production.yaml': envFile('production', { 'fraud-detector': { version: '2026.11.06-1' } }) + '# replicas\n' });
  const merge = mergeAt(repo, '2026-11-20T10:00:00Z', 'promote/staging/fraud-detector-2026.11.20-1', 'Merge pull request #42 from acmerisk/promote/staging/fraud-detector-2026.11.20-1');

  const history = await collect(pinHistory(repo.root, 'main', 'staging'));
  t.same(history.map((h) => h.commit), [merge, c.promote, c.canary, c.start]);
  t.notOk(history.some((h) => h.commit === sideCanary || h.commit === sidePromote), 'the side branch\'s own commits are not on main\'s first-parent line');
  t.notOk(history.some((h) => h.commit === unrelated));
  t.equal(history[0]!.at.toISOString(), '2026-11-20T10:00:00.000Z', 'live from the merge, not from when the branch was written');
  t.same(history[0]!.pins!['fraud-detector'], { version: '2026.11.20-1' });

  // a plain git log would have listed the side commits: the difference is real in this repository
  const all = repo.git('log', '--format=%H', '--', 'environments/staging.yaml').split('\n').filter(Boolean);
  t.ok(all.includes(sideCanary) && all.includes(sidePromote));
});

t.test('a historical file that does not parse is reported, not fatal', async (t) => {
  const { repo, c } = novemberRepo(t);
  const broken = commitAt(repo, '2026-11-16T08:00:00Z', 'staging: hand edit',
    { 'environments/staging.yaml': 'name: staging\nmodels:\n  fraud-detector:\n    version: 2026.11.13-1\n   canary: [\n' });
  const fixed = commitAt(repo, '2026-11-16T09:00:00Z', 'staging: fix the hand edit', staging({ version: '2026.11.13-1' }));
  const odd = commitAt(repo, '2026-11-16T10:00:00Z', 'staging: an old layout',
    { 'environments/staging.yaml': 'name: staging\nmodels:\n  fraud-detector:\n    image: legacy\n  chargeback-risk:\n    version: 2026.11.01-1\n' });
  const history = await collect(pinHistory(repo.root, 'main', 'staging'));
  t.same(history.map((h) => h.commit), [odd, fixed, broken, c.promote, c.canary, c.start]);
  const bad = history.find((h) => h.commit === broken)!;
  t.equal(bad.pins, undefined);
  t.match(bad.note, /^environments\/staging\.yaml does not parse: .*\(line \d+, column \d+\); skipped$/);
  const partial = history.find((h) => h.commit === odd)!;
  t.same(partial.pins, { 'chargeback-risk': { version: '2026.11.01-1' } });
  t.equal(partial.note, 'environments/staging.yaml: no readable version for fraud-detector; left out');
});

t.test('a commit that deletes the file leaves no pins', async (t) => {
  const { repo } = novemberRepo(t);
  const removed = commitAt(repo, '2026-11-17T08:00:00Z', 'retire staging', { 'environments/staging.yaml': null });
  const [latest] = await collect(pinHistory(repo.root, 'main', 'staging'));
  t.equal(latest!.commit, removed);
  t.same(latest!.pins, {});
  t.equal(latest!.note, undefined);
});

t.test('the walk is lazy: a limit, or stopping early, ends it', async (t) => {
  const { repo, c } = novemberRepo(t);
  t.same((await collect(pinHistory(repo.root, 'main', 'staging', { limit: 2 }))).map((h) => h.commit), [c.promote, c.canary]);
  const walk = pinHistory(repo.root, 'main', 'staging');
  const first = await walk.next();
  t.equal((first.value as PinCommit).commit, c.promote);
  t.same(await walk.return(undefined), { done: true, value: undefined }, 'returning ends the generator (and its git processes)');
  t.same(await walk.next(), { done: true, value: undefined });
  t.same(await collect(pinHistory(repo.root, 'main', 'qa')), [], 'an environment that never existed has no history');
});

t.test('errors name the revision or the environment', async (t) => {
  const { repo } = novemberRepo(t);
  await t.rejects(collect(pinHistory(repo.root, 'no-such-branch', 'staging')), ExternalError);
  await t.rejects(collect(pinHistory(repo.root, 'main', '../secrets')), UsageError);
});

// The scenario end to end: staging's git history feeds the soak gate of a production promotion.
t.test('staging soak from git: 1 h short fails, exactly enough passes, a finished span still counts', async (t) => {
  const { repo } = novemberRepo(t);
  repo.git('checkout', '-q', '-b', 'promote/staging/fraud-detector-2026.11.20-1');
  commitAt(repo, '2026-11-19T16:00:00Z', 'promote(staging): fraud-detector 2026.11.13-1 → 2026.11.20-1', staging({ version: '2026.11.20-1' }));
  repo.git('checkout', '-q', 'main');
  mergeAt(repo, '2026-11-20T10:00:00Z', 'promote/staging/fraud-detector-2026.11.20-1', 'Merge pull request #42');
  // a canary of the next candidate beside it does not interrupt the soak
  commitAt(repo, '2026-11-21T09:00:00Z', 'canary(staging): fraud-detector 2026.11.27-1 at 10%',
    staging({ version: '2026.11.20-1', canary: { version: '2026.11.27-1', traffic: 10 } }));

  const soak = async (rev: string, now: string) => soakGate({
    candidate: '2026.11.20-1', model: 'fraud-detector', from: 'staging', to: 'production', soak: '48h', now: new Date(now),
    timeline: await collect(pinHistory(repo.root, rev, 'staging')),
  });

  const short = await soak('main', '2026-11-22T09:00:00Z');
  t.equal(short.status, 'fail');
  t.equal(short.summary, 'fraud-detector 2026.11.20-1 has been live in staging for 47h; production needs 48h (1h more; from 2026-11-20T10:00Z)');

  const enough = await soak('main', '2026-11-22T10:00:00Z');
  t.equal(enough.status, 'pass');

  // staging moves on to the next candidate after 60 h; a production PR judged later still passes
  commitAt(repo, '2026-11-22T22:00:00Z', 'promote(staging): fraud-detector 2026.11.20-1 → 2026.11.27-1', staging({ version: '2026.11.27-1' }));
  const later = await soak('main', '2026-11-25T10:00:00Z');
  t.equal(later.status, 'pass');
  t.match(later.summary, /was live in staging for 60h \(from 2026-11-20T10:00Z to 2026-11-22T22:00Z\)/);

  const never = soakGate({ candidate: '2026.11.27-1', model: 'fraud-detector', from: 'staging', to: 'production', soak: '48h',
    now: new Date('2026-11-22T12:00:00Z'), timeline: await collect(pinHistory(repo.root, 'main~1', 'staging')) });
  t.equal(never.status, 'fail');
  t.match(never.summary, /never been the stable version in staging \(it ran there only as a canary, which does not count\)/);
});
