// `modelship check` through the CLI on real git histories: a bare origin and a clone holding the
// example repository, promotions made with `modelship promote`, merged with git at fixed times, the
// registry and the dbt manifest in s3rver. Policies always come from the base revision.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { projectRoot, runCli } from '../helpers/cli.js';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { hours, registeredBefore } from '../helpers/clock.js';
import { load as parseYaml } from 'js-yaml';
import type { VersionManifest } from '../../src/config/types.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { fraudLogSpec, loadLog, makeRows } from '../metrics/serving-log.js';

let s3: TestS3;
t.before(async () => {
  s3 = await startCheckerS3();
});
t.teardown(() => s3.stop());


/** A release repository whose first commit is dated `at`, with 2026.11.20-1 registered and committed-to-be. */
async function stage(t: Test): Promise<{ repo: TestRepo; at: (iso: string, ...args: string[]) => string; cli: (...args: string[]) => ReturnType<typeof runCli> }> {
  const dated = (iso: string) => ({ GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });
  // History must be possible: a version is pinned only after it was registered (the checker
  // bounds its history searches by registeredAt), so the repository starts after the example
  // versions were registered, and the new run is registered before it is promoted.
  Object.assign(process.env, dated(hours(-48)));
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const reg = await runCli(['register', makeRun().dir, '-C', repo.root], { env: { ...s3.env, ...registeredBefore } });
  t.equal(reg.code, 0, reg.stderr);
  return {
    repo,
    /** runs git with author and committer dates set */
    at: (iso, ...args) => {
      Object.assign(process.env, dated(iso));
      return repo.git(...args);
    },
    cli: (...args) => runCli([...args, '-C', repo.root], { env: { ...s3.env } }),
  };
}

/** Promotes on a branch (dated), then fast-forwards main to it: a merged pull request. */
async function merged(s: Awaited<ReturnType<typeof stage>>, iso: string, ...promoteArgs: string[]) {
  Object.assign(process.env, { GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });
  const p = await s.cli('promote', ...promoteArgs);
  if (p.code !== 0) throw new Error(p.stderr);
  const branch = JSON.parse((await s.cli('promote', ...promoteArgs, '--force', '--json')).stdout).branch as string;
  s.at(iso, 'checkout', '-q', 'main');
  s.at(iso, 'merge', '-q', '--no-ff', '-m', `Merge ${branch}`, branch);
  s.repo.git('push', '-q', 'origin', 'main');
  return s.repo.git('rev-parse', 'HEAD').trim();
}

const gate = (out: string, name: string) => new RegExp(`^  (\\w+)\\s+${name}\\s+(.*)$`, 'm').exec(out);

t.test('a staging promotion: every gate passes; approvals are left to GitHub', async (t) => {
  const s = await stage(t);
  await s.cli('promote', 'fraud-detector@2026.11.20-1', '--to', 'staging');
  const r = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(1));
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /^READY: every gate passes; approvals are checked on GitHub\n/);
  t.match(r.stdout, /promote staging: fraud-detector 2026\.11\.13-1 → 2026\.11\.20-1/);
  for (const g of ['schema', 'features', 'integrity', 'performance', 'drift']) t.equal(gate(r.stdout, g)?.[1], 'pass', `${g} passes`);
  t.match(gate(r.stdout, 'approvals')?.[2], /needs 1 approval.*checked on GitHub/);
  const json = JSON.parse((await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(1), '--json')).stdout);
  t.equal(json.verdict, 'ready');
  t.same(Object.keys(json.binding.models), ['fraud-detector@2026.11.20-1'], 'the report is bound to the model digest it judged');
  t.match(json.binding.environments['environments/staging.yaml'], /^[0-9a-f]{64}$/);
  // What merge will do: staging is serverless, so the one InferenceService changes its storageUri; the task its CONFIG.
  t.same(json.preview.plans.map((p: { environment: string; actions: Array<{ op: string; key: string }> }) => [p.environment, p.actions.filter((a) => a.op !== 'noop').map((a) => `${a.op} ${a.key}`)]),
    [['staging', ['update InferenceService/ml-staging/fraud-detector', 'update ML_STAGING.SCORING.MODELSHIP_FRAUD_DETECTOR']]]);
  const update = json.preview.plans[0].actions.find((a: { key: string }) => a.key === 'InferenceService/ml-staging/fraud-detector');
  t.ok(update.diff.some((d: string) => /^~ spec\.predictor\.model\.storageUri: .*\/model\.json → .*83d349da.*\/model\.json$/.test(d)), 'the diff shows the new artifact');
});

