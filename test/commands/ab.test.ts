// An A/B test end to end through the CLI on real git histories: `promote --ab` edits
// environments/production.yaml, the check judges the start (the plan) and the conclusion (the
// always-valid test on the north-star metric, read through snowflake-sdk from the Snowflake
// stand-in), `--ab-override` concludes without a verdict, and the audit facts keep the reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import type { DuckDBConnection } from '@duckdb/node-api';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { hours, registeredBefore } from '../helpers/clock.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { commitInfo } from '../../src/adapters/git/audit.js';
import { changeFromGit } from '../../src/audit/facts.js';

let s3: TestS3;
t.before(async () => {
  s3 = await startCheckerS3();
});
t.teardown(() => s3.stop());

const A = '2026.11.06-1';
const B = '2026.11.20-1';

async function stage(t: Test): Promise<{ repo: TestRepo; cli: (env: Record<string, string>, ...args: string[]) => ReturnType<typeof runCli> }> {
  Object.assign(process.env, { GIT_AUTHOR_DATE: hours(-48), GIT_COMMITTER_DATE: hours(-48) });
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const reg = await runCli(['register', makeRun().dir, '-C', repo.root], { env: { ...s3.env, ...registeredBefore } });
  t.equal(reg.code, 0, reg.stderr);
  return { repo, cli: (env, ...args) => runCli([...args, '-C', repo.root], { env: { ...s3.env, ...env } }) };
}

/** Promotes on a branch dated `iso`, then merges it into main (a merged pull request). */
async function merged(s: Awaited<ReturnType<typeof stage>>, iso: string, ...promoteArgs: string[]): Promise<string> {
  Object.assign(process.env, { GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });
  const p = await s.cli({}, 'promote', ...promoteArgs, '--json');
  if (p.code !== 0) throw new Error(p.stderr);
  const branch = JSON.parse(p.stdout).branch as string;
  s.repo.git('checkout', '-q', 'main');
  s.repo.git('merge', '-q', '--no-ff', '-m', `Merge ${branch}`, branch);
  s.repo.git('push', '-q', 'origin', 'main');
  return s.repo.git('rev-parse', 'HEAD').trim();
}

const gate = (out: string, name: string) => new RegExp(`^  (\\w+)\\s+${name}\\s+(.*)$`, 'm').exec(out);

/**
 * The warehouse: `perArm` requests per arm logged between the A/B's start and `end`, each with an
 * outcome; A approves 90 % of them, B `rateB` (deterministic, by a hash of the request number).
 */
function warehouse(perArm: number, rateB: number, start: string, end: string) {
  return async (c: DuckDBConnection) => {
    await c.run("ATTACH ':memory:' AS ANALYTICS");
    await c.run('CREATE SCHEMA ANALYTICS.INFERENCE');
    await c.run('CREATE SCHEMA ANALYTICS.DECISIONS');
    await c.run('CREATE TABLE ANALYTICS.INFERENCE.PREDICTION_LOG (REQUEST_ID VARCHAR, MODEL_NAME VARCHAR, MODEL_VERSION VARCHAR, SCORE DOUBLE, DECISION VARCHAR, LATENCY_MS DOUBLE, ERROR VARCHAR, REQUESTED_AT TIMESTAMPTZ)');
    await c.run('CREATE TABLE ANALYTICS.DECISIONS.AUTHORISATION_OUTCOMES (REQUEST_ID VARCHAR, APPROVED INTEGER)');
    const span = (Date.parse(end) - Date.parse(start)) / 1000;
    await c.run(`INSERT INTO ANALYTICS.INFERENCE.PREDICTION_LOG SELECT 'req-' || i, 'fraud-detector', CASE WHEN i % 2 = 0 THEN '${A}' ELSE '${B}' END, 0.1, 'approve', 10,
      NULL, CAST('${start}' AS TIMESTAMPTZ) + to_seconds(CAST(floor(i * ${span} / ${2 * perArm + 1}) AS BIGINT)) FROM range(${2 * perArm}) t(i)`);
    await c.run(`INSERT INTO ANALYTICS.DECISIONS.AUTHORISATION_OUTCOMES SELECT 'req-' || i,
      CASE WHEN hash(i) % 10000 < (CASE WHEN i % 2 = 0 THEN 9000 ELSE ${Math.round(rateB * 10000)} END) THEN 1 ELSE 0 END FROM range(${2 * perArm}) t(i)`);
  };
}

async function snowflake(t: Test, perArm: number, rateB: number, start: string, end: string): Promise<Record<string, string>> {
  const snow = await startSnowflakeStandIn({ setup: warehouse(perArm, rateB, start, end) });
  t.teardown(() => snow.stop());
  return { SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password, MODELSHIP_SNOWFLAKE_URL: snow.url };
}

