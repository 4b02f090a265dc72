// The sync agent's connections, from the environment: Kubernetes (MODELSHIP_KUBE_SERVER and
// MODELSHIP_KUBE_TOKEN for a given API server, else in-cluster inside a pod, else the kubeconfig,
// with MODELSHIP_KUBE_CONTEXT naming a context) and Snowflake (SNOWFLAKE_* as the warehouse
// metric source reads them; the role from the environment file). Secrets are never printed.

import { UsageError } from '../errors.js';
import type { Environment } from '../config/types.js';
import { snowflakeConnection, warehouseFromEnv, type SnowflakeConnection } from '../adapters/snowflake/warehouse.js';
import type { SnowflakeThread } from '../adapters/snowflake/warehouse-thread.js';
import { environmentSession } from '../adapters/snowflake/warehouse-env.js';
import type { LiveSnowflake, Targets } from './agent.js';
import type { Plan } from './types.js';
import { EnvironmentLease } from '../adapters/kubernetes/lease.js';
import { KubernetesTarget, loadKubeConfig, type KubeConnection } from '../adapters/kubernetes/target.js';
import { snowflakeTarget, type SnowflakeTaskTarget } from './targets/snowflake.js';

export interface Connections {
  targets: Targets & { snowflake?: LiveSnowflake & SnowflakeTaskTarget };
  /** with `reachable: true`: the substrates that could not be connected, and why */
  unreachable?: NonNullable<Plan['unreachable']>;
  /** one agent per environment at a time (when the environment has a cluster) */
  lease?: EnvironmentLease;
  close(): Promise<void>;
}

/**
 * What one command shares between the environments it syncs: one Kubernetes client per cluster
 * connection (API discovery is done once) and, when given, the Snowflake sessions of a worker
 * thread (one login per distinct connection).
 */
export interface SharedClients {
  snowflake?: SnowflakeThread;
  kubernetes?: Map<string, { kc: ReturnType<typeof loadKubeConfig>; target: KubernetesTarget }>;
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
export function connect(name: string, env: Environment, vars: NodeJS.ProcessEnv = process.env, options: { lease?: boolean; shared?: SharedClients; reachable?: boolean } = {}): Connections {
  if (options.reachable) {
    // `plan`: each substrate on its own; one that cannot be connected is reported, not fatal
    const unreachable: NonNullable<Plan['unreachable']> = [];
    const parts: Connections[] = [];
    for (const target of ['kubernetes', 'snowflake'] as const) {
      if (!env[target]) continue;
      try {
        parts.push(connect(name, target === 'kubernetes' ? { ...env, snowflake: undefined } : { ...env, kubernetes: undefined }, vars, { ...options, reachable: false }));
      } catch (e) {
        unreachable.push({ target, reason: (e as Error).message });
      }
    }
    return {
      targets: Object.assign({}, ...parts.map((p) => p.targets)) as Connections['targets'],
      ...(unreachable.length ? { unreachable } : {}),
      close: async () => { await Promise.all(parts.map((p) => p.close())); },
    };
  }
  const targets: Connections['targets'] = {};
  let lease: EnvironmentLease | undefined;
  let sql: SnowflakeConnection | undefined;
  if (env.kubernetes) {
    const connection = kubeConnection(vars);
    const key = JSON.stringify(connection);
    let client = options.shared?.kubernetes?.get(key);
    if (!client) {
      const kc = loadKubeConfig(connection);
      client = { kc, target: new KubernetesTarget(kc) };
      options.shared?.kubernetes?.set(key, client);
    }
    const { kc } = client;
    targets.kubernetes = client.target;
    if (options.lease) lease = new EnvironmentLease(kc, { namespace: env.kubernetes.namespace, environment: name });
  }
  if (env.snowflake) {
    const warehouse = warehouseFromEnv(vars);
    if (!warehouse) {
      throw new UsageError(`environment ${name} runs batch scoring in Snowflake, but no Snowflake connection is configured`
        + ' (set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PRIVATE_KEY_PATH; see the README)');
    }
    const session = environmentSession(env, warehouse);
    // A shared session is ended by its owner (SnowflakeThread.closeSessions), not per environment.
    if (options.shared?.snowflake) targets.snowflake = snowflakeTarget(options.shared.snowflake.connection(session));
    else targets.snowflake = snowflakeTarget((sql = snowflakeConnection(session)));
  }
  return { targets, ...(lease ? { lease } : {}), close: async () => { await sql?.close(); } };
}
