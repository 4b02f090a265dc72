// `modelship check` of a pull request that promotes the version shadowed in production: the shadow
// gate reads the prediction log (environments/production.yaml inferenceLog) in the Snowflake
// stand-in through the real snowflake-sdk, one aggregation, over the policy's 24h (never before
// the shadow was pinned, from git history), and judges it with policies/production.yaml's bounds.
import t, { type Test } from 'tap';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { hours, registeredBefore } from '../helpers/clock.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { appendPredictionLog, createPredictionLog, type PredictionRow } from '../../tools/sandbox/snowflake/prediction-log.js';

const table = 'ANALYTICS.INFERENCE.PREDICTION_LOG';
const champion = '2026.11.06-1';
const candidate = '2026.11.20-1';
let s3: TestS3;
let built: Promise<TestRepo> | undefined;
t.before(async () => {
  s3 = await startCheckerS3();
});
t.teardown(async () => {
  (await built?.catch(() => undefined))?.cleanup();
  await s3.stop();
});

const dated = (iso: string) => Object.assign(process.env, { GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });
const cli = (root: string, env: NodeJS.ProcessEnv, ...args: string[]) => runCli([...args, '-C', root], { env: { ...s3.env, ...env } });

/** Staging at 0h, a production shadow at 48h (both merged), and at 72h a branch promoting the shadow. */
async function repository(): Promise<TestRepo> {
  dated(hours(-48));
  const repo = makeReleaseRepo();
  const reg = await runCli(['register', makeRun().dir, '-C', repo.root], { env: { ...s3.env, ...registeredBefore } });
  if (reg.code !== 0) throw new Error(reg.stderr);
  for (const [at, args] of [[hours(0), ['--to', 'staging']], [hours(48), ['--to', 'production', '--shadow']]] as const) {
    dated(at);
    const p = await cli(repo.root, {}, 'promote', `fraud-detector@${candidate}`, ...args, '--json');
    if (p.code !== 0) throw new Error(p.stderr);
    const branch = JSON.parse(p.stdout).branch as string;
    repo.git('checkout', '-q', 'main');
    repo.git('merge', '-q', '--no-ff', '-m', `Merge ${branch}`, branch);
    repo.git('push', '-q', 'origin', 'main');
  }
  dated(hours(72));
  const p = await cli(repo.root, {}, 'promote', `fraud-detector@${candidate}`, '--to', 'production');
  if (p.code !== 0) throw new Error(p.stderr);
  return repo;
}

/** 24,000 requests between 49h and 71h, each answered by both; `shadow` gives the shadow's score from the champion's. */
function log(shadow: (score: number, i: number) => number): PredictionRow[] {
  const rows: PredictionRow[] = [];
  const start = Date.parse(hours(49));
  for (let i = 0; i < 24_000; i++) {
    const at = new Date(start + i * 3300);
    const score = ((i * 7919) % 1000) / 1000;
    const slices = { REGION: i % 4 === 0 ? 'eu' : 'us' };
    rows.push({ requestId: `req-${i}`, model: 'fraud-detector', version: champion, score, latencyMs: 10 + (i % 7), error: null, requestedAt: at, slices });
    rows.push({ requestId: `req-${i}`, model: 'fraud-detector', version: candidate, score: shadow(score, i), latencyMs: 11 + (i % 7), error: null, requestedAt: new Date(at.getTime() + 2), slices });
  }
  // Before the shadow was pinned (47h): must not count.
  rows.push({ requestId: 'early', model: 'fraud-detector', version: champion, score: 0.9, latencyMs: 5, error: null, requestedAt: new Date(hours(47)), slices: { REGION: 'eu' } });
  return rows;
}

async function check(t: Test, rows: PredictionRow[]) {
  built ??= repository();
  const repo = await built;
  const snow = await startSnowflakeStandIn({ setup: async (c) => { await createPredictionLog(c, table, ['REGION']); await appendPredictionLog(c, table, rows, ['REGION']); } });
  t.teardown(() => snow.stop());
  const env = { SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password, MODELSHIP_SNOWFLAKE_URL: snow.url };
  const r = await cli(repo.root, env, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(72), '--json');
  const report = JSON.parse(r.stdout);
  const change = report.changes.find((c: { change: { kind: string } }) => c.change.kind === 'shadow-promote');
  const shadow = change?.gates.find((g: { gate: string }) => g.gate === 'shadow');
  return { shadow, snow };
}

t.test('a shadow that answered like the champion passes, with its numbers, from one aggregation', async (t) => {
  const { shadow, snow } = await check(t, log((s) => Math.min(1, s * 1.01)));
  t.equal(shadow?.status, 'pass', shadow?.summary);
  t.match(shadow.summary, /^shadow 2026\.11\.20-1 vs champion 2026\.11\.06-1: coverage 100\.0% of 24,000 requests; error rate 0\.00% vs 0\.00%; latency p50 14\.0 vs 13\.0 ms; latency p99 17\.0 vs 16\.0 ms; score PSI 0\.0\d\d; decision agreement 99\.\d% at 0\.5; slice region=eu: agreement 99\.\d% \(ANALYTICS\.INFERENCE\.PREDICTION_LOG, 24h to 2026-/);
  const aggregations = snow.queries.filter((q) => /PREDICTION_LOG/.test(q.sqlText));
  t.equal(aggregations.length, 1, 'one statement in the warehouse');
  const binds = Object.values(aggregations[0]!.bindings).map((b) => b.value);
  t.same(binds.slice(0, 4), ['fraud-detector', candidate, hours(48).replace('Z', '.000Z'), hours(72).replace('Z', '.000Z')], 'the window starts when the shadow was pinned');
});

t.test('a shadow whose answers differ too much blocks the promotion, with the numbers', async (t) => {
  const { shadow } = await check(t, log((s) => 0.6 + s * 0.4));
  t.equal(shadow?.status, 'fail');
  t.equal(shadow?.blocking, true);
  t.match(shadow.summary, /^shadow 2026\.11\.20-1 vs champion 2026\.11\.06-1: score PSI \d+\.\d{3} ≥ 0\.25; decision agreement 50\.\d% at 0\.5, need ≥ 98\.0%; slice region=eu: decision agreement 50\.\d%, need ≥ 98\.0% \(/);
});

t.test('without a Snowflake connection the shadow gate errs: unknown is never a pass', async (t) => {
  built ??= repository();
  const repo = await built;
  const r = await cli(repo.root, {}, 'check', '--base', 'main', '--head', 'HEAD', '--at', hours(72), '--json');
  const shadow = JSON.parse(r.stdout).changes.flatMap((c: { gates: unknown[] }) => c.gates).find((g: { gate: string }) => g.gate === 'shadow');
  t.equal(shadow.status, 'error');
  t.equal(shadow.summary, `shadow ${candidate} vs champion ${champion}: the prediction log ${table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT)`);
  t.equal(r.code, 1, 'blocked');
});
