// One sync of one environment: render what main says, read what runs, plan, and (for `sync`)
// apply and record. The renderers and the planner are pure; the targets are the adapters.

import { ModelshipError, TargetRefusedError } from '../errors.js';
import type { LoadedRepository } from '../config/load.js';
import type { VersionManifest } from '../config/types.js';
import { applyPlan, type ApplyOptions, type ApplyResult, type KubernetesTarget, type SnowflakeTarget } from './apply.js';
import { conflictRefusal, hasWrites, plan as diffPlan } from './plan.js';
import { deploymentRecord } from './record.js';
import type { DeploymentRecord } from '../model/deployments.js';
import { liveSpecHash } from './render/hash.js';
import { renderKubernetes } from './render/kubernetes.js';
import { renderTasks } from './render/snowflake.js';
import { serverlessCanaryAborts, serverlessCanaryRefusals } from './preconditions.js';
import { labels, managerName, type DesiredEnvironment, type LiveKubernetesObject, type LiveTask, type Plan } from './types.js';

export interface LiveKubernetes extends KubernetesTarget {
  listManaged(namespace: string, environment: string): Promise<LiveKubernetesObject[]>;
  /** the name the cluster records for itself (ConfigMap kube-public/modelship-cluster), undefined when it records none */
  clusterIdentity?(): Promise<string | undefined>;
}
export interface LiveSnowflake extends SnowflakeTarget {
  listManaged(database: string, schema: string, environment: string): Promise<LiveTask[]>;
}

export interface Targets {
  kubernetes?: LiveKubernetes;
  snowflake?: LiveSnowflake;
}

/** What `environment` should run according to the repository at `commit` (`leaveOut`: models whose objects are not rendered, preview.ts). */
export function desiredFor(repo: LoadedRepository, environment: string, commit: string, leaveOut?: ReadonlySet<string>): DesiredEnvironment {
  const env = repo.environments.get(environment)?.data;
  if (!env) throw new Error(`environment ${environment} is not in the repository`);
  const online: Parameters<typeof renderKubernetes>[0]['models'] = [];
  const batch: Parameters<typeof renderTasks>[0]['models'] = [];
  for (const [model, deployment] of Object.entries(env.models).sort(([a], [b]) => a.localeCompare(b))) {
    if (leaveOut?.has(model)) continue;
    const card = repo.models.get(model)!.data;
    const versions: Record<string, VersionManifest> = {};
    for (const v of [deployment.version, deployment.canary?.version, deployment.shadow?.version]) {
      if (v) versions[v] = repo.versions.get(model)!.get(v)!.data;
    }
    if (deployment.online && card.serving.online && env.kubernetes) online.push({ card, deployment, versions });
    if (deployment.batch && card.serving.batch && env.snowflake) batch.push({ card, deployment, manifest: versions[deployment.version]! });
  }
  return {
    environment, commit,
    kubernetes: env.kubernetes ? renderKubernetes({ environment, env, commit, models: online }) : [],
    snowflake: env.snowflake ? renderTasks({ environment, env, commit, models: batch }) : [],
  };
}

/** Reads what the targets run for this environment and plans. */
export async function planFor(repo: LoadedRepository, environment: string, commit: string, targets: Targets,
  unreachable?: NonNullable<Plan['unreachable']>): Promise<{ desired: DesiredEnvironment; plan: Plan }> {
  const desired = desiredFor(repo, environment, commit);
  const env = repo.environments.get(environment)!.data;
  // With `unreachable` (plan): a substrate whose read fails is added to it and left out of the plan.
  const read = <T>(target: 'kubernetes' | 'snowflake', p: Promise<T[]>): Promise<T[]> => unreachable
    ? p.catch((e: unknown) => {
      if (!(e instanceof ModelshipError)) throw e;
      unreachable.push({ target, reason: e.message });
      return [];
    })
    : p;
  const [kubernetes, snowflake] = await Promise.all([
    env.kubernetes && targets.kubernetes ? read('kubernetes', targets.kubernetes.listManaged(env.kubernetes.namespace, environment)) : Promise.resolve([]),
    env.snowflake && targets.snowflake ? read('snowflake', targets.snowflake.listManaged(env.snowflake.database, env.snowflake.schema, environment)) : Promise.resolve([]),
  ]);
  const plan = diffPlan({ desired, live: { kubernetes, snowflake }, hashLive: liveSpecHash });
  if (unreachable?.length) {
    const out = new Set(unreachable.map((u) => u.target));
    plan.actions = plan.actions.filter((a) => !out.has(a.target));
    plan.unreachable = [...unreachable].sort((a, b) => a.target.localeCompare(b.target));
  }
  // Preconditions look at this environment's own objects only.
  const refusals = serverlessCanaryRefusals(env, kubernetes.filter((o) => o.metadata.labels?.[labels.managedBy] === managerName && o.metadata.labels?.[labels.environment] === environment));
  for (const a of plan.actions) if (a.op !== 'noop' && refusals.has(a.key)) a.refused = refusals.get(a.key)!;
  serverlessCanaryAborts(env, plan.actions);
  return { desired, plan };
}

export interface SyncResult {
  plan: Plan;
  result: ApplyResult;
  record: DeploymentRecord;
}

/**
 * Plans, applies and records one environment. A plan with nothing to do sends no write.
 * `planned`: a plan the caller just read for this commit; when it has nothing to do it is used
 * as is (no second read). A plan with writes is always read again (the caller may have waited
 * for the lease since).
 */
export async function syncEnvironment(repo: LoadedRepository, environment: string, commit: string, targets: Targets,
  options: ApplyOptions & { planned?: Plan; guard?: (plan: Plan) => Promise<string | undefined> } = {}): Promise<SyncResult> {
  const startedAt = (options.now ?? (() => new Date()))();
  const reuse = options.planned && options.planned.environment === environment && options.planned.commit === commit && !hasWrites(options.planned);
  const plan = reuse ? options.planned! : (await planFor(repo, environment, commit, targets)).plan;
  const refusal = conflictRefusal(plan);
  if (refusal) throw new TargetRefusedError(`${environment}: ${refusal}`);
  // `guard`: a refusal the caller asks for on the plan about to be applied (sync: only forward)
  const guarded = reuse ? undefined : await options.guard?.(plan);
  if (guarded) throw new TargetRefusedError(`${environment}: ${guarded}`);
  const result = hasWrites(plan)
    ? await applyPlan(plan, targets, options)
    : { environment, commit, converged: true, writes: 0, results: plan.actions.map((a) => ({ key: a.key, op: a.op, target: a.target, ...(a.model ? { model: a.model } : {}), outcome: 'unchanged' as const })) };
  const pins = Object.fromEntries(Object.entries(repo.environments.get(environment)!.data.models).map(([m, d]) => [m, {
    version: d.version, ...(d.canary ? { canary: d.canary } : {}), ...(d.shadow ? { shadow: d.shadow } : {}),
  }]));
  const record = deploymentRecord({ plan, result, startedAt, finishedAt: (options.now ?? (() => new Date()))(), pins });
  return { plan, result, record };
}
