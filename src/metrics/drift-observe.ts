// Observes drift for the models of one environment: builds each model's aggregation, runs it in
// the warehouse, and judges the counts. The thin effectful step between serving-drift.ts (SQL)
// and drift-monitor.ts (verdicts); `modelship drift` and `modelship status` both use it.

import type { LoadedRepository } from '../config/load.js';
import { ModelshipError } from '../errors.js';
import { judgeDrift, type ModelDrift } from './drift-monitor.js';
import { isTimeout, readServingHistograms, servingQuery, type ServingHistograms } from './serving-drift.js';
import type { SnowflakeConnection } from '../adapters/snowflake/warehouse.js';

export interface DriftTarget {
  environment: string;
  model: string;
  /** the scoring log; default the model's serving.batch.target */
  table?: string;
}

/** Measures and judges each target; a failed or timed-out query makes that model "unknown". */
export async function observeDrift(repo: LoadedRepository, conn: Pick<SnowflakeConnection, 'query'> | undefined, targets: DriftTarget[], window: { start: Date; end: Date }): Promise<ModelDrift[]> {
  return Promise.all(targets.map(async (t): Promise<ModelDrift> => {
    const deployment = repo.environments.get(t.environment)!.data.models[t.model]!;
    const manifest = repo.versions.get(t.model)!.get(deployment.version)!.data;
    const card = repo.models.get(t.model)!.data;
    const policy = repo.policies.get(t.environment)?.data.gates.drift;
    const table = t.table ?? card.serving.batch?.target;
    const judge = (measured: ServingHistograms | { error: string; timedOut?: boolean }) =>
      judgeDrift({ environment: t.environment, model: t.model, manifest, policy, window, ...(table ? { table } : {}), measured });
    if (!conn) return judge({ error: 'no Snowflake connection is configured (SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY_PATH)' });
    if (!table) return judge({ error: `${t.model} has no scoring log: its model.yaml declares no serving.batch.target (pass --table)` });
    const output = card.output[0]?.name;
    try {
      const q = servingQuery({
        table, version: manifest.version, window, features: manifest.histograms ?? {},
        ...(manifest.scoreHistogram && output ? { score: { column: output, histogram: manifest.scoreHistogram } } : {}),
      });
      return judge(await readServingHistograms(conn, q));
    } catch (e) {
      if (!(e instanceof ModelshipError)) throw e;
      return judge({ error: e.message, ...(isTimeout(e) ? { timedOut: true } : {}) });
    }
  }));
}
