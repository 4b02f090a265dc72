// The sync agent's connections, from the environment: Kubernetes (MODELSHIP_KUBE_SERVER and
// MODELSHIP_KUBE_TOKEN for a given API server, else in-cluster inside a pod, else the kubeconfig,
// with MODELSHIP_KUBE_CONTEXT naming a context) and Snowflake (SNOWFLAKE_* as the warehouse
// metric source reads them; the role from the environment file). Secrets are never printed.

import { UsageError } from '../errors.js';
import type { Environment } from '../config/types.js';
import { snowflakeConnection, warehouseFromEnv, type SnowflakeConnection } from '../metrics/warehouse.js';
import type { LiveSnowflake, Targets } from './agent.js';
import { EnvironmentLease } from './lease.js';
import { KubernetesTarget, loadKubeConfig, type KubeConnection } from './targets/kubernetes.js';
import { snowflakeTarget, type SnowflakeTaskTarget } from './targets/snowflake.js';

export interface Connections {
  targets: Targets & { snowflake?: LiveSnowflake & SnowflakeTaskTarget };
  /** one agent per environment at a time (when the environment has a cluster) */
  lease?: EnvironmentLease;
  close(): Promise<void>;
}

export function kubeConnection(vars: NodeJS.ProcessEnv): KubeConnection {
  if (vars.MODELSHIP_KUBE_SERVER) {
    if (!vars.MODELSHIP_KUBE_TOKEN) throw new UsageError('MODELSHIP_KUBE_SERVER is set but MODELSHIP_KUBE_TOKEN is not');
    return { kind: 'server', server: vars.MODELSHIP_KUBE_SERVER, token: vars.MODELSHIP_KUBE_TOKEN };
  }
  if (vars.KUBERNETES_SERVICE_HOST) return { kind: 'in-cluster' };
  return { kind: 'kubeconfig', ...(vars.MODELSHIP_KUBE_CONTEXT ? { context: vars.MODELSHIP_KUBE_CONTEXT } : {}) };
}

/** Connects to what `env` uses; refuses when the environment needs a system that is not configured. */
export function connect(name: string, env: Environment, vars: NodeJS.ProcessEnv = process.env, options: { lease?: boolean } = {}): Connections {
  const targets: Connections['targets'] = {};
  let lease: EnvironmentLease | undefined;
  let sql: SnowflakeConnection | undefined;
  if (env.kubernetes) {
    const kc = loadKubeConfig(kubeConnection(vars));
    targets.kubernetes = new KubernetesTarget(kc);
    if (options.lease) lease = new EnvironmentLease(kc, { namespace: env.kubernetes.namespace, environment: name });
  }
  if (env.snowflake) {
    const options = warehouseFromEnv(vars);
    if (!options) {
      throw new UsageError(`environment ${name} runs batch scoring in Snowflake, but no Snowflake connection is configured`
        + ' (set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PRIVATE_KEY_PATH; see the README)');
    }
    const role = env.snowflake.role ?? options.role;
    sql = snowflakeConnection({ ...options, ...(role ? { role } : {}), warehouse: options.warehouse ?? env.snowflake.warehouse });
    targets.snowflake = snowflakeTarget(sql);
  }
  return { targets, ...(lease ? { lease } : {}), close: async () => { await sql?.close(); } };
}