t.test('promote --ab: the edit to environments/production.yaml, and the check shows the plan', async (t) => {
  const s = await stage(t);
  await merged(s, hours(0), `fraud-detector@${B}`, '--to', 'staging');
  Object.assign(process.env, { GIT_AUTHOR_DATE: hours(50), GIT_COMMITTER_DATE: hours(50) });
  const p = await s.cli({}, 'promote', `fraud-detector@${B}`, '--to', 'production', '--ab', '50', '--json');
  t.equal(p.code, 0, p.stderr);
  const out = JSON.parse(p.stdout);
  t.equal(out.change, 'ab-start');
  t.equal(out.branch, `promote/production/fraud-detector-${B}-ab50`);
  t.same(out.to, { version: A, canary: { version: B, traffic: 50, ab: true } });
  t.equal(s.repo.git('diff', 'main', 'HEAD', '--', 'environments/production.yaml').split('\n').filter((l) => /^[-+] /.test(l)).join('\n'),
    `+    canary: { version: ${B}, traffic: 50, ab: true }`, 'one line: the B arm, marked as an A/B');
  t.same(parse(readFileSync(join(s.repo.root, 'environments/production.yaml'), 'utf8')).models['fraud-detector'].canary, { version: B, traffic: 50, ab: true });
  t.match(s.repo.git('log', '-1', '--format=%B'), /^ab\(production\): fraud-detector 2026\.11\.20-1 \(B\) at 50% against 2026\.11\.06-1 \(A\)\n/);
  const r = await s.cli({}, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(50));
  t.match(r.stdout, /ab-start production: fraud-detector A\/B: 2026\.11\.20-1 at 50% beside 2026\.11\.06-1/);
  t.equal(gate(r.stdout, 'ab')?.[1], 'pass', r.stdout);
  t.equal(gate(r.stdout, 'ab')?.[2], `A/B of fraud-detector ${B} (B, 50%) against ${A} (A) on approval-rate (proportion, better when it increases); plan: an effect of 0.01 needs 13,495 A / 13,495 B requests with an outcome for a fixed-horizon z-test (α 0.05, power 0.8); the always-valid test reaches that power by 26,148 A / 26,148 B`);
  const refused = await s.cli({}, 'promote', `fraud-detector@${A}`, '--to', 'production', '--ab', '20');
  t.equal(refused.code, 1);
  t.match(refused.stderr, /error: fraud-detector@2026\.11\.06-1 is the stable version in production; the B arm of an A\/B must be a different version/);
  const conflict = await s.cli({}, 'promote', `fraud-detector@${B}`, '--to', 'production', '--ab', '20', '--canary', '5');
  t.equal(conflict.code, 2);
  t.match(conflict.stderr, /option '--ab <percent>' cannot be used with option '--canary <percent>'/);
});

t.test('concluding: B is promoted when the always-valid test finds it better; blocked with the numbers when not yet', async (t) => {
  const s = await stage(t);
  await merged(s, hours(0), `fraud-detector@${B}`, '--to', 'staging');
  await merged(s, hours(50), `fraud-detector@${B}`, '--to', 'production', '--ab', '50');
  Object.assign(process.env, { GIT_AUTHOR_DATE: hours(286), GIT_COMMITTER_DATE: hours(286) });
  const p = await s.cli({}, 'promote', `fraud-detector@${B}`, '--to', 'production', '--json');
  t.equal(p.code, 0, p.stderr);
  t.equal(JSON.parse(p.stdout).change, 'ab-conclude');
  t.equal(s.repo.git('diff', 'main', 'HEAD', '--', 'environments/production.yaml').split('\n').filter((l) => /^[-+] /.test(l)).join('\n'),
    `-    version: ${A}   # promoted 2026-11-10 after 96h in staging\n-    canary: { version: ${B}, traffic: 50, ab: true }\n+    version: ${B}   # promoted 2026-11-10 after 96h in staging`);

  const better = await snowflake(t, 30_000, 0.93, hours(50), hours(286));
  const r = await s.cli(better, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(286));
  t.match(r.stdout, /ab-conclude production: fraud-detector 2026\.11\.06-1 → 2026\.11\.20-1 \(A\/B concluded: B promoted\)/);
  t.equal(gate(r.stdout, 'ab')?.[1], 'pass', r.stdout);
  t.match(gate(r.stdout, 'ab')?.[2], /: B is significantly better; effect \+0\.0\d+ \(\+\d\.\d+%\), 95% CI \[\+0\.0\d+, \+0\.0\d+\], always-valid p [\d.e-]+; requests with an outcome: A 30,000, B 30,000 \(always-valid horizon 26,148 \/ 26,148\)/);
  t.equal(r.code, 0, r.stdout);
  const md = await s.cli(better, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(286), '--format', 'markdown');
  t.match(md.stdout, /\*\*A\/B: fraud-detector — approval-rate\*\* \(better when it increases\), since 2026-11-22T12:00:00\.000Z/);
  t.match(md.stdout, /\| A \| 2026\.11\.06-1 \| 30,000 \| 30,000 \| 26,148 \| 13,495 \| 0\.\d+ \|/);
  t.match(md.stdout, /Effect B − A: \*\*\+0\.0\d+\*\* \(\+\d\.\d+ %\), 95 % confidence interval \[\+0\.0\d+, \+0\.0\d+\], always-valid p = [\d.e-]+; verdict: b-better/);

  const early = await snowflake(t, 3000, 0.905, hours(50), hours(286));
  const blocked = await s.cli(early, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(286));
  t.equal(blocked.code, 1);
  t.match(blocked.stdout, /^BLOCKED: 1 blocking result \(ab\)/);
  t.match(gate(blocked.stdout, 'ab')?.[2], /: promoting B needs B significantly better; not significant yet: keep the A\/B running; effect [+-]0\.0\d+ .*95% CI \[-0\.\d+, \+0\.\d+\], always-valid p [\d.]+; requests with an outcome: A 3,000, B 3,000 \(always-valid horizon 26,148 \/ 26,148\)/);

  // no warehouse configured: never a pass
  const none = await s.cli({}, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(286));
  t.equal(none.code, 1);
  t.equal(gate(none.stdout, 'ab')?.[1], 'error');
  t.match(gate(none.stdout, 'ab')?.[2], /the north-star metric could not be measured: no Snowflake connection is configured \(SNOWFLAKE_ACCOUNT\) to read ANALYTICS\.DECISIONS\.AUTHORISATION_OUTCOMES/);
});

