// `modelship status` with a running shadow and a running A/B test in production: the live numbers
// come from the prediction log (and the outcomes table) in the Snowflake stand-in, fed rows in the
// documented schema and read through the real snowflake-sdk by the gates' own aggregations, over
// windows that start at the commits that pinned the shadow and the A/B. Without a warehouse the
// numbers are unknown and the shadow gate is not a pass. Plus the verdict lines from plain data.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { stage } from './stage.js';
import { appendPredictionLog, createPredictionLog, type PredictionRow } from '../../tools/sandbox/snowflake/prediction-log.js';
import { abStatus, shadowStatus } from '../../src/status/experiments.js';
import { abText, shadowText } from '../../src/status/text.js';
import { loadDesiredState } from '../../src/config/state.js';
import { projectRoot } from '../helpers/cli.js';

const table = 'ANALYTICS.INFERENCE.PREDICTION_LOG';
const champion = '2026.11.06-1';
const candidate = '2026.11.13-1';
const hour = 3_600_000;
// The shadow is pinned at T0, the A/B at T1 = T0 + 1 h; status looks at T0 + 1 h and T0 + 2 h.
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 3 * hour;
const T1 = T0 + hour;
const iso = (ms: number) => new Date(ms).toISOString();

/** 24,000 requests in the hour after T0, answered by both; the shadow scores 0.6 + 0.4 × the champion's score. */
function shadowRows(): PredictionRow[] {
  const rows: PredictionRow[] = [];
  for (let i = 0; i < 24_000; i++) {
    const at = new Date(T0 + 1000 + i * 140);
    const score = ((i * 7919) % 1000) / 1000;
    const slices = { REGION: i % 4 === 0 ? 'eu' : 'us' };
    rows.push({ requestId: `shadow-${i}`, model: 'fraud-detector', version: champion, score, latencyMs: 10 + (i % 7), error: null, requestedAt: at, slices });
    rows.push({ requestId: `shadow-${i}`, model: 'fraud-detector', version: candidate, score: 0.6 + 0.4 * score, latencyMs: 11 + (i % 7), error: null, requestedAt: new Date(at.getTime() + 2), slices });
  }
  return rows;
}

/** In the hour after T1: 30,000 requests per arm, each with an outcome; A approves 90 %, B 93 %. */
async function abRows(c: import('@duckdb/node-api').DuckDBConnection): Promise<void> {
  await c.run('CREATE SCHEMA IF NOT EXISTS ANALYTICS.DECISIONS');
  await c.run('CREATE TABLE ANALYTICS.DECISIONS.AUTHORISATION_OUTCOMES (REQUEST_ID VARCHAR, APPROVED INTEGER)');
  await c.run(`INSERT INTO ${table} (REQUEST_ID, MODEL_NAME, MODEL_VERSION, SCORE, DECISION, LATENCY_MS, ERROR, REQUESTED_AT)
    SELECT 'ab-' || i, 'fraud-detector', CASE WHEN i % 2 = 0 THEN '${champion}' ELSE '${candidate}' END, 0.1, 'approve', 10, NULL,
      CAST('${iso(T1 + 1000)}' AS TIMESTAMPTZ) + to_milliseconds(i * 50) FROM range(60000) t(i)`);
  await c.run(`INSERT INTO ANALYTICS.DECISIONS.AUTHORISATION_OUTCOMES SELECT 'ab-' || i,
    CASE WHEN hash(i) % 10000 < (CASE WHEN i % 2 = 0 THEN 9000 ELSE 9300 END) THEN 1 ELSE 0 END FROM range(60000) t(i)`);
}

