// `modelship check` of a pull request that promotes the version shadowed in production: the shadow
// gate reads the prediction log (environments/production.yaml inferenceLog) in the Snowflake
// stand-in through the real snowflake-sdk, one aggregation, over the policy's 24h (never before
// the shadow was pinned, from git history), and judges it with policies/production.yaml's bounds.
import t, { type Test } from 'tap';
import { runCli } from '../helpers/cli.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { hours } from '../helpers/clock.js';
import type { TestRepo } from '../helpers/repo.js';
import { candidate, champion, dated, predictionLog, shadowedRepository, table, warehouseWithLog } from '../helpers/shadow.js';
import type { PredictionRow } from '../../tools/sandbox/snowflake/prediction-log.js';

let s3: TestS3;
let built: Promise<TestRepo> | undefined;
t.before(async () => {
  s3 = await startCheckerS3();
});
t.teardown(async () => {
  (await built?.catch(() => undefined))?.cleanup();
  await s3.stop();
});

const cli = (root: string, env: NodeJS.ProcessEnv, ...args: string[]) => runCli([...args, '-C', root], { env: { ...s3.env, ...env } });

/** The shadow in production since 48h, and at 72h a branch promoting it. */
async function repository(): Promise<TestRepo> {
  const repo = await shadowedRepository(s3.env);
  dated(hours(72));
  const p = await cli(repo.root, {}, 'promote', `fraud-detector@${candidate}`, '--to', 'production');
  if (p.code !== 0) throw new Error(p.stderr);
  return repo;
}

/** The log, and a request before the shadow was pinned (47h), which must not count. */
function log(shadow: (score: number, i: number) => number): PredictionRow[] {
  return [...predictionLog(shadow), { requestId: 'early', model: 'fraud-detector', version: champion, score: 0.9, latencyMs: 5, error: null, requestedAt: new Date(hours(47)), slices: { REGION: 'eu' } }];
}

async function check(t: Test, rows: PredictionRow[]) {
  built ??= repository();
  const repo = await built;
  const { snow, env } = await warehouseWithLog(t, rows);
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