t.test('ending an A/B without a verdict: blocked, unless --ab-override puts a reason in the commit, which the check shows and the audit keeps', async (t) => {
  const s = await stage(t);
  await merged(s, hours(0), `fraud-detector@${B}`, '--to', 'staging');
  await merged(s, hours(50), `fraud-detector@${B}`, '--to', 'production', '--ab', '50');
  const early = await snowflake(t, 3000, 0.905, hours(50), hours(98));
  Object.assign(process.env, { GIT_AUTHOR_DATE: hours(98), GIT_COMMITTER_DATE: hours(98) });
  t.equal((await s.cli({}, 'promote', `fraud-detector@${A}`, '--to', 'production')).code, 0);
  const blocked = await s.cli(early, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(98));
  t.equal(blocked.code, 1);
  t.match(blocked.stdout, /ab-conclude production: fraud-detector A\/B of 2026\.11\.20-1 ended; 2026\.11\.06-1 kept/);
  t.match(gate(blocked.stdout, 'ab')?.[2], /: inconclusive: neither significant nor at the planned horizon; keep the A\/B running, or end it with an AB-Override: <reason> trailer;/);

  const reason = 'holiday traffic makes the test void; rerun in January';
  const p = await s.cli({}, 'promote', `fraud-detector@${A}`, '--to', 'production', '--ab-override', reason, '--force', '--json');
  t.equal(p.code, 0, p.stderr);
  t.equal(JSON.parse(p.stdout).branch, `promote/production/fraud-detector-${A}-conclude-ab`);
  t.match(s.repo.git('log', '-1', '--format=%B'), new RegExp(`\\nModelship-Change: ab-conclude\\nModelship-Previous-Version: ${A}\\nAB-Override: ${reason}\\n`));
  const overridden = await s.cli(early, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(98));
  t.equal(overridden.code, 0, overridden.stdout);
  t.equal(gate(overridden.stdout, 'ab')?.[1], 'warn');
  t.match(gate(overridden.stdout, 'ab')?.[2], new RegExp(`^overridden: ${reason} \\(the A/B test said: A/B of fraud-detector .*inconclusive`));
  t.match(overridden.stdout, /^WARNINGS: passes with warnings/);
  const md = await s.cli(early, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(98), '--format', 'markdown');
  t.match(md.stdout, /\| ab \| ⚠️ warn \| overridden: holiday traffic makes the test void; rerun in January \(the A\/B test said: /);
  t.match(md.stdout, /\n> ⚠️ overridden: holiday traffic makes the test void; rerun in January\n/);

  // merged, the audit facts of the merge commit carry the reason (from the merged branch's tip)
  const merge = await merged(s, hours(99), `fraud-detector@${A}`, '--to', 'production', '--ab-override', reason, '--force');
  const info = (await commitInfo(s.repo.root, merge))!;
  const tip = (await commitInfo(s.repo.root, s.repo.git('rev-parse', `${merge}^2`).trim()))!;
  t.equal(changeFromGit(info, tip).abOverride, reason);
  t.equal(changeFromGit(tip, undefined).abOverride, reason, 'a squash or rebase merge carries the trailer itself');

  // the override is for concluding an A/B only, and takes one line
  const wrong = await s.cli({}, 'promote', 'fraud-detector@2026.11.13-1', '--to', 'staging', '--ab-override', 'x', '--force');
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, /error: --ab-override concludes a running A\/B, but this promotion is a promote; no A\/B of fraud-detector runs in staging/);
  const multi = await s.cli({}, 'promote', `fraud-detector@${A}`, '--to', 'production', '--ab-override', 'one\ntwo');
  t.equal(multi.code, 2);
  t.match(multi.stderr, /error: --ab-override needs a reason on one line \(1-500 characters\), found "one\\ntwo"/);
});