/** Commits an edit of production's fraud-detector entry at `at`. */
function pin(s: { root: string; git: (...a: string[]) => string }, at: number, edit: (text: string) => string, message: string) {
  const file = join(s.root, 'environments/production.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  const was = { a: process.env.GIT_AUTHOR_DATE, c: process.env.GIT_COMMITTER_DATE };
  Object.assign(process.env, { GIT_AUTHOR_DATE: iso(at), GIT_COMMITTER_DATE: iso(at) });
  try {
    s.git('commit', '-qam', message);
  } finally {
    for (const [k, v] of [['GIT_AUTHOR_DATE', was.a], ['GIT_COMMITTER_DATE', was.c]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const stable = `    version: ${champion}   # promoted 2026-11-10 after 96h in staging\n`;

t.test('a running shadow and then a running A/B: their live numbers, the shadow gate now, the A/B verdict so far', async (t) => {
  const s = await stage(t, {
    setup: async (c) => {
      await createPredictionLog(c, table, ['REGION']);
      await appendPredictionLog(c, table, shadowRows(), ['REGION']);
      await abRows(c);
    },
  });
  pin(s, T0, (x) => x.replace(stable, `${stable}    shadow: { version: ${candidate} }\n`), `shadow(production): fraud-detector ${candidate} beside ${champion}`);

  const text = await s.cli('status', '--env', 'production', '--no-drift', '--at', iso(T1));
  const line = text.stdout.split('\n').find((l) => l.startsWith('  shadow fraud-detector: '));
  t.equal(line, `  shadow fraud-detector: ${candidate} vs champion ${champion} (${iso(T0).slice(0, 16).replace('T', ' ')}Z to ${iso(T1).slice(0, 16).replace('T', ' ')}Z): `
    + 'coverage 100.0% of 24,000 requests; error rate 0.00% vs 0.00%; latency p50 14.0 vs 13.0 ms, p99 17.0 vs 16.0 ms; score PSI '
    + `${/score PSI (\d+\.\d{3})/.exec(line ?? '')?.[1]}; agreement 50.0% at 0.5 → shadow gate would BLOCK: score PSI `
    + `${/score PSI (\d+\.\d{3})/.exec(line ?? '')?.[1]} ≥ 0.25; decision agreement 50.0% at 0.5, need ≥ 98.0%; slice region=eu: decision agreement 50.0%, need ≥ 98.0%`, text.stdout);
  t.ok(Number(/score PSI (\d+\.\d{3})/.exec(line ?? '')?.[1]) > 0.25, 'the scores moved far');
  t.equal(s.snow.queries.filter((q) => /PREDICTION_LOG/.test(q.sqlText)).length, 1, 'one aggregation in the warehouse');

  const json = JSON.parse((await s.cli('status', '--env', 'production', '--no-drift', '--at', iso(T1), '--json')).stdout);
  const fraud = json.environments[0].models.find((m: { model: string }) => m.model === 'fraud-detector');
  t.match(fraud.shadow, {
    champion, candidate, startedAt: iso(T0), window: { start: iso(T0), end: iso(T1) },
    figures: { championRequests: 24_000, bothAnswered: 24_000, coverage: 1, errorRate: { champion: 0, candidate: 0 }, latency: { champion: { p50: 13, p99: 16 }, candidate: { p50: 14, p99: 17 } }, agreement: 0.5, threshold: 0.5 },
    gate: { status: 'fail', findings: [/^score PSI \d+\.\d{3} ≥ 0\.25$/, 'decision agreement 50.0% at 0.5, need ≥ 98.0%', 'slice region=eu: decision agreement 50.0%, need ≥ 98.0%'] },
  });
  t.notOk(fraud.ab);

  const dir = join(s.root, '..', 'dashboard');
  t.equal((await s.cli('status', '--env', 'production', '--no-drift', '--at', iso(T1), '--html', dir)).code, 1, 'out of sync (nothing synced): exit 1, the shadow does not change it');
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  t.match(html, /<div class="card" data-shadow="production\/fraud-detector"><b>production · fraud-detector: shadow 2026\.11\.13-1<\/b>(.|\n)*?<tr><td>coverage<\/td><td>100\.0%<\/td>(.|\n)*?<tr><td>latency p99<\/td><td>17\.0 ms<\/td><td>16\.0 ms<\/td><\/tr>(.|\n)*?<tr><td>decision agreement at 0\.5<\/td><td colspan="2">50\.0%<\/td><\/tr>(.|\n)*?shadow gate: <span class="state b-bad">would BLOCK: score PSI \d\.\d{3} ≥ 0\.25; decision agreement 50\.0% at 0\.5, need ≥ 98\.0%; slice region=eu: decision agreement 50\.0%, need ≥ 98\.0%<\/span>/, 'the dashboard\'s card');

  const off = JSON.parse((await s.cli('status', '--env', 'production', '--no-drift', '--no-shadow-ab', '--at', iso(T1), '--json')).stdout);
  t.notOk(off.environments[0].models.find((m: { model: string }) => m.model === 'fraud-detector').shadow, '--no-shadow-ab reads none');

  // Without a warehouse connection: unknown, and the shadow gate is not a pass.
  const bare = { ...s.env, SNOWFLAKE_ACCOUNT: '', SNOWFLAKE_USER: '', SNOWFLAKE_PASSWORD: '' };
  const unknown = await runCli(['status', '--env', 'production', '--no-drift', '--at', iso(T1), '-C', s.root], { env: bare });
  t.match(unknown.stdout, `\n  shadow fraud-detector: ${candidate} vs champion ${champion}: unknown: the prediction log ${table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT) → shadow gate unknown (never a pass)`);
  const unknownJson = JSON.parse((await runCli(['status', '--env', 'production', '--no-drift', '--at', iso(T1), '--json', '-C', s.root], { env: bare })).stdout);
  t.match(unknownJson.environments[0].models.find((m: { model: string }) => m.model === 'fraud-detector').shadow, { gate: { status: 'error' }, unknown: `the prediction log ${table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT)` });

  // The shadow ends; B runs as an A/B at 50 % from T1.
  pin(s, T1, (x) => x.replace(`    shadow: { version: ${candidate} }\n`, `    canary: { version: ${candidate}, traffic: 50, ab: true }\n`), `ab(production): fraud-detector ${candidate} (B) at 50% against ${champion} (A)`);
  const ab = await s.cli('status', '--env', 'production', '--no-drift', '--at', iso(T1 + hour));
  const abLine = ab.stdout.split('\n').find((l) => l.startsWith('  A/B fraud-detector: '));
  t.match(abLine, new RegExp(`^  A/B fraud-detector: ${candidate.replace(/\./g, '\\.')} \\(B, 50%\\) vs ${champion.replace(/\./g, '\\.')} \\(A\\) \\(.*\\): requests with an outcome A 30,000, B 30,000 of the horizon 26,148 / 26,148; approval-rate A 0\\.[89]\\d*, B 0\\.9\\d*; effect \\+0\\.0\\d+ \\(\\+\\d\\.\\d+%\\), always-valid 95% CI \\[\\+0\\.0\\d+, \\+0\\.0\\d+\\] → B better \\(B can be promoted once the A/B has run 7d: 1h so far\\)$`), ab.stdout);
  t.notMatch(ab.stdout, /^ {2}shadow /m, 'the shadow is gone');
  const abJson = JSON.parse((await s.cli('status', '--env', 'production', '--no-drift', '--at', iso(T1 + hour), '--json')).stdout);
  const b = abJson.environments[0].models.find((m: { model: string }) => m.model === 'fraud-detector').ab;
  t.match(b, { a: champion, b: candidate, traffic: 50, metric: 'approval-rate', startedAt: iso(T1), window: { start: iso(T1), end: iso(T1 + hour) }, samples: { a: 30_000, b: 30_000 }, horizon: { a: 26_148, b: 26_148 }, minSamples: 1000, verdict: 'b-better' });
  t.ok(b.ci[0] > 0 && b.ci[1] > b.ci[0], 'the interval lies on B\'s better side');
  t.ok(Math.abs(b.means.a - 0.9) < 0.01 && Math.abs(b.means.b - 0.93) < 0.01, 'the arms\' approval rates as fed');
});

t.test('the verdict lines from plain data: no verdict yet, too little data, unknown', async (t) => {
  const repo = await loadDesiredState(projectRoot);
  const policy = repo.policies.get('production')!.data;
  const arm = (n: number, rate: number) => ({ requests: n, n, sum: n * rate, sumSquares: n * rate });
  const window = { start: iso(T1), end: iso(T1 + hour) };
  const base = { policy: policy.ab, environment: 'production', a: champion, b: candidate, traffic: 50, startedAt: new Date(T1), now: new Date(T1 + hour) };
  const early = abStatus({ ...base, evidence: { figures: { a: arm(5000, 0.9), b: arm(5000, 0.902), duplicates: 0 }, window } });
  t.equal(early.verdict, 'continue');
  t.match(abText(early), /requests with an outcome A 5,000, B 5,000 of the horizon 26,148 \/ 26,148; approval-rate A 0\.9, B 0\.902; effect \+0\.002 \(\+0\.222%\), always-valid 95% CI \[-0\.0\d+, \+0\.0\d+\] → no verdict yet$/);
  const few = abStatus({ ...base, evidence: { figures: { a: arm(500, 0.9), b: arm(400, 0.95), duplicates: 0 }, window } });
  t.equal(few.says, 'too little data: each arm needs ≥ 1,000 requests with an outcome before any verdict');
  t.notOk(few.verdict);
  const failed = abStatus({ ...base, evidence: { error: 'ANALYTICS.DECISIONS.AUTHORISATION_OUTCOMES: Object does not exist' } });
  t.equal(abText(failed), `${candidate} (B, 50%) vs ${champion} (A): unknown: the north-star metric could not be measured: ANALYTICS.DECISIONS.AUTHORISATION_OUTCOMES: Object does not exist`);
  const noDesign = abStatus({ ...base, policy: undefined, evidence: { unavailable: '' } });
  t.equal(noDesign.says, 'unknown: policies/production.yaml has no ab section (metric, baseline, mde): the A/B cannot be judged');

  const shadow = { policy: policy.gates.shadow, environment: 'production', model: 'fraud-detector', champion, candidate, table };
  const broken = shadowStatus({ ...shadow, evidence: { error: 'SQL compilation error: Object \'ANALYTICS.INFERENCE.PREDICTION_LOG\' does not exist' } });
  t.equal(shadowText(broken), `${candidate} vs champion ${champion}: unknown: the prediction log ${table} could not be read: SQL compilation error: Object 'ANALYTICS.INFERENCE.PREDICTION_LOG' does not exist → shadow gate unknown (never a pass)`);
  t.equal(broken.gate.status, 'error');
  const figures = {
    duplicates: { champion: 0, candidate: 0 }, candidateRequests: 500, championRequests: 500, joined: 500, errors: { champion: 0, candidate: 0 }, bothAnswered: 500,
    latency: { champion: { p50: 10, p99: 20 }, candidate: { p50: 11, p99: 21 } }, agree: 499, slices: [],
  };
  const thin = shadowStatus({ ...shadow, evidence: { figures, table, window: { start: new Date(T0), end: new Date(T1) } } });
  t.equal(thin.gate.status, 'fail');
  t.match(shadowText(thin), /: coverage 100\.0% of 500 requests; error rate 0\.00% vs 0\.00%; latency p50 11\.0 vs 10\.0 ms, p99 21\.0 vs 20\.0 ms; score PSI unknown; agreement 99\.8% at 0\.5 → shadow gate would BLOCK: too little data: 500 requests answered by both, need 20,000$/);
  const advisory = shadowStatus({ ...shadow, policy: { ...policy.gates.shadow!, mode: 'warn' }, evidence: { figures, table, window: { start: new Date(T0), end: new Date(T1) } } });
  t.match(shadowText(advisory), / → shadow gate would pass with a warning \(warn-only in the production policy \(was fail\)\): too little data: 500 requests answered by both, need 20,000 \(ANALYTICS/);
  t.equal(shadowStatus({ ...shadow, policy: { ...policy.gates.shadow!, mode: 'off' }, evidence: undefined }).gate.summary, 'off in the production policy');
  const noLog = shadowStatus({ ...shadow, table: undefined, evidence: undefined });
  t.match(noLog.unknown, /environments\/production\.yaml names no inferenceLog/);
});