t.test('production: a staging soak 1 h short blocks, exactly enough passes', async (t) => {
  const s = await stage(t);
  await merged(s, hours(0), 'fraud-detector@2026.11.20-1', '--to', 'staging');
  Object.assign(process.env, { GIT_AUTHOR_DATE: hours(47), GIT_COMMITTER_DATE: hours(47) });
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.20-1', '--to', 'production')).code, 0);
  const short = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(47));
  t.equal(short.code, 1);
  t.match(short.stdout, /^BLOCKED: 1 blocking result \(soak\)/);
  t.match(gate(short.stdout, 'soak')?.[2], 'fraud-detector 2026.11.20-1 has been live in staging for 47h; production needs 48h (1h more; from 2026-11-20T10:00Z)');
  const enough = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(48));
  t.equal(enough.code, 0, enough.stdout);
  t.equal(gate(enough.stdout, 'soak')?.[1], 'pass');
  t.match(gate(enough.stdout, 'performance')?.[2], /3 metrics and 3 slices within bounds against production 2026\.11\.06-1/);
});

t.test('production drift reads the serving data the live version scored (the SQL `modelship drift` runs), not training data', async (t) => {
  const s = await stage(t);
  await merged(s, hours(0), 'fraud-detector@2026.11.20-1', '--to', 'staging');
  Object.assign(process.env, { GIT_AUTHOR_DATE: hours(48), GIT_COMMITTER_DATE: hours(48) });
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.20-1', '--to', 'production')).code, 0);
  // 2026.11.06-1 is live in production; over the policy's 7 days its scoring log shows amounts moved up.
  const live = parseYaml(readFileSync(join(projectRoot, 'models/fraud-detector/versions/2026.11.06-1.yaml'), 'utf8')) as VersionManifest;
  const end = new Date(hours(48));
  const snow = await startSnowflakeStandIn({
    setup: (c) => loadLog(c, 'ANALYTICS.SCORES.FRAUD_SCORES', fraudLogSpec(live), makeRows(fraudLogSpec(live), {
      n: 4000, version: live.version, start: new Date(end.getTime() - 6 * 86_400_000), end, seed: 11,
      shifts: { txn_amount: { weights: [1, 1, 1, 2, 3, 4, 6, 8, 9, 9] } },
    })),
  });
  t.teardown(() => snow.stop());
  const snowflake = { SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password, MODELSHIP_SNOWFLAKE_URL: snow.url };
  const r = await runCli(['check', '--base', 'main', '--head', 'HEAD', '--at', hours(48), '-C', s.repo.root], { env: { ...s3.env, ...snowflake } });
  t.equal(r.code, 1, r.stdout);
  t.match(gate(r.stdout, 'drift')?.[2], /PSI \d\.\d+ on txn_amount|txn_amount/);
  t.match(r.stdout, /serving data of 2026\.11\.06-1 in production, last 7d \(4,000 rows of ANALYTICS\.SCORES\.FRAUD_SCORES\) vs training data of 2026\.11\.20-1/);
  t.notMatch(r.stdout, /no serving data source/);
  const aggregations = snow.queries.filter((q) => /^SELECT\n {2}COUNT\(\*\) AS N_ROWS/.test(q.sqlText));
  t.equal(aggregations.length, 1, 'one aggregation, in the warehouse');

  // Without a Snowflake connection the live version's training data stands in, and the report says why.
  const offline = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(48));
  t.match(offline.stdout, /training data of 2026\.11\.06-1 \(live in production; serving data not read: no Snowflake connection is configured/);
});

