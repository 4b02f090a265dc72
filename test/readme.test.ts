// The README's command examples are this file's output: each scenario runs the built CLI on a
// fresh copy of the example repository and the README block must match it. UPDATE_GOLDEN=1
// rewrites the blocks. Dates are fixed so commit ids are stable.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runCli, type CliResult } from './helpers/cli.js';
import { readmeExample } from './helpers/golden.js';
import { makeReleaseRepo } from './helpers/repo.js';
import { makeRun } from './helpers/runs.js';
import { annotations } from '../src/sync/types.js';
import { startCheckerS3, type TestS3 } from './helpers/s3.js';

for (const k of ['GIT_AUTHOR_DATE', 'GIT_COMMITTER_DATE']) process.env[k] = '2026-11-20T09:00:00Z';
// The CLI helper drops SOURCE_DATE_EPOCH from the environment; registrations get it explicitly.
const fixed = { SOURCE_DATE_EPOCH: String(Date.parse('2026-11-20T09:00:00Z') / 1000) };

let s3: TestS3;
t.before(async () => {
  s3 = await startCheckerS3();
});
t.teardown(() => s3.stop());

/** Registers the newest fixture run by a relative path, as a user would: the manifest records that path, so commits are reproducible. */
async function registerRun(t: Test, root: string): Promise<CliResult> {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-readme-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(makeRun().dir, join(dir, 'runs/fraud-detector-run-8812'), { recursive: true });
  const r = await runCli(['register', 'runs/fraud-detector-run-8812', '-C', root], { cwd: dir, env: { ...s3.env, ...fixed } });
  t.equal(r.code, 0, r.stderr);
  return r;
}

/** What a user sees in a terminal: the command, stdout and stderr, and the exit code when it is not 0. */
function transcript(command: string, r: CliResult, tidy: (s: string) => string = (s) => s): string {
  const out = tidy(r.stdout + r.stderr).trimEnd();
  return `$ ${command}\n${out}${r.code === 0 ? '' : `\n$ echo $?\n${r.code}`}`;
}

t.test('validate: every problem in one run, then a summary', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const edit = (file: string, from: string, to: string) => {
    const path = join(repo.root, file);
    writeFileSync(path, readFileSync(path, 'utf8').replace(from, to));
  };
  edit('environments/production.yaml', 'version: 2026.11.06-1', 'version: 2026.11.30-1');
  edit('environments/production.yaml', 'replicas: { min: 4, max: 20 }', 'replica: { min: 4, max: 20 }');
  edit('policies/production.yaml', 'count: 2', 'count: two');
  const r = await runCli(['validate', '-C', repo.root]);
  t.equal(r.code, 1);
  readmeExample(t, 'validate', transcript('modelship validate', r));
});

t.test('register, then promote', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const reg = await registerRun(t, repo.root);
  readmeExample(t, 'register', transcript('modelship register runs/fraud-detector-run-8812', reg));
  const p = await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'staging', '--reason', 'weekly retrain', '-C', repo.root]);
  t.equal(p.code, 0, p.stderr);
  readmeExample(t, 'promote', transcript('modelship promote fraud-detector@2026.11.20-1 --to staging --reason "weekly retrain"', p));
});

t.test('check: a production promotion one hour short of its staging soak', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  await registerRun(t, repo.root);
  // The dates this scenario sets are put back after it, for the scenarios that follow.
  const saved = { GIT_AUTHOR_DATE: process.env.GIT_AUTHOR_DATE, GIT_COMMITTER_DATE: process.env.GIT_COMMITTER_DATE };
  t.teardown(() => Object.assign(process.env, saved));
  const dated = (iso: string) => Object.assign(process.env, { GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });
  dated('2026-11-20T10:00:00Z');
  t.equal((await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'staging', '-C', repo.root])).code, 0);
  repo.git('checkout', '-q', 'main');
  repo.git('merge', '-q', '--no-ff', '-m', 'Merge promote/staging/fraud-detector-2026.11.20-1', 'promote/staging/fraud-detector-2026.11.20-1');
  repo.git('push', '-q', 'origin', 'main');
  dated('2026-11-22T09:00:00Z');
  t.equal((await runCli(['promote', 'fraud-detector@2026.11.20-1', '--to', 'production', '-C', repo.root])).code, 0);
  const args = ['check', '--base', 'main', '--head', 'HEAD', '--at', '2026-11-22T09:00:00Z', '-C', repo.root];
  const text = await runCli(args, { env: s3.env });
  t.equal(text.code, 1, text.stderr);
  readmeExample(t, 'check', transcript('modelship check --base main --head HEAD', text));
  const md = await runCli([...args, '--format', 'markdown'], { env: s3.env });
  readmeExample(t, 'check-markdown', md.stdout.replace(/<!-- modelship:binding .* -->\n?/, ''), 'markdown');
});

