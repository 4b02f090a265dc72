// The repository policy's owners and the approvals rules of policy.schema.json, judged by the
// runner on AcmeRisk's own release files (base: this repository; head: the base with a pull
// request's files) and plain review evidence: code changes, policy changes, a new environment,
// an environment retargeted at another's, stale approvals, pushers, the author, a lax base.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { classify, loadRepository, type LoadedRepository } from '../../src/config/load.js';
import { withChanges, workingTree } from '../../src/config/snapshot.js';
import { diffStates, type FileDiff } from '../../src/gates/changes.js';
import { evaluate, needs, type Evidence, type Report, type ReviewEvidence } from '../../src/gates/run.js';
import type { Review } from '../../src/model/approvals.js';
import { codeOwnerOf, globToRegExp, isReleaseFile } from '../../src/model/owners.js';
import { projectRoot } from '../helpers/cli.js';

const head = 'c0ffee0000000000000000000000000000000001';
const earlier = 'bead000000000000000000000000000000000002';
const now = new Date('2026-11-20T10:00:00Z');
const teamMembers = {
  '@acmerisk/ml-platform': ['pat'],
  '@acmerisk/model-risk': ['barbara'],
  '@acmerisk/fraud-ml-leads': ['lena', 'grace'],
  '@acmerisk/disputes-ml': ['ken'],
};
const approved = (user: string, commitId = head): Review => ({ user, state: 'APPROVED', commitId, submittedAt: '2026-11-20T09:30:00Z' });

let base: LoadedRepository;
t.before(async () => {
  base = await loadRepository(workingTree(projectRoot), { versions: 'all' });
});

const example = (file: string) => readFileSync(join(projectRoot, file), 'utf8');

/** Judges a pull request that writes `written` (release files) and touches `code` (other paths). */
async function judge(written: Record<string, string>, options: { code?: string[]; reviews?: Review[]; review?: Partial<ReviewEvidence>; noReview?: boolean; base?: LoadedRepository } = {}): Promise<Report> {
  const from = options.base ?? base;
  const headRepo = await loadRepository(withChanges(workingTree(projectRoot), new Map(Object.entries(written).map(([p, text]) => [p, Buffer.from(text)]))), { versions: 'all' });
  t.same(headRepo.problems.filter((p) => p.severity === 'error'), [], 'the head loads');
  const files: FileDiff[] = [
    ...Object.keys(written).map((path) => ({ path, status: from.present.has(path) ? 'modified' as const : 'added' as const })),
    ...(options.code ?? []).map((path) => ({ path, status: 'modified' as const })),
  ];
  const changes = diffStates({ base: from, head: headRepo, files });
  const state = { base: { ...from, label: 'main' }, head: { ...headRepo, label: head.slice(0, 12) }, changes };
  const evidence: Evidence = {
    now, artifacts: new Map(), dbt: new Map(), timelines: new Map(), canaries: new Map(), serving: new Map(), holds: new Map(),
    ...(options.noReview ? {} : { review: { author: 'ada', headSha: head, teamMembers, reviews: options.reviews ?? [], ...options.review } }),
  };
  // The teams the runner asks GitHub for are those it judges by.
  if (!options.noReview) t.ok([...needs(state).teams].every((team) => team in teamMembers), 'every team asked for is known');
  return evaluate(state, evidence);
}

const gates = (r: Report) => r.changes.flatMap((c) => c.gates.map((g) => `${c.change.kind} ${c.change.environment}: ${g.gate} ${g.status}: ${g.summary}`));

t.test('release files are those config/ reads; every other path is code', async (t) => {
  const paths = ['environments/production.yaml', 'policies/repository.yaml', 'models/x/model.yaml', 'models/x/versions/1.yaml',
    'environments/README.md', 'environments/x.yml', 'environments/.hidden.yaml', 'models/x/notes.yaml', 'models/x/versions/sub/1.yaml', 'src/cli.ts', '.github/workflows/check.yml', 'production.yaml'];
  t.same(paths.filter(isReleaseFile), paths.slice(0, 4));
  for (const p of paths) t.equal(isReleaseFile(p), 'schema' in classify(p), `${p}: as config/load.ts classifies it`);
});

