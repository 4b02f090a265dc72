// `modelship check --github` on pull requests that change what is not a release: the check
// workflow, the checker's code, a policy, a new environment. Real git repositories (every path
// diffed), the GitHub stand-in for the pull request, its reviews and the owner teams; the
// repository policy (policies/repository.yaml) on main names who approves.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import { Octokit } from '@octokit/rest';
import t, { type Test } from 'tap';
import { startGitHub, type GitHubStandIn } from '../../tools/sandbox/github/server.js';
import { projectRoot, runCli } from '../helpers/cli.js';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';

const owner = 'acmerisk';
const name = 'model-releases';
const token = 'ghs_checker';
const teams = { '@acmerisk/ml-platform': ['pat'], '@acmerisk/model-risk': ['barbara'], '@acmerisk/fraud-ml-leads': ['lena'] };

const definitions = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@octokit/webhooks-examples'), 'utf8')) as WebhookDefinition[];
const opened = definitions.find((d) => d.name === 'pull_request')!.examples.find((e) => (e as { action?: string }).action === 'opened')!;

interface Pull {
  repo: TestRepo;
  gh: GitHubStandIn;
  head: string;
  /** runs `modelship check --github` on the pull request's opened event */
  check(): ReturnType<typeof runCli>;
}

/**
 * main as the example repository (plus a check workflow and a source file), a branch that writes
 * `files` (relative path -> content) and a pull request for it on GitHub.
 */
async function pullRequest(t: Test, branch: string, files: Record<string, string>): Promise<Pull> {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const put = (rel: string, text: string) => {
    mkdirSync(dirname(join(repo.root, rel)), { recursive: true });
    writeFileSync(join(repo.root, rel), text);
  };
  put('.github/workflows/check.yml', 'name: check\non: pull_request\njobs:\n  test: { runs-on: ubuntu-latest, steps: [{ run: npm test }] }\n');
  put('src/cli.ts', 'export {};\n');
  repo.git('add', '-A');
  repo.git('commit', '-qm', 'the checker\'s workflow and code');
  const base = repo.git('rev-parse', 'HEAD').trim();
  repo.git('checkout', '-qb', branch);
  for (const [rel, text] of Object.entries(files)) put(rel, text);
  repo.git('add', '-A');
  repo.git('commit', '-qm', branch);
  const head = repo.git('rev-parse', 'HEAD').trim();
  repo.git('checkout', '-q', 'main');

  const gh = await startGitHub({ owner, repo: name, token, teams });
  t.teardown(() => gh.stop());
  gh.setBranch('main', base);
  const octokit = new Octokit({ baseUrl: gh.url, auth: token, log: { debug() {}, info() {}, warn() {}, error() {} } });
  const pr = await octokit.rest.pulls.create({ owner, repo: name, head: branch, base: 'main', title: branch });
  gh.setBranch(branch, head);

  const events = mkdtempSync(join(tmpdir(), 'modelship-event-'));
  t.teardown(() => rmSync(events, { recursive: true, force: true }));
  const payload = structuredClone(opened) as typeof opened & { number: number; pull_request: { number: number; head: { sha: string; ref: string }; base: { sha: string; ref: string } }; repository: { full_name: string; name: string; owner: { login: string } } };
  Object.assign(payload.repository, { full_name: `${owner}/${name}`, name });
  payload.repository.owner.login = owner;
  payload.number = pr.data.number;
  payload.pull_request.number = pr.data.number;
  Object.assign(payload.pull_request.head, { sha: head, ref: branch });
  Object.assign(payload.pull_request.base, { sha: base, ref: 'main' });
  const path = join(events, 'pull_request.json');
  writeFileSync(path, JSON.stringify(payload));
  return {
    repo, gh, head,
    check: () => runCli(['check', '--github', '-C', repo.root, '--base', 'main', '--head', head], {
      env: { GITHUB_TOKEN: token, GITHUB_API_URL: gh.url, GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: path },
    }),
  };
}

const conclusion = (p: Pull) => p.gh.state.checkRuns.filter((c) => c.name === 'modelship' && c.headSha === p.head).map((c) => c.conclusion);