t.test('a pull request that loosens a threshold and promotes a weak model in the same change is blocked by the base policy', async (t) => {
  const s = await stage(t);
  const weak = makeRun();
  const report = JSON.parse(readFileSync(join(weak.dir, 'validation-report.json'), 'utf8'));
  report.metrics.overall.auc = 0.85;
  weak.writeReport(JSON.stringify(report, null, 2));
  t.equal((await runCli(['register', weak.dir, '--version', '2026.11.21-1', '-C', s.repo.root], { env: { ...s3.env, ...registeredBefore } })).code, 0);
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.21-1', '--to', 'staging')).code, 0);
  const policy = join(s.repo.root, 'policies/staging.yaml');
  writeFileSync(policy, readFileSync(policy, 'utf8').replace('auc: { direction: higher, min: 0.90, maxRegression: 0.01 }', 'auc: { direction: higher, min: 0.80, maxRegression: 0.2 }'));
  s.repo.git('commit', '-qam', 'relax the staging AUC bound');
  const r = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(1));
  t.equal(r.code, 1);
  t.match(gate(r.stdout, 'performance')?.[2], /auc 0\.850 is below the minimum 0\.900/, 'judged by the bound on main, not the loosened one');
  t.match(r.stdout, /policy staging: policy for staging modified\n  skipped policy\s+needs 1 approval: policy owners \(@acmerisk\/ml-platform\) of the base branch/);
});

t.test('editing a registered version fails integrity: versions are immutable', async (t) => {
  const s = await stage(t);
  s.repo.git('checkout', '-q', '-b', 'tweak');
  const file = join(s.repo.root, 'models/fraud-detector/versions/2026.11.13-1.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/seed: (\d+)/, 'seed: 7'));
  s.repo.git('commit', '-qam', 'fix the seed');
  const r = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(1));
  t.equal(r.code, 1);
  t.match(r.stdout, /version-modified staging: registered version fraud-detector@2026\.11\.13-1 modified/);
  t.match(gate(r.stdout, 'integrity')?.[2], /models\/fraud-detector\/versions\/2026\.11\.13-1\.yaml is modified in this pull request; registered versions are immutable/);
});

t.test('a version manifest register did not write is blocked: altered after register, or written by hand', async (t) => {
  const s = await stage(t);
  // The registered one passes (the first test); the same file with invented metrics does not.
  const file = join(s.repo.root, 'models/fraud-detector/versions/2026.11.20-1.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/auc: 0\.941/, 'auc: 0.999'));
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.20-1', '--to', 'staging')).code, 0);
  const altered = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(1));
  t.equal(altered.code, 1, altered.stdout);
  t.equal(gate(altered.stdout, 'integrity')?.[1], 'fail');
  t.equal(gate(altered.stdout, 'integrity')?.[2], 'not registered: models/fraud-detector/versions/2026.11.20-1.yaml differs from what register wrote');

  // A manifest written by hand, reusing the registered artifact with invented metrics: no record at all.
  const forged = readFileSync(file, 'utf8').replaceAll('2026.11.20-1', '2026.11.22-1');
  s.repo.git('checkout', '-q', 'main');
  writeFileSync(join(s.repo.root, 'models/fraud-detector/versions/2026.11.22-1.yaml'), forged);
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.22-1', '--to', 'staging')).code, 0);
  const digest = createHash('sha256').update(forged).digest('hex');
  const handWritten = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(1));
  t.equal(handWritten.code, 1, handWritten.stdout);
  t.equal(gate(handWritten.stdout, 'integrity')?.[2], `not registered: register wrote no record of models/fraud-detector/versions/2026.11.22-1.yaml (expected s3://acme-model-registry/fraud-detector/manifests/2026.11.22-1/${digest}.yaml); only manifests written by modelship register can be promoted`);
  t.match(gate(handWritten.stdout, 'performance')?.[1], 'pass', 'the invented metrics would have passed performance');
});