t.test('globs: * within a segment, ** across, a trailing / for a folder, root-anchored', async (t) => {
  t.ok(globToRegExp('.github/').test('.github/workflows/check.yml'));
  t.notOk(globToRegExp('.github/').test('.github'));
  t.ok(globToRegExp('tsconfig*.json').test('tsconfig.test.json'));
  t.notOk(globToRegExp('tsconfig*.json').test('tools/tsconfig.json'), 'no match below the root');
  t.ok(globToRegExp('**/package.json').test('package.json'));
  t.ok(globToRegExp('**/package.json').test('tools/demo/package.json'));
  t.notOk(globToRegExp('src/*.ts').test('src/gates/run.ts'));
  t.ok(globToRegExp('src/**').test('src/gates/run.ts'));
  const policy = base.repository!.data;
  t.same(['.github/workflows/check.yml', 'src/cli.ts', '.npmrc', 'models/fraud-detector/README.md', 'docs/x.md'].map((p) => codeOwnerOf(policy, p).source),
    ['code.rules[0]', 'code.rules[0]', 'code.rules[0]', 'code.rules[1]', 'code.default'], 'first matching rule, else the default');
});

t.test('a pull request editing the check workflow is a code change: it waits for ml-platform, never neutral', async (t) => {
  const waiting = await judge({}, { code: ['.github/workflows/check.yml'] });
  t.equal(waiting.verdict, 'waiting-for-approval');
  t.equal(waiting.headline, 'every gate passes; waiting for approval: code change: needs @acmerisk/ml-platform; 0 of 1 required approval');
  t.same(gates(waiting), ['code repository: owners fail: code change: needs @acmerisk/ml-platform; 0 of 1 required approval']);
  t.equal(waiting.changes[0]!.change.description, '.github/workflows/check.yml');

  const someone = await judge({}, { code: ['.github/workflows/check.yml'], reviews: [approved('lena')] });
  t.equal(someone.verdict, 'waiting-for-approval', 'an approval from outside the owners does not count');
  t.same(gates(someone), ['code repository: owners fail: code change: needs @acmerisk/ml-platform; 0 of 1 required approval; not counted: lena (not in @acmerisk/ml-platform)']);

  const owner = await judge({}, { code: ['.github/workflows/check.yml'], reviews: [approved('pat')] });
  t.equal(owner.verdict, 'ready');
  t.same(gates(owner), ['code repository: owners pass: code change: 1 of 1 required approval (pat (@acmerisk/ml-platform))']);

  const local = await judge({}, { code: ['.github/workflows/check.yml'], noReview: true });
  t.equal(local.verdict, 'ready', 'a local run leaves approvals to GitHub, as for every other change');
  t.equal(local.approvalsPending, true);
  t.same(gates(local), ['code repository: owners skipped: code change: needs 1 approval from @acmerisk/ml-platform (repository policy, code.rules[0]); checked on GitHub (--github)']);
});

t.test('code in src/ and elsewhere: one change per owning rule, each judged by its owners', async (t) => {
  const r = await judge({}, { code: ['src/gates/run.ts', 'package.json', 'models/fraud-detector/README.md', 'docs/notes.md'], reviews: [approved('pat')] });
  t.equal(r.verdict, 'waiting-for-approval');
  t.same(r.changes.map((c) => c.change.description), ['docs/notes.md', 'src/gates/run.ts, package.json', 'models/fraud-detector/README.md']);
  t.same(gates(r), [
    'code repository: owners pass: code change: 1 of 1 required approval (pat (@acmerisk/ml-platform))',
    'code repository: owners pass: code change: 1 of 1 required approval (pat (@acmerisk/ml-platform))',
    'code repository: owners fail: code change: needs @acmerisk/fraud-ml-leads; 0 of 1 required approval; not counted: pat (not in @acmerisk/fraud-ml-leads)',
  ]);
  t.equal((await judge({}, { code: ['src/gates/run.ts', 'package.json', 'models/fraud-detector/README.md', 'docs/notes.md'], reviews: [approved('pat'), approved('lena')] })).verdict, 'ready');
});