t.test('plan: what merging a production promotion will do', async (t) => {
  const { startKubernetesStandIn } = await import('../tools/sandbox/kubernetes/server.js');
  const { startSnowflakeStandIn, snowflakeStandInCredentials } = await import('../tools/sandbox/snowflake/server.js');
  const kube = await startKubernetesStandIn({ namespaces: ['ml-serving', 'ml-staging'] });
  const snow = await startSnowflakeStandIn();
  t.teardown(async () => { await kube.stop(); await snow.stop(); });
  const env = {
    MODELSHIP_KUBE_SERVER: kube.url, MODELSHIP_KUBE_TOKEN: kube.token!, SNOWFLAKE_ACCOUNT: 'acme',
    SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password, MODELSHIP_SNOWFLAKE_URL: snow.url,
  };
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  t.equal((await runCli(['sync', '--env', 'production', '-C', repo.root], { env })).code, 0);
  const file = join(repo.root, 'environments/production.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('version: 2026.11.06-1', 'version: 2026.11.13-1'));
  repo.git('commit', '-qam', 'promote(production): fraud-detector 2026.11.06-1 → 2026.11.13-1');
  const plan = await runCli(['plan', '--env', 'production', '-C', repo.root], { env });
  t.equal(plan.code, 0, plan.stderr);
  readmeExample(t, 'plan', transcript('modelship plan --env production', plan));
});

t.test('drift: production\'s fraud detector against its training data, one feature past its bound', async (t) => {
  const { startSnowflakeStandIn, snowflakeStandInCredentials } = await import('../tools/sandbox/snowflake/server.js');
  const { fraudLogSpec, loadLog, makeRows } = await import('./metrics/serving-log.js');
  const { load } = await import('js-yaml');
  const manifest = load(readFileSync(join(projectRootDir(), 'models/fraud-detector/versions/2026.11.06-1.yaml'), 'utf8')) as import('../src/config/types.js').VersionManifest;
  const spec = fraudLogSpec(manifest);
  const snow = await startSnowflakeStandIn({
    setup: (c) => loadLog(c, 'ANALYTICS.SCORES.FRAUD_SCORES', spec, makeRows(spec, {
      n: 20_000, version: manifest.version, start: new Date('2026-11-19T09:00:00Z'), end: new Date('2026-11-20T09:00:00Z'), seed: 5,
      shifts: { txn_amount: { weights: [1, 1, 1, 2, 3, 4, 6, 8, 9, 9] } },
    })),
  });
  t.teardown(() => snow.stop());
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const env = { SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password, MODELSHIP_SNOWFLAKE_URL: snow.url };
  const r = await runCli(['drift', '--env', 'production', '--model', 'fraud-detector', '--window', '24h', '--at', '2026-11-20T09:00:00Z', '-C', repo.root], { env });
  t.equal(r.code, 1, r.stderr);
  readmeExample(t, 'drift', transcript('modelship drift --env production --model fraud-detector --window 24h', r));
});

t.test('status: production after a sync, one object edited by hand, one batch run failed', async (t) => {
  const { stage, ranTasks } = await import('./status/stage.js');
  const s = await stage(t);
  t.equal((await s.cli('sync', '--env', 'production')).code, 0);
  ranTasks(s, 'FAILED', 'Uncaught exception in SCORE_WITH_MODEL: source table ANALYTICS.FEATURES.TXN_FEATURES_DAILY is empty');
  const isvc = s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving')[0]!;
  s.kube.put({ ...isvc, spec: { ...isvc.spec, predictor: { ...isvc.spec.predictor, minReplicas: 1 } } }, 'kubectl-edit');
  const r = await s.cli('status', '--env', 'production', '--no-drift');
  t.equal(r.code, 1, r.stderr);
  // Times of the sync and of the task runs follow the clock; the README shows fixed ones.
  let n = 0;
  const tidy = (out: string) => out
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\dZ(?= [0-9a-f]{7} )/g, '2026-11-20 09:02Z')
    .replace(/(succeeded|failed) \d{4}-\d\d-\d\d \d\d:\d\dZ/g, (_, state: string) => `${state} 2026-11-20 ${['07:00', '07:00'][n++ % 2]}Z`);
  readmeExample(t, 'status', transcript('modelship status --env production --no-drift', r, tidy));
});

