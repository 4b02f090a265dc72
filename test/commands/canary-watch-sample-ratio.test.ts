// `modelship canary watch` with the sample ratio check: a live 5% canary of fraud-detector in
// production, the policy asking for canary.sampleRatio, and the prediction log in the Snowflake
// stand-in (read through the real snowflake-sdk). A canary that got twice its share is a breach;
// one that got its share is healthy. No Prometheus runs: the error-rate check is an alert, which
// never rolls back, so the verdict is the sample ratio's.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runCli } from '../helpers/cli.js';
import { after, bad, dated, iso, startCanary, started } from '../helpers/canary-breach.js';
import { makeReleaseRepo, type TestRepo } from '../helpers/repo.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { appendPredictionLog, createPredictionLog, type PredictionRow } from '../../tools/sandbox/snowflake/prediction-log.js';

const table = 'ANALYTICS.INFERENCE.PREDICTION_LOG';
let s3: TestS3;
let repo: TestRepo;
t.before(async () => {
  s3 = await startCheckerS3();
});
t.teardown(async () => {
  repo?.cleanup();
  await s3.stop();
});

async function canaryRepo(t: Test): Promise<TestRepo> {
  if (repo) return repo;
  dated(iso(new Date(started.getTime() - 100 * 3_600_000)));
  repo = makeReleaseRepo();
  await startCanary(t, repo, s3.env, 'pr');
  dated(after(1));
  const file = join(repo.root, 'policies/production.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('  autoRollback: pr\n', '  autoRollback: pr\n  sampleRatio: { minPValue: 0.001, minRequests: 1000 }\n'));
  repo.git('commit', '-qam', 'production: check the canary\'s traffic split');
  repo.git('push', '-q', 'origin', 'main');
  return repo;
}

/** `n` requests since the canary started, every `every`-th one answered by the canary. */
function log(n: number, every: number): PredictionRow[] {
  const span = bad.getTime() + 10 * 60_000 - started.getTime();
  return Array.from({ length: n }, (_, i) => ({
    requestId: `r${i}`, model: 'fraud-detector', version: i % every === 0 ? '2026.11.20-1' : '2026.11.06-1', score: 0.2, latencyMs: 8, error: null,
    requestedAt: new Date(started.getTime() + Math.floor((span * i) / n)),
  }));
}

async function watch(t: Test, rows: PredictionRow[]) {
  const root = (await canaryRepo(t)).root;
  const snow = await startSnowflakeStandIn({ setup: async (c) => { await createPredictionLog(c, table); await appendPredictionLog(c, table, rows); } });
  t.teardown(() => snow.stop());
  const env = {
    ...s3.env, SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password,
    MODELSHIP_SNOWFLAKE_URL: snow.url,
  };
  const r = await runCli(['canary', 'watch', '--env', 'production', '--once', '--at', after(20), '--prometheus-url', 'http://127.0.0.1:9', '-C', root], { env });
  return { r, snow };
}

t.test('the canary got twice its configured share: a breach, saying why', async (t) => {
  const { r, snow } = await watch(t, log(4000, 10));
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, /fraud-detector 2026\.11\.20-1 at 5% beside 2026\.11\.06-1 \(canary since .*\): BREACHED\n/);
  t.match(r.stdout, /why {4}sample ratio mismatch: canary 2026\.11\.20-1 has 10\.00% of 4,000 logged requests, configured 5%; χ² 210\.53, p 1\.1e-47 < 0\.001: the traffic split is not the configured one\n/);
  t.match(r.stdout, /action none: report only/);
  const counted = snow.queries.filter((q) => /PREDICTION_LOG/.test(q.sqlText));
  t.equal(counted.length, 1, 'one aggregation');
  t.same(Object.values(counted[0]!.bindings).map((b) => b.value).slice(0, 3), ['2026.11.06-1', '2026.11.20-1', 'fraud-detector'], 'versions and model bound');
});

t.test('the canary got its share: healthy on the split (the unanswered Prometheus is an alert, not a breach)', async (t) => {
  const { r } = await watch(t, log(4000, 20));
  t.equal(r.code, 3, r.stdout + r.stderr);
  t.match(r.stdout, /: UNKNOWN \(metric source down\)\n/);
  t.match(r.stdout, /ok {5}sample ratio: canary 2026\.11\.20-1 has 5\.00% of 4,000 logged requests, configured 5%; χ² 0\.00, p 1 ≥ 0\.001\n/);
  t.notMatch(r.stdout, /why /);
});