t.test('without a repository policy on the base, a code change is blocked: nobody owns it', async (t) => {
  const { repository: _r, ...bare } = base;
  const r = await judge({}, { code: ['src/cli.ts'], reviews: [approved('pat')], base: bare });
  t.equal(r.verdict, 'blocked');
  t.same(gates(r), ['code repository: owners fail: code change: there is no policies/repository.yaml on the base branch, so nobody owns this change; add the repository policy in a pull request of its own first']);
  const first = await judge({ 'policies/repository.yaml': example('policies/repository.yaml') }, { reviews: [approved('pat')], base: { ...bare, present: new Set([...base.present].filter((p) => p !== 'policies/repository.yaml')) } });
  t.equal(first.verdict, 'blocked');
  t.same(gates(first), ['policy repository: owners fail: policy change: policies/repository.yaml is new and there is none on the base branch to say who approves it; the first one is merged by an administrator']);
  t.equal(first.changes[0]!.change.description, 'repository policy added');
});

t.test('a policy change needs its policyOwners and the repository policy\'s policy owners', async (t) => {
  const staging = example('policies/staging.yaml').replace('  count: 1\n', '  count: 1\n  teams: ["@acmerisk/fraud-ml-leads"]\n');
  const r = await judge({ 'policies/staging.yaml': staging }, { reviews: [approved('barbara')] });
  t.equal(r.verdict, 'waiting-for-approval');
  t.same(gates(r), [
    'policy staging: policy fail: policy change: 0 of 1 required approval; not counted: barbara (not in @acmerisk/ml-platform)',
    'policy staging: owners pass: policy change: 1 of 1 required approval (barbara (@acmerisk/model-risk))',
  ]);
  t.equal((await judge({ 'policies/staging.yaml': staging }, { reviews: [approved('pat')] })).verdict, 'ready', 'pat is in both');

  const repository = example('policies/repository.yaml').replace('environments:\n  owners: ["@acmerisk/ml-platform"]', 'environments:\n  owners: ["@acmerisk/fraud-ml-leads"]');
  const own = await judge({ 'policies/repository.yaml': repository }, { reviews: [approved('lena')] });
  t.same(gates(own), ['policy repository: owners fail: policy change: needs @acmerisk/ml-platform, @acmerisk/model-risk; 0 of 1 required approval; not counted: lena (not in @acmerisk/ml-platform, @acmerisk/model-risk)'],
    'the repository policy itself: judged by the base\'s policy owners');
  t.equal(own.changes[0]!.change.description, 'repository policy modified');
});

/** A new environment "qa": its own cluster, namespace and database unless `over` says otherwise. */
function qa(over: { namespace?: string; database?: string; models?: string } = {}) {
  return {
    'environments/qa.yaml': [
      '# yaml-language-server: $schema=../src/config/schemas/environment.schema.json',
      'name: qa',
      'kubernetes: { cluster: acme-eks-qa, namespace: ' + (over.namespace ?? 'ml-qa') + ', mode: serverless }',
      'snowflake: { database: ' + (over.database ?? 'ML_QA') + ', schema: SCORING, warehouse: SCORING_WH_QA }',
      over.models ?? 'models: {}', '',
    ].join('\n'),
    'policies/qa.yaml': example('policies/staging.yaml').replace('environment: staging', 'environment: qa'),
  };
}

