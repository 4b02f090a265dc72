// The sample ratio check's data: requests each version of a canary logged in the environment's
// prediction log over a window (one aggregation, metrics/prediction-log.ts). Shared by the
// checker's canary gate (check/evidence.ts) and canary watch; gates/sample-ratio.ts judges it.
import type { Environment } from '../config/types.js';
import { ModelshipError } from '../errors.js';
import { warehouseFor } from '../adapters/snowflake/warehouse-env.js';
import type { SampleRatioEvidence } from '../gates/sample-ratio.js';
import { readVersionCounts, versionCountsQuery } from '../metrics/prediction-log.js';
import { isTimeout } from '../metrics/serving-drift.js';

/** Requests each version logged over the canary's window (metrics/prediction-log.ts versionCountsQuery), for the sample ratio check. */
export async function readSampleRatio(model: string, log: { env: Environment; table: string }, versions: { stable: string; canary: string },
  window: { start: Date; end: Date }, ctx: { timeoutMs?: number }, vars: NodeJS.ProcessEnv = process.env): Promise<SampleRatioEvidence> {
  const conn = warehouseFor(log.env, vars, { timeoutMs: ctx.timeoutMs ?? 60_000 });
  if (!conn) return { unavailable: `the prediction log ${log.table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT)` };
  try {
    const [stable, canary] = await readVersionCounts(conn, versionCountsQuery({ table: log.table, model, versions: [versions.stable, versions.canary], window }));
    return { counts: { stable: stable!, canary: canary! }, table: log.table, window };
  } catch (e) {
    if (!(e instanceof ModelshipError)) throw e;
    return { error: `${isTimeout(e) ? 'the warehouse query timed out: ' : ''}${e.message.replace(/\s+/g, ' ').trim()}` };
  } finally {
    await conn.close();
  }
}