t.test('a pull request editing the check workflow is a code change: a failing check until ml-platform approves', async (t) => {
  const p = await pullRequest(t, 'ci/print-secrets', { '.github/workflows/check.yml': 'name: check\non: pull_request\njobs:\n  leak: { runs-on: ubuntu-latest, steps: [{ run: env }] }\n' });
  const r = await p.check();
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /^WAITING-FOR-APPROVAL: every gate passes; waiting for approval: code change: needs @acmerisk\/ml-platform; 0 of 1 required approval$/m);
  t.match(r.stdout, /^code repository: \.github\/workflows\/check\.yml$/m);
  t.same(conclusion(p), ['failure'], 'never neutral');

  p.gh.addReview(1, 'lena', 'APPROVED', { commitId: p.head });
  const someone = await p.check();
  t.equal(someone.code, 1);
  t.match(someone.stdout, /waiting for approval: code change: needs @acmerisk\/ml-platform; 0 of 1 required approval; not counted: lena \(not in @acmerisk\/ml-platform\)$/m);

  p.gh.addReview(1, 'pat', 'APPROVED', { commitId: p.head });
  const approved = await p.check();
  t.equal(approved.code, 0, approved.stdout + approved.stderr);
  t.match(approved.stdout, /^READY: every gate passes; ready to merge$/m);
  t.match(approved.stdout, /owners +code change: 1 of 1 required approval \(pat \(@acmerisk\/ml-platform\)\)/);
  t.same(conclusion(p), ['success'], 'the same check run, now passing');
});

t.test('a pull request editing src/ and package.json: one code change, its owners approve', async (t) => {
  const p = await pullRequest(t, 'checker/always-pass', { 'src/cli.ts': 'process.exit(0);\n', 'package.json': '{ "name": "x" }\n' });
  const r = await p.check();
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /^code repository: package\.json \(added\), src\/cli\.ts$/m);
  t.match(r.stdout, /waiting for approval: code change: needs @acmerisk\/ml-platform; 0 of 1 required approval$/m);
  p.gh.addReview(1, 'pat', 'APPROVED', { commitId: p.head });
  t.equal((await p.check()).code, 0);
});

t.test('a policy change needs the repository policy\'s policy owners as well as its own', async (t) => {
  const p = await pullRequest(t, 'policy/staging-named-teams', {
    'policies/staging.yaml': readFileSync(join(projectRoot, 'policies/staging.yaml'), 'utf8').replace('  count: 1\n', '  count: 1\n  teams: ["@acmerisk/fraud-ml-leads"]\n'),
  });
  p.gh.addReview(1, 'barbara', 'APPROVED', { commitId: p.head });
  const r = await p.check();
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /^policy staging: policy for staging modified$/m);
  t.match(r.stdout, /policy +policy change: 0 of 1 required approval; not counted: barbara \(not in @acmerisk\/ml-platform\)/);
  t.match(r.stdout, /owners +policy change: 1 of 1 required approval \(barbara \(@acmerisk\/model-risk\)\)/);
  p.gh.addReview(1, 'pat', 'APPROVED', { commitId: p.head });
  t.equal((await p.check()).code, 0);
});

t.test('a new environment with its policy in one pull request, approved by the repository owners', async (t) => {
  const p = await pullRequest(t, 'environments/qa', {
    'environments/qa.yaml': '# yaml-language-server: $schema=../src/config/schemas/environment.schema.json\nname: qa\n'
      + 'kubernetes: { cluster: acme-eks-qa, namespace: ml-qa, mode: serverless }\nsnowflake: { database: ML_QA, schema: SCORING, warehouse: SCORING_WH_QA }\nmodels: {}\n',
    'policies/qa.yaml': readFileSync(join(projectRoot, 'policies/staging.yaml'), 'utf8').replace('environment: staging', 'environment: qa'),
  });
  const r = await p.check();
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /^environment-added qa: environment qa added$/m);
  t.match(r.stdout, /^policy qa: policy for qa added$/m);
  t.match(r.stdout, /waiting for approval: environment change: needs @acmerisk\/ml-platform; 0 of 1 required approval$/m);
  p.gh.addReview(1, 'pat', 'APPROVED', { commitId: p.head });
  const approved = await p.check();
  t.equal(approved.code, 0, approved.stdout);
  t.match(approved.stdout, /^READY: every gate passes; ready to merge$/m);
});