t.test('a new environment with its policy in one pull request: the repository owners approve it', async (t) => {
  const waiting = await judge(qa(), { reviews: [approved('lena')] });
  t.equal(waiting.verdict, 'waiting-for-approval');
  t.same(gates(waiting), [
    'environment-added qa: owners fail: environment change: needs @acmerisk/ml-platform; 0 of 1 required approval; not counted: lena (not in @acmerisk/ml-platform)',
    'policy qa: owners fail: policy change: needs @acmerisk/ml-platform, @acmerisk/model-risk; 0 of 1 required approval; not counted: lena (not in @acmerisk/ml-platform, @acmerisk/model-risk)',
  ]);
  const ready = await judge(qa(), { reviews: [approved('pat')] });
  t.equal(ready.verdict, 'ready');
  t.same(ready.changes.map((c) => c.change.description), ['environment qa added', 'policy for qa added']);

  // It starts empty: nothing on the base can judge what it would run.
  const pinned = await judge(qa({ models: 'models:\n  chargeback-risk:\n    version: 2026.10.15-1\n    batch: { schedule: { cron: "0 4 * * *" } }' }), { reviews: [approved('pat')] });
  t.equal(pinned.verdict, 'blocked');
  t.match(gates(pinned), ['environment-added qa: owners pass: environment change: 1 of 1 required approval (pat (@acmerisk/ml-platform))',
    'new-model qa: policy fail: qa is new in this pull request and its policy is not on the base branch yet, so nothing can judge what it runs: add the environment with no models (models: {}) first, then pin versions in a pull request of their own',
    /^policy qa: owners pass/]);
});

t.test('a new environment on production\'s namespace is judged by production\'s policy too', async (t) => {
  const r = await judge(qa({ namespace: 'ml-serving' }), { reviews: [approved('pat')] });
  t.equal(r.verdict, 'waiting-for-approval');
  t.same(r.changes[0]!.change.reaches, ['production']);
  t.same(gates(r).slice(0, 3), [
    'environment-added qa: owners pass: environment change: 1 of 1 required approval (pat (@acmerisk/ml-platform))',
    'environment-added qa: freeze pass: production policy: no freeze window is active; next: "black-friday" from 2026-11-26T00:00Z',
    'environment-added qa: approvals fail: production policy: 0 of 2 required approvals; not counted: pat (not in @acmerisk/fraud-ml-leads, @acmerisk/model-risk, @acmerisk/disputes-ml)',
  ]);
});

t.test('the prediction log moved (its sink receives every request and answer; its table is what the shadow gate reads): the repository\'s environment owners judge it', async (t) => {
  const production = example('environments/production.yaml');
  const sink = /sink: (\S+)/.exec(production)![1]!;
  const r = await judge({ 'environments/production.yaml': production.replace(`sink: ${sink}`, 'sink: https://collector.example.net/ingest') }, { reviews: [approved('pat')] });
  t.match(r.changes[0]!.change, { kind: 'environment-config', environment: 'production', owners: 'environments', description: 'production: inferenceLog changed (targets: inferenceLog.sink)' });
  t.ok(gates(r).includes('environment-config production: owners pass: environment change: 1 of 1 required approval (pat (@acmerisk/ml-platform))'));
});

