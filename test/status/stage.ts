// The systems `modelship status` reads, for its tests: the Kubernetes and Snowflake stand-ins, a
// scoring log of the last day in the Snowflake stand-in's DuckDB, and a clone of the example
// repository; plus task runs as Snowflake's scheduler would have recorded them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { load as parseYaml } from 'js-yaml';
import type { VersionManifest } from '../../src/config/types.js';
import { projectRoot } from '../helpers/cli.js';
import { stage as baseStage, type Stage } from '../helpers/stage.js';
import { chargebackLogSpec, fraudLogSpec, loadLog, makeRows, type Shift } from '../metrics/serving-log.js';

const manifest = (model: string, version: string) => parseYaml(readFileSync(join(projectRoot, `models/${model}/versions/${version}.yaml`), 'utf8')) as VersionManifest;
const fraud = manifest('fraud-detector', '2026.11.06-1');
const chargeback = manifest('chargeback-risk', '2026.10.15-1');

export type { Stage };

/** Both stand-ins, a scoring log for the last day (drifted if asked), a clone of the example repository. */
export function stage(t: Test, options: { shifts?: Record<string, Shift>; setup?: (c: import('@duckdb/node-api').DuckDBConnection) => Promise<void> } = {}): Promise<Stage> {
  const now = Date.now();
  const day = { start: new Date(now - 86_400_000), end: new Date(now) };
  return baseStage(t, {
    // status reads the systems and git at the time of the test's own syncs and commits; the
    // repository's first commit may be a little older (a copy of the first one this file made)
    reuse: true,
    setup: async (c) => {
      await loadLog(c, 'ANALYTICS.SCORES.FRAUD_SCORES', fraudLogSpec(fraud), makeRows(fraudLogSpec(fraud), { n: 3000, version: fraud.version, ...day, seed: 21, ...(options.shifts ? { shifts: options.shifts } : {}) }));
      await loadLog(c, 'ANALYTICS.SCORES.CHARGEBACK_SCORES', chargebackLogSpec(chargeback), makeRows(chargebackLogSpec(chargeback), { n: 3000, version: chargeback.version, ...day, seed: 22 }));
      await options.setup?.(c);
    },
  });
}

/** The scheduler ran each production task once, an hour ago. */
export function ranTasks(s: Stage, state: 'SUCCEEDED' | 'FAILED' = 'SUCCEEDED', errorMessage?: string) {
  const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000);
  for (const task of ['MODELSHIP_FRAUD_DETECTOR', 'MODELSHIP_CHARGEBACK_RISK']) {
    s.snow.tasks.recordRun(`ML_PROD.SCORING.${task}`, { state: 'SUCCEEDED', scheduledTime: new Date(at.getTime() - 86_400_000) });
    s.snow.tasks.recordRun(`ML_PROD.SCORING.${task}`, { state: task.includes('FRAUD') ? state : 'SUCCEEDED', scheduledTime: at, ...(errorMessage && task.includes('FRAUD') ? { errorCode: '100132', errorMessage } : {}) });
    s.snow.tasks.recordRun(`ML_PROD.SCORING.${task}`, { state: 'SCHEDULED', scheduledTime: new Date(at.getTime() + 86_400_000) });
  }
}

