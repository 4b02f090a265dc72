// `modelship rollback` and the held gate through the CLI, on real git histories (a bare origin and
// a clone; promotions made with `modelship promote` and merged with git), the registry in s3rver,
// and GitHub through Octokit against the stand-in. Includes a revert made by hand with `git revert`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import t, { type Test } from 'tap';
import { runCli } from '../helpers/cli.js';
import { copyReleaseRepo, makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { makeRun, seedExampleArtifacts } from '../helpers/runs.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { hours, registeredBefore } from '../helpers/clock.js';
import { startGitHub } from '../../tools/sandbox/github/server.js';

let s3: TestS3;
t.before(async () => {
  s3 = await startCheckerS3();
});
t.teardown(() => s3.stop());

const dated = (iso: string) => Object.assign(process.env, { GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });
const gate = (out: string, name: string) => new RegExp(`^  (\\w+)\\s+${name}\\s+(.*)$`, 'm').exec(out);

interface Stage { repo: TestRepo; cli: (...args: string[]) => ReturnType<typeof runCli>; merge: (iso: string, branch: string) => string }

const mergeIn = (repo: TestRepo) => (iso: string, branch: string) => {
  dated(iso);
  repo.git('checkout', '-q', 'main');
  repo.git('merge', '-q', '--no-ff', '-m', `Merge ${branch}`, branch);
  repo.git('push', '-q', 'origin', 'main');
  return repo.git('rev-parse', 'HEAD').trim();
};

// The staged history is the same for every test (fixed dates: the same commits), so it is built
// once, by the first test that asks, and each test gets its own copy of it (origin and clone):
// no test sees another's changes. The registration's artifacts are in this file's s3rver.
let staged: Promise<TestRepo> | undefined;
t.teardown(async () => (await staged?.catch(() => undefined))?.cleanup());

/** 2026.11.20-1 registered, soaked in staging and promoted to production (merged at +50h). */
async function buildStaged(t: Test): Promise<TestRepo> {
  dated(hours(-48));
  const repo = makeReleaseRepo();
  t.equal((await runCli(['register', makeRun().dir, '-C', repo.root], { env: { ...s3.env, ...registeredBefore } })).code, 0);
  for (const [at, to] of [[0, 'staging'], [50, 'production']] as const) {
    dated(hours(at));
    const p = await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', to, '-C', repo.root], { env: s3.env });
    t.equal(p.code, 0, p.stderr);
    mergeIn(repo)(hours(at), `promote/${to}/fraud-detector-2026.11.20-1`);
  }
  return repo;
}

/** A copy of the staged history for this test, the clock at +50h (where building it leaves it). */
async function stage(t: Test, env: Record<string, string> = {}): Promise<Stage> {
  staged ??= buildStaged(t);
  const repo = copyReleaseRepo(await staged);
  t.teardown(repo.cleanup);
  dated(hours(50));
  const cli = (...args: string[]) => runCli([...args, '-C', repo.root], { env: { ...s3.env, ...env } });
  return { repo, cli, merge: mergeIn(repo) };
}

const pinIn = (repo: TestRepo, rev: string) => /fraud-detector:\n\s+version: (\S+)/.exec(repo.git('show', `${rev}:environments/production.yaml`))![1];

t.test('rollback reverts the promotion on a branch; check takes the fast lane; after merge the version is held', async (t) => {
  const s = await stage(t);
  const promotion = s.repo.git('rev-parse', 'main').trim();
  dated(hours(52));
  const r = await s.cli('rollback', '--env', 'production', '--model', 'fraud-detector', '--reason', 'INC-4411: decline rate doubled');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^rollback\(production\): fraud-detector 2026\.11\.20-1 → 2026\.11\.06-1\n/);
  t.match(r.stdout, new RegExp(`  reverts  ${promotion.slice(0, 12)} Merge promote/production/fraud-detector-2026\\.11\\.20-1`));
  t.match(r.stdout, /artifact fraud-detector@2026\.11\.06-1: artifact present/);
  const branch = 'rollback/production/fraud-detector-2026.11.20-1';
  t.equal(pinIn(s.repo, branch), '2026.11.06-1');
  const message = s.repo.git('log', '-1', '--format=%B', branch);
  t.match(message, `This reverts commit ${promotion}.`, 'a real git revert of the merge');
  t.match(message, /Reason: INC-4411: decline rate doubled/);
  t.match(message, /Modelship-Change: rollback\nModelship-Rolled-Back: 2026\.11\.20-1/);
  t.equal(s.repo.git('rev-parse', `${branch}^`).trim(), promotion, 'on top of main');
  t.equal(s.repo.git('rev-parse', '--abbrev-ref', 'HEAD').trim(), 'main', 'the working tree is not switched');
  t.equal(s.repo.git('status', '--porcelain').trim(), '', 'nor touched');

  const check = await s.cli('check', '--base', 'main', '--head', branch, '--at', hours(52));
  t.equal(check.code, 0, check.stdout);
  t.match(check.stdout, /rollback production: fraud-detector 2026\.11\.20-1 → 2026\.11\.06-1 \(rollback to a version live here before\)/);
  for (const g of ['performance', 'soak', 'drift']) t.match(gate(check.stdout, g)?.[2], /not required for a rollback \(fast lane\)/);
  t.equal(gate(check.stdout, 'held')?.[1], 'pass');

  s.merge(hours(53), branch);
  dated(hours(60));
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.20-1', '--to', 'production', '--force')).code, 0);
  const again = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(60));
  t.equal(again.code, 1);
  t.match(gate(again.stdout, 'held')?.[2], /^fraud-detector 2026\.11\.20-1 was rolled back in production by [0-9a-f]{12} at 2026-11-22T15:00Z \(back to 2026\.11\.06-1\) and is held there; say why it may run again/);
  t.notMatch(again.stdout, /fast lane/, 'a return to a held version is not a rollback');
  t.equal(gate(again.stdout, 'soak')?.[1], 'pass', 'it is gated like a promotion');

  s.repo.git('checkout', '-q', 'main');
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.20-1', '--to', 'production', '--force', '--reason', 'the decline spike was a feature outage, fixed in dbt (INC-4411)')).code, 0);
  const explained = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(60));
  t.equal(gate(explained.stdout, 'held')?.[1], 'pass', explained.stdout);
  t.match(gate(explained.stdout, 'held')?.[2], /pinned again because: the decline spike was a feature outage, fixed in dbt \(INC-4411\)$/);
});