/** fraud-detector 2026.11.20-1 merged to staging at 10:00, then to production (`production` extra args) two days later. */
async function promotedToProduction(t: Test, production: string[]) {
  const saved = { GIT_AUTHOR_DATE: process.env.GIT_AUTHOR_DATE, GIT_COMMITTER_DATE: process.env.GIT_COMMITTER_DATE };
  t.teardown(() => { Object.assign(process.env, saved); });
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  await registerRun(t, repo.root);
  const dated = (iso: string) => Object.assign(process.env, { GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });
  for (const [iso, args] of [['2026-11-20T10:00:00Z', ['--to', 'staging']], ['2026-11-22T11:00:00Z', ['--to', 'production', ...production]]] as const) {
    dated(iso);
    const p = await runCli(['promote', 'fraud-detector@2026.11.20-1', ...args, '--json', '-C', repo.root]);
    t.equal(p.code, 0, p.stderr);
    const branch = JSON.parse(p.stdout).branch as string;
    repo.git('checkout', '-q', 'main');
    repo.git('merge', '-q', '--no-ff', '-m', `Merge ${branch}`, branch);
    repo.git('push', '-q', 'origin', 'main');
  }
  dated('2026-11-22T14:00:00Z');
  return repo;
}

t.test('rollback: the production promotion reverted on a branch', async (t) => {
  const repo = await promotedToProduction(t, []);
  const r = await runCli(['rollback', '--env', 'production', '--model', 'fraud-detector', '--reason', 'INC-4411: decline rate doubled', '-C', repo.root], { env: s3.env });
  t.equal(r.code, 0, r.stderr);
  readmeExample(t, 'rollback', transcript('modelship rollback --env production --model fraud-detector --reason "INC-4411: decline rate doubled"', r));
});

t.test('canary watch: a metric source that does not answer is an alert, never a rollback', async (t) => {
  const repo = await promotedToProduction(t, ['--canary', '5']);
  const r = await runCli(['canary', 'watch', '--env', 'production', '--once', '--at', '2026-11-22T14:00:00Z', '--prometheus-url', 'http://127.0.0.1:9', '-C', repo.root], { env: s3.env });
  t.equal(r.code, 3, r.stdout + r.stderr);
  readmeExample(t, 'canary-watch', transcript('modelship canary watch --env production --once --prometheus-url http://127.0.0.1:9', r));
});

