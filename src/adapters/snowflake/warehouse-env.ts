// The Snowflake session for reading one environment's warehouse (drift aggregations, task
// history, the deployment log): SNOWFLAKE_* from the process environment, with the role and
// warehouse the environment file names, as the sync agent connects (sync/connect.ts).

import type { Environment } from '../../config/types.js';
import { snowflakeConnection, warehouseFromEnv, type SnowflakeConnection, type WarehouseOptions } from './warehouse.js';

/** The connection options for an environment: its role and warehouse unless SNOWFLAKE_ROLE / SNOWFLAKE_WAREHOUSE say otherwise (role: the file wins). */
export function environmentSession(env: Environment, base: WarehouseOptions): WarehouseOptions {
  const role = env.snowflake?.role ?? base.role;
  const warehouse = base.warehouse ?? env.snowflake?.warehouse;
  return { ...base, ...(role ? { role } : {}), ...(warehouse ? { warehouse } : {}) };
}

/** A session, or undefined when SNOWFLAKE_ACCOUNT is not set. Opened lazily on the first query. */
export function warehouseFor(env: Environment, vars: NodeJS.ProcessEnv = process.env, options: { timeoutMs?: number; attempts?: number } = {}): SnowflakeConnection | undefined {
  const base = warehouseFromEnv(vars);
  if (!base) return undefined;
  return snowflakeConnection({
    ...environmentSession(env, base),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
  });
}