t.test('a revert made by hand with git revert is a rollback to check, and holds the version after merge', async (t) => {
  const s = await stage(t);
  dated(hours(52));
  s.repo.git('checkout', '-q', '-b', 'hand-revert');
  s.repo.git('revert', '--no-edit', '-m', '1', 'main');
  const check = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(52));
  t.equal(check.code, 0, check.stdout);
  t.match(check.stdout, /rollback production: fraud-detector 2026\.11\.20-1 → 2026\.11\.06-1/);
  t.match(gate(check.stdout, 'approvals')?.[2], /needs 1 approval/, 'the fast lane\'s approval count');

  s.merge(hours(53), 'hand-revert');
  dated(hours(54));
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.20-1', '--to', 'production', '--force')).code, 0);
  const again = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(54));
  t.equal(again.code, 1);
  t.equal(gate(again.stdout, 'held')?.[1], 'fail');

  // rollback after a hand revert: the last move is that revert; rolling it back is refused with the reason.
  s.repo.git('checkout', '-q', 'main');
  const r = await s.cli('rollback', '--env', 'production', '--model', 'fraud-detector', '--to', '2026.11.06-1');
  t.equal(r.code, 1);
  t.match(r.stderr, /already the stable version in production/);
});

t.test('refused before anything is written: a commit that is not a promotion, an artifact that is gone', async (t) => {
  const s = await stage(t);
  const file = join(s.repo.root, 'environments/production.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('replicas: { min: 4, max: 20 }', 'replicas: { min: 6, max: 20 }'));
  dated(hours(51));
  s.repo.git('commit', '-qam', 'production: more replicas for fraud-detector');
  s.repo.git('push', '-q', 'origin', 'main');
  const replicas = s.repo.git('rev-parse', 'HEAD').trim();
  const before = s.repo.git('for-each-ref').trim();
  const remote = s.repo.git('ls-remote', 'origin').trim();

  const r = await s.cli('rollback', '--commit', replicas);
  t.equal(r.code, 2);
  t.match(r.stderr, new RegExp(`error: ${replicas.slice(0, 12)} "production: more replicas for fraud-detector" is not a promotion: it moves no model's pin \\(it changes environments/production\\.yaml\\); nothing was changed`));
  const policy = await s.cli('rollback', '--commit', 'main~1', '--env', 'production');
  t.equal(policy.code, 0, 'the merge of the promotion is one');
  s.repo.git('branch', '-D', 'rollback/production/fraud-detector-2026.11.20-1');
  t.equal(s.repo.git('for-each-ref').trim(), before, 'no branch, no ref written by the refusals');

  t.teardown(() => seedExampleArtifacts(s3.env));
  await s3.client.send(new DeleteObjectCommand({ Bucket: 'acme-model-registry', Key: artifactKey(s.repo, '2026.11.06-1') }));
  const gone = await s.cli('rollback', '--env', 'production', '--model', 'fraud-detector');
  t.equal(gone.code, 1);
  t.match(gone.stderr, /error: cannot roll back to fraud-detector@2026\.11\.06-1: s3:\/\/acme-model-registry\/.* does not exist in the registry; nothing was changed/);
  t.match(gone.stderr, /hint: its artifact must be in the registry/);
  t.equal(s.repo.git('for-each-ref').trim(), before, 'nothing written');
  t.equal(s.repo.git('ls-remote', 'origin').trim(), remote, 'nothing pushed');
});

function artifactKey(repo: TestRepo, version: string): string {
  const uri = /uri: (s3:\/\/\S+)/.exec(repo.git('show', `main:models/fraud-detector/versions/${version}.yaml`))![1]!;
  return uri.replace('s3://acme-model-registry/', '');
}

async function withGitHub(t: Test, teams: Record<string, string[]>, userTokens?: Record<string, string>) {
  const gh = await startGitHub({ owner: 'acmerisk', repo: 'model-releases', token: 'ghs_oncall', teams, ...(userTokens ? { userTokens } : {}) });
  t.teardown(() => gh.stop());
  return { gh, env: { GITHUB_TOKEN: 'ghs_oncall', GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acmerisk/model-releases' } };
}

t.test('--open-pr twice: one pull request, updated', async (t) => {
  const { gh, env } = await withGitHub(t, { '@acmerisk/fraud-ml-leads': ['lena'], '@acmerisk/model-risk': ['omar'] });
  const s = await stage(t, env);
  dated(hours(52));
  const first = await s.cli('rollback', '--env', 'production', '--model', 'fraud-detector', '--open-pr');
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /pull request #1 opened/);
  const second = await s.cli('rollback', '--env', 'production', '--model', 'fraud-detector', '--open-pr', '--reason', 'still bad');
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, /pull request #1 updated/);
  t.equal(gh.state.pulls().length, 1);
  const pr = gh.state.pull(1)!;
  t.equal(pr.title, 'rollback(production): fraud-detector 2026.11.20-1 → 2026.11.06-1');
  t.equal(pr.pull.headRef, 'rollback/production/fraud-detector-2026.11.20-1');
  t.match(pr.body, /\*\*Reason:\*\* still bad/);
  t.match(pr.body, /2026\.11\.20-1 is \*\*held\*\* in production/);
  t.equal(s.repo.git('ls-remote', '--heads', 'origin', pr.pull.headRef).split('\t')[0], s.repo.git('rev-parse', pr.pull.headRef).trim());
});

t.test('break glass: refused where the policy forbids it and for someone outside its teams; otherwise pushed to main with the trailer and a review issue', async (t) => {
  const { gh, env } = await withGitHub(t, { '@acmerisk/ml-oncall': ['omar'] });
  const s = await stage(t, env);
  const origin = () => s.repo.git('ls-remote', 'origin', 'refs/heads/main').split('\t')[0]!;
  const tip = origin();
  dated(hours(52));
  const args = ['rollback', '--env', 'production', '--model', 'fraud-detector', '--break-glass', '--reason', 'fraud losses spiking'];

  const noToken = await runCli([...args, '-C', s.repo.root], { env: { ...s3.env, GITHUB_ACTOR: 'omar' } });
  t.equal(noToken.code, 2);
  t.match(noToken.stderr, /--break-glass needs GITHUB_TOKEN/);

  const stranger = await runCli([...args, '-C', s.repo.root], { env: { ...s3.env, ...env, GITHUB_ACTOR: 'mallory' } });
  t.equal(stranger.code, 1);
  t.match(stranger.stderr, /error: mallory may not break glass in production: not a member of @acmerisk\/ml-oncall; nothing was pushed/);
  t.equal(origin(), tip, 'nothing pushed');
  t.equal([...gh.state.issues.values()].filter((i) => !i.pull).length, 0, 'no issue');

  const ok = await runCli([...args, '-C', s.repo.root], { env: { ...s3.env, ...env, GITHUB_ACTOR: 'omar' } });
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /pushed to main/);
  t.match(ok.stdout, /review issue #1 opened/);
  t.not(origin(), tip);
  const message = s.repo.git('log', '-1', '--format=%B', origin());
  t.match(message, /\nBreak-Glass: fraud losses spiking\n/);
  t.equal(s.repo.git('log', '-1', '--format=%(trailers:key=Break-Glass,valueonly)', origin()).trim(), 'fraud losses spiking', 'git reads it as a trailer');
  t.equal(pinIn(s.repo, origin()), '2026.11.06-1');
  const issue = gh.requests.find((q) => q.operationId === 'issues/create')!;
  t.match((issue.body as { title: string }).title, /^Review break-glass rollback in production: fraud-detector 2026\.11\.20-1 → 2026\.11\.06-1 by 2026-11-23T14:00Z$/);
  t.match((issue.body as { body: string }).body, /review within 24h/);

  // The policy on main now forbids it.
  const policyFile = join(s.repo.root, 'policies/production.yaml');
  s.repo.git('pull', '-q', 'origin', 'main');
  writeFileSync(policyFile, readFileSync(policyFile, 'utf8').replace('allowed: true', 'allowed: false'));
  s.repo.git('commit', '-qam', 'production: no break glass');
  s.repo.git('push', '-q', 'origin', 'main');
  const forbidden = await runCli(['rollback', '--env', 'staging', '--model', 'fraud-detector', '--break-glass', '--reason', 'x', '-C', s.repo.root], { env: { ...s3.env, ...env, GITHUB_ACTOR: 'omar' } });
  const forbiddenProd = await runCli([...args, '-C', s.repo.root], { env: { ...s3.env, ...env, GITHUB_ACTOR: 'omar' } });
  t.equal(forbiddenProd.code, 1);
  t.match(forbiddenProd.stderr, /error: break glass is not allowed in production: policies\/production\.yaml sets rollback\.breakGlass\.allowed: false; nothing was pushed/);
  t.equal(forbidden.code, 1, forbidden.stderr);
  t.match(forbidden.stderr, /break glass is not allowed in staging/);
  t.equal(origin(), s.repo.git('rev-parse', 'main').trim(), 'nothing pushed after the policy change');
});

t.test('break glass as whom the token belongs to: a GITHUB_ACTOR naming someone else is refused; a person\'s token needs none', async (t) => {
  const { gh, env } = await withGitHub(t, { '@acmerisk/ml-oncall': ['omar'] }, { ghp_mallory: 'mallory', ghp_omar: 'omar' });
  const s = await stage(t, env);
  const origin = () => s.repo.git('ls-remote', 'origin', 'refs/heads/main').split('\t')[0]!;
  const tip = origin();
  dated(hours(52));
  const args = ['rollback', '--env', 'production', '--model', 'fraud-detector', '--break-glass', '--reason', 'fraud losses spiking', '-C', s.repo.root];

  const impostor = await runCli(args, { env: { ...s3.env, ...env, GITHUB_TOKEN: 'ghp_mallory', GITHUB_ACTOR: 'omar' } });
  t.equal(impostor.code, 1);
  t.match(impostor.stderr, /error: GITHUB_ACTOR says omar, but the token belongs to mallory: break glass with your own token; nothing was pushed/);
  t.equal(origin(), tip, 'nothing pushed');
  t.equal([...gh.state.issues.values()].filter((i) => !i.pull).length, 0, 'no issue');

  const omar = await runCli(args, { env: { ...s3.env, ...env, GITHUB_TOKEN: 'ghp_omar', GITHUB_ACTOR: '' } });
  t.equal(omar.code, 0, omar.stderr);
  t.not(origin(), tip);
  const issue = [...gh.state.issues.values()].find((i) => !i.pull)!;
  t.equal(issue.user, 'omar', 'the review issue is opened by the token\'s owner');
  t.match(issue.body, /\bomar\b/, 'and names who broke glass');
  t.ok(gh.requests.some((q) => q.operationId === 'users/get-authenticated' && q.status === 200));
});