t.test('staging retargeted at production\'s namespace and database: production\'s policy and the repository owners judge it', async (t) => {
  const staging = example('environments/staging.yaml').replace('namespace: ml-staging', 'namespace: ml-serving').replace('database: ML_STAGING', 'database: ml_prod');
  const written = { 'environments/staging.yaml': staging };
  const one = await judge(written, { reviews: [approved('pat')] });
  t.equal(one.verdict, 'waiting-for-approval');
  t.equal(one.changes.length, 1);
  t.match(one.changes[0]!.change, { kind: 'environment-config', environment: 'staging', owners: 'environments', reaches: ['production'],
    description: 'staging: kubernetes, snowflake changed (targets: kubernetes.namespace, snowflake.database)' });
  t.same(gates(one), [
    'environment-config staging: freeze skipped: the policy has no freeze windows',
    'environment-config staging: approvals pass: 1 of 1 required approval (pat (@acmerisk/ml-platform))',
    'environment-config staging: owners pass: environment change: 1 of 1 required approval (pat (@acmerisk/ml-platform))',
    'environment-config staging: freeze pass: production policy: no freeze window is active; next: "black-friday" from 2026-11-26T00:00Z',
    'environment-config staging: approvals fail: production policy: 0 of 2 required approvals; not counted: pat (not in @acmerisk/fraud-ml-leads, @acmerisk/model-risk, @acmerisk/disputes-ml)',
  ], "staging's own rule (its policy owners, as the change touches no model) is met; production's two approvals are not");
  t.equal(one.changes[0]!.gates[4]!.note, "staging's targets reach production: the production policy judges this change too");

  const all = await judge(written, { reviews: [approved('pat'), approved('grace'), approved('ken')] });
  t.equal(all.verdict, 'ready', 'with production\'s two approvals as well');

  // Taking production's Snowflake role reaches production too.
  const role = await judge({ 'environments/staging.yaml': example('environments/staging.yaml').replace('warehouse: SCORING_WH_XS', 'warehouse: SCORING_WH_XS\n  role: MODELSHIP_DEPLOYER') }, { reviews: [approved('pat')] });
  t.match(role.changes[0]!.change, { description: 'staging: snowflake changed (targets: snowflake.role)', owners: 'environments', reaches: ['production'] });

  // A setting that is no target is staging's alone.
  const host = await judge({ 'environments/staging.yaml': example('environments/staging.yaml').replace('mode: serverless', 'mode: serverless\n  hostname: staging.acmerisk.internal') }, { reviews: [approved('pat')] });
  t.equal(host.verdict, 'ready');
  t.same(gates(host), [
    'environment-config staging: freeze skipped: the policy has no freeze windows',
    'environment-config staging: approvals pass: 1 of 1 required approval (pat (@acmerisk/ml-platform))',
  ]);
});

t.test('stale approvals are dismissed by default: staging\'s policy says nothing about it', async (t) => {
  t.notMatch(example('policies/staging.yaml'), /dismissStale/);
  const config = { 'environments/staging.yaml': example('environments/staging.yaml').replace('replicas: { min: 1, max: 3 }', 'replicas: { min: 1, max: 4 }') };
  const stale = await judge(config, { reviews: [approved('lena', earlier)] });
  t.equal(stale.verdict, 'waiting-for-approval');
  t.same(gates(stale), [
    'config staging: freeze skipped: the policy has no freeze windows',
    'config staging: approvals fail: 0 of 1 required approval; not counted: lena (approved an earlier commit bead000)',
  ]);
  const fresh = await judge(config, { reviews: [approved('lena')] });
  t.same(gates(fresh)[1], 'config staging: approvals pass: 1 of 1 required approval (lena (@acmerisk/fraud-ml-leads))',
    'teams default to the model\'s reviewers (fraud-detector: fraud-ml-leads, model-risk)');
  const outsider = await judge(config, { reviews: [approved('pat')] });
  t.same(gates(outsider)[1], 'config staging: approvals fail: 0 of 1 required approval; not counted: pat (not in @acmerisk/fraud-ml-leads, @acmerisk/model-risk)');
});

t.test('whoever pushed the latest commit cannot approve it; nor can the author', async (t) => {
  const config = { 'environments/staging.yaml': example('environments/staging.yaml').replace('replicas: { min: 1, max: 3 }', 'replicas: { min: 1, max: 4 }') };
  const pushed = await judge(config, { reviews: [approved('Lena')], review: { pushers: ['lena'] } });
  t.same(gates(pushed)[1], 'config staging: approvals fail: 0 of 1 required approval; not counted: Lena (pushed the latest commit)');
  const code = await judge({}, { code: ['src/cli.ts'], reviews: [approved('pat')], review: { pushers: ['pat', 'github-actions[bot]'] } });
  t.same(gates(code), ['code repository: owners fail: code change: needs @acmerisk/ml-platform; 0 of 1 required approval; not counted: pat (pushed the latest commit)']);
  const author = await judge(config, { reviews: [approved('grace')], review: { author: 'Grace' } });
  t.same(gates(author)[1], 'config staging: approvals fail: 0 of 1 required approval; not counted: grace (the author)');
  t.equal((await judge(config, { reviews: [approved('grace'), approved('lena')], review: { author: 'Grace', pushers: ['grace'] } })).verdict, 'ready', 'another reviewer counts');
});