t.test('audit: the regulator\'s question, answered from a verified trail', async (t) => {
  const { demoKey, standardTrail, writtenAt } = await import('./audit/history.js');
  const dates = { GIT_AUTHOR_DATE: process.env.GIT_AUTHOR_DATE, GIT_COMMITTER_DATE: process.env.GIT_COMMITTER_DATE };
  const tr = await standardTrail({ mirror: false });
  Object.assign(process.env, dates);
  t.teardown(tr.cleanup);
  const c = tr.commits;
  // The sync workflow mirrors each merge a few minutes after it deployed; records are signed with the demo key into a local write-once store.
  for (const [commit, at] of [[c.policy, '2026-11-10T09:05:00Z'], [c.canary, '2026-11-16T10:05:00Z'], [c.promote, '2026-11-18T10:05:00Z'], [c.chargeback, '2026-11-19T14:05:00Z']] as const) {
    // The gate report the checker wrote for the pull request, as it stood when it was merged.
    const report = join(tr.h.work, `report-${commit.slice(0, 7)}.md`);
    await runCli(['check', '--base', `${commit}^1`, '--head', `${commit}^2`, '--at', new Date(Date.parse(at) - 600_000).toISOString(), '--output', report, '-C', tr.h.repo.root], { env: s3.env });
    // The store's clock is the story's too (writtenAt stamps what the mirror wrote; S3 sets LastModified itself).
    const m = await writtenAt(join(tr.h.work, 'audit-store'), at, () => runCli(['audit', 'mirror', '--env', 'production', '--rev', commit, '--record-dir', 'records', '--report', report, '--store', 'audit-store', '--key-file', demoKey.file, '-C', tr.h.repo.root],
      { cwd: tr.h.work, env: { SOURCE_DATE_EPOCH: String(Date.parse(at) / 1000), GITHUB_REPOSITORY: 'acmerisk/release' } }));
    t.equal(m.code, 0, m.stderr);
  }
  const v = await runCli(['audit', 'verify', '--store', 'audit-store', '-C', tr.h.repo.root], { cwd: tr.h.work });
  t.equal(v.code, 0, v.stdout + v.stderr);
  readmeExample(t, 'audit-verify', transcript('modelship audit verify --store audit-store', v));
  const r = await runCli(['audit', 'trace', '--model', 'fraud-detector', '--env', 'production', '--at', '2026-11-17T10:22:00Z', '--store', 'audit-store', '-C', tr.h.repo.root], { cwd: tr.h.work });
  t.equal(r.code, 0, r.stderr);
  readmeExample(t, 'audit-trace', transcript('modelship audit trace --model fraud-detector --env production --at 2026-11-17T10:22:00Z --store audit-store', r));
});

function projectRootDir(): string {
  return new URL('../', import.meta.url).pathname;
}

t.test('the README says how its examples are made, and claims only what the code and workflows do', async (t) => {
  const root = new URL('../', import.meta.url).pathname;
  const readme = readFileSync(join(root, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  t.ok(readme.includes('The command examples in this README are not written by hand: `test/readme.test.ts` runs each one against the stand-ins'), 'where the examples come from');
  t.ok(readme.includes('regenerate them with `npm run build && UPDATE_GOLDEN=1 npx tap test/readme.test.ts` and review the diff'), 'how to regenerate them');
  // KServe's serviceAnnotationDisallowedList matches exact keys: the README lists every key the renderer writes
  const keys = Object.values(annotations);
  t.same(keys, ['modelship.io/spec-hash', 'modelship.io/commit', 'modelship.io/version']);
  t.ok(readme.includes(`"serviceAnnotationDisallowedList": [${keys.map((k) => JSON.stringify(k)).join(', ')}]`), 'the ConfigMap entry, key by key');
  t.notMatch(readme, /modelship\.io\/\*/, 'no wildcard: KServe takes keys');
  // no scheduled runs that no workflow performs
  const workflows = readdirSync(join(root, '.github/workflows')).map((f) => readFileSync(join(root, '.github/workflows', f), 'utf8')).join('\n');
  // ... nor by the in-cluster agent: it runs them once src/agent/agent.ts calls their duties (src/agent/duties.ts)
  const agentFile = join(root, 'src/agent/agent.ts');
  const agent = existsSync(agentFile) ? readFileSync(agentFile, 'utf8') : '';
  const scheduled = readme.slice(readme.indexOf('### What the agent runs on a schedule'));
  for (const command of ['canary watch', 'drift']) {
    if (workflows.includes(`cli.js ${command}`)) continue;
    const nothing = `No workflow in this repository runs ${command === 'drift' ? '`drift` on a schedule' : 'it'} yet`;
    if (agent.includes(command === 'drift' ? 'driftDuty' : 'canaryDuty')) {
      t.notOk(readme.includes(nothing), `${command}: the agent runs it; the README must not say nothing does`);
      t.ok(scheduled.startsWith('### What the agent runs on a schedule') && scheduled.includes(`**${command}** every`), `${command}: the README says when the agent runs it`);
    } else {
      t.ok(readme.includes(nothing), `${command}: the README says nothing runs it`);
    }
  }
  t.notMatch(readme, /a scheduled workflow keeps one issue/);
  t.notMatch(readme, /`canary watch` \(in the sync workflow or the in-cluster loop\)/);
});