t.test('a head that does not validate: the report names file, line and column, and no gate runs', async (t) => {
  const s = await stage(t);
  s.repo.git('checkout', '-q', '-b', 'broken');
  const file = join(s.repo.root, 'environments/staging.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('version: 2026.11.13-1', 'version: 2026.11.31-1'));
  s.repo.git('commit', '-qam', 'pin a version that does not exist');
  const r = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--format', 'markdown');
  t.equal(r.code, 1);
  t.match(r.stdout, /### ❌ modelship: HEAD \([0-9a-f]{12}\) does not validate: 1 problem; no gate ran/);
  t.match(r.stdout, /environments\/staging\.yaml:\d+:\d+  models\.fraud-detector\.version  version "2026\.11\.31-1" of fraud-detector is not registered/);
  t.notMatch(r.stdout, /\| schema \|/, 'no gate table');
});

t.test('a git revert of a promotion is a rollback: the fast lane skips soak, performance and drift', async (t) => {
  const s = await stage(t);
  await merged(s, hours(0), 'fraud-detector@2026.11.20-1', '--to', 'staging');
  s.at(hours(5), 'checkout', '-q', '-b', 'revert-promotion');
  s.at(hours(5), 'revert', '--no-edit', '-m', '1', 'main');
  const r = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(5));
  t.equal(r.code, 0, r.stdout);
  t.match(r.stdout, /^WARNINGS: passes with warnings/);
  t.match(r.stdout, /warn    integrity  models\/fraud-detector\/versions\/2026\.11\.20-1\.yaml is deleted in this pull request; it is pinned nowhere/,
    'reverting the merge also removes the manifest the promotion added: a warning, not a block');
  t.match(r.stdout, /rollback staging: fraud-detector 2026\.11\.20-1 → 2026\.11\.13-1 \(rollback to a version live here before\)/);
  for (const g of ['performance', 'drift']) t.match(gate(r.stdout, g)?.[2], /not required for a rollback \(fast lane\)/);
  t.equal(gate(r.stdout, 'schema')?.[1], 'pass', 'the gates the fast lane keeps still run');
});

t.test('production during a freeze window is blocked; the freeze names its reason and end', async (t) => {
  const s = await stage(t);
  await merged(s, hours(0), 'fraud-detector@2026.11.20-1', '--to', 'staging');
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.20-1', '--to', 'production')).code, 0);
  const r = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', '2026-11-27T15:00:00Z');
  t.equal(r.code, 1);
  t.match(gate(r.stdout, 'freeze')?.[2], /frozen by "black-friday" until 2026-12-01T08:00Z.*Peak card volume/);
});

t.test('promoting a canary needs live evidence: without a metric source the canary gate is an error, never a pass', async (t) => {
  const s = await stage(t);
  await merged(s, hours(0), 'fraud-detector@2026.11.20-1', '--to', 'staging');
  await merged(s, hours(50), 'fraud-detector@2026.11.20-1', '--to', 'production', '--canary', '5');
  t.equal((await s.cli('promote', 'fraud-detector@2026.11.20-1', '--to', 'production')).code, 0);
  const r = await s.cli('check', '--base', 'main', '--head', 'HEAD', '--at', hours(53));
  t.equal(r.code, 1);
  t.match(r.stdout, /canary-promote production: fraud-detector 2026\.11\.06-1 → 2026\.11\.20-1 \(canary at 5% promoted\)/);
  t.equal(gate(r.stdout, 'canary')?.[1], 'error');
  t.match(r.stdout, /no prometheus source is configured/);
});

t.test('usage: an unknown format and a bad time exit 2', async (t) => {
  const s = await stage(t);
  t.equal((await s.cli('check', '--format', 'yaml')).code, 2);
  const at = await s.cli('check', '--at', 'yesterday');
  t.equal(at.code, 2);
  t.match(at.stderr, /--at expects a time such as 2026-11-20T10:00:00Z, found "yesterday"/);
});