t.test('a pull request into another branch than the release branch is blocked', async (t) => {
  const r = await judge({}, { code: ['src/cli.ts'], reviews: [approved('pat')], review: { baseRef: 'lax' } });
  t.equal(r.verdict, 'blocked');
  t.equal(r.headline, "the pull request's base is lax, not the release branch main: modelship judges only pull requests into main");
  t.equal((await judge({}, { code: ['src/cli.ts'], reviews: [approved('pat')], review: { baseRef: 'main' } })).verdict, 'ready');
  const nothing = await judge({}, { review: { baseRef: 'lax' } });
  t.equal(nothing.verdict, 'blocked', 'even with nothing to judge');
});

t.test('removing an environment needs the repository\'s environment owners besides its own policy', async (t) => {
  const without = <V>(m: ReadonlyMap<string, V>) => new Map([...m].filter(([k]) => k !== 'staging'));
  const headRepo = { ...base, environments: without(base.environments), policies: without(base.policies), label: head.slice(0, 12) };
  const changes = diffStates({ base, head: headRepo, files: [{ path: 'environments/staging.yaml', status: 'deleted' }, { path: 'policies/staging.yaml', status: 'deleted' }] });
  t.same(changes.map((c) => `${c.kind} ${c.environment}: ${c.description}`), [
    'environment-removed staging: environment staging removed',
    'removal staging: chargeback-risk removed from staging (was 2026.11.01-1)',
    'removal staging: fraud-detector removed from staging (was 2026.11.13-1)',
    'policy staging: policy for staging deleted',
  ]);
  const r = evaluate({ base: { ...base, label: 'main' }, head: headRepo, changes }, {
    now, artifacts: new Map(), dbt: new Map(), timelines: new Map(), canaries: new Map(), serving: new Map(),
    review: { author: 'ada', headSha: head, teamMembers, reviews: [approved('lena')] },
  });
  t.equal(r.verdict, 'waiting-for-approval');
  t.same(gates(r).filter((g) => /: (owners|policy) /.test(g)), [
    'environment-removed staging: owners fail: environment change: needs @acmerisk/ml-platform; 0 of 1 required approval; not counted: lena (not in @acmerisk/ml-platform)',
    'policy staging: policy fail: policy change: 0 of 1 required approval; not counted: lena (not in @acmerisk/ml-platform)',
    'policy staging: owners fail: policy change: needs @acmerisk/ml-platform, @acmerisk/model-risk; 0 of 1 required approval; not counted: lena (not in @acmerisk/ml-platform, @acmerisk/model-risk)',
  ]);
});

t.test('the release branch and the owners\' count come from the base\'s repository policy', async (t) => {
  const policy = base.repository!.data;
  const strict = { ...base, repository: { ...base.repository!, data: { ...policy, releaseBranch: 'release', code: { ...policy.code, default: { owners: policy.code.default.owners, count: 2 } } } } };
  const r = await judge({}, { code: ['docs/notes.md'], reviews: [approved('pat')], review: { baseRef: 'main' }, base: strict });
  t.equal(r.headline, "the pull request's base is main, not the release branch release: modelship judges only pull requests into release");
  t.same(gates(r), ['code repository: owners fail: code change: needs @acmerisk/ml-platform; 1 of 2 required approvals (pat (@acmerisk/ml-platform))']);
});
