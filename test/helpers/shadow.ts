// A release repository in which production shadows fraud-detector 2026.11.20-1, and its
// prediction log in the Snowflake stand-in: what the shadow gate's and the running-shadow
// section's CLI tests share.
import type { Test } from 'tap';
import { runCli } from './cli.js';
import { hours, registeredBefore } from './clock.js';
import { makeReleaseRepo, type TestRepo } from './repo.js';
import { makeRun } from './runs.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn, type SnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { appendPredictionLog, createPredictionLog, type PredictionRow } from '../../tools/sandbox/snowflake/prediction-log.js';

export const table = 'ANALYTICS.INFERENCE.PREDICTION_LOG';
export const champion = '2026.11.06-1';
export const candidate = '2026.11.20-1';

/** Sets git's dates for the commits that follow. */
export const dated = (iso: string) => Object.assign(process.env, { GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso });

/** The candidate registered, in staging at 0h and shadowing production at 48h (both merged to main); main checked out. */
export async function shadowedRepository(env: Record<string, string>): Promise<TestRepo> {
  dated(hours(-48));
  const repo = makeReleaseRepo();
  const reg = await runCli(['register', makeRun().dir, '-C', repo.root], { env: { ...env, ...registeredBefore } });
  if (reg.code !== 0) throw new Error(reg.stderr);
  for (const [at, args] of [[hours(0), ['--to', 'staging']], [hours(48), ['--to', 'production', '--shadow']]] as const) {
    dated(at);
    const p = await runCli(['promote', `fraud-detector@${candidate}`, ...args, '--json', '-C', repo.root], { env });
    if (p.code !== 0) throw new Error(p.stderr);
    const branch = JSON.parse(p.stdout).branch as string;
    repo.git('checkout', '-q', 'main');
    repo.git('merge', '-q', '--no-ff', '-m', `Merge ${branch}`, branch);
    repo.git('push', '-q', 'origin', 'main');
  }
  return repo;
}

/** 24,000 requests between 49h and 71h, each answered by both; `shadow` gives the shadow's score from the champion's. */
export function predictionLog(shadow: (score: number, i: number) => number): PredictionRow[] {
  const rows: PredictionRow[] = [];
  const start = Date.parse(hours(49));
  for (let i = 0; i < 24_000; i++) {
    const at = new Date(start + i * 3300);
    const score = ((i * 7919) % 1000) / 1000;
    const slices = { REGION: i % 4 === 0 ? 'eu' : 'us' };
    rows.push({ requestId: `req-${i}`, model: 'fraud-detector', version: champion, score, latencyMs: 10 + (i % 7), error: null, requestedAt: at, slices });
    rows.push({ requestId: `req-${i}`, model: 'fraud-detector', version: candidate, score: shadow(score, i), latencyMs: 11 + (i % 7), error: null, requestedAt: new Date(at.getTime() + 2), slices });
  }
  return rows;
}

/** The Snowflake stand-in holding `rows` as the prediction log (a REGION slice column), stopped when the test ends; and the environment that reaches it. */
export async function warehouseWithLog(t: Test, rows: PredictionRow[]): Promise<{ snow: SnowflakeStandIn; env: Record<string, string> }> {
  const snow = await startSnowflakeStandIn({ setup: async (c) => { await createPredictionLog(c, table, ['REGION']); await appendPredictionLog(c, table, rows, ['REGION']); } });
  t.teardown(() => snow.stop());
  return { snow, env: { SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password, MODELSHIP_SNOWFLAKE_URL: snow.url } };
}
