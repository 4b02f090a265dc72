// The status snapshot: for each environment × model, what main pins, what runs on EKS and in
// Snowflake, whether it is ready, the last batch run, drift, the last deployment, and what is
// wrong. Pure: desired state, live objects, task runs and deployment rows come in as data (or as
// the error that stopped them being read); the sync agent's own planner and readiness rules
// decide what is out of sync and what is not ready, so status and sync never disagree.

import type { Deployment, Environment } from '../config/types.js';
import type { ModelDrift } from '../metrics/drift-monitor.js';
import { plan } from '../sync/plan.js';
import { readiness } from '../sync/readiness.js';
import { liveSpecHash } from '../sync/render/hash.js';
import { annotations, labels, managerName, type DesiredEnvironment, type KubernetesObject, type LiveKubernetesObject, type LiveTask, type PlanAction } from '../sync/types.js';
import type { DeploymentRow } from '../sync/targets/snowflake.js';
import type { CanaryPin, Pin, ShadowPin } from '../model/pins.js';
import type { AbStatus, ExperimentStatus, ShadowStatus } from './experiments.js';

/** A read that failed: the system and why. Rows that needed it say so. */
export interface ReadError { error: string }

/** The last run of a scoring task (INFORMATION_SCHEMA.TASK_HISTORY). */
export interface TaskRun {
  task: string;
  state: string;
  scheduledTime: string;
  completedTime?: string;
  errorMessage?: string;
}

export interface EnvironmentInput {
  environment: string;
  env: Environment;
  /** rendered from the revision status reads (sync/agent.ts desiredFor) */
  desired: DesiredEnvironment;
  /** undefined when the environment has no cluster / no warehouse */
  kubernetes?: LiveKubernetesObject[] | ReadError;
  snowflake?: LiveTask[] | ReadError;
  /** the latest run of each task, by task name */
  runs?: Record<string, TaskRun> | ReadError;
  /** MODELSHIP_DEPLOYMENTS rows of this environment (any order) */
  deployments?: DeploymentRow[] | ReadError;
  drift?: Record<string, ModelDrift>;
  /** running shadows and A/B tests, by model */
  experiments?: Record<string, ExperimentStatus>;
}

export type Problem = 'out-of-sync' | 'unhealthy' | 'split-brain' | 'unknown' | 'converging';

export interface OnlineStatus {
  /** the stable version live (raw: the route's main backend; serverless: the service's version, or undefined while a canary runs) */
  version?: string;
  canary?: CanaryPin;
  shadow?: ShadowPin;
  ready?: boolean;
  /** readiness, or why the live state could not be read */
  detail: string;
  commit?: string;
  /** the last time modelship applied one of the model's objects */
  appliedAt?: string;
}

export interface BatchStatus {
  version?: string;
  /** started | suspended */
  state?: string;
  commit?: string;
  lastRun?: TaskRun;
  detail: string;
}

export interface ModelStatus {
  environment: string;
  model: string;
  /** what the revision pins; undefined for a model that only runs (pruned from the file, not yet from the systems) */
  pinned?: Pin & { online: boolean; batch: boolean };
  online?: OnlineStatus;
  batch?: BatchStatus;
  drift?: { status: ModelDrift['status']; summary: string; largestPsi?: { feature: string; psi: number } };
  lastDeployment?: { at?: string; commit: string; version?: string; change?: string };
  /** a running shadow's live numbers and what the shadow gate would say now (status/experiments.ts) */
  shadow?: ShadowStatus;
  /** a running A/B test's samples, effect and verdict so far */
  ab?: AbStatus;
  /** ok, or the worst problem */
  state: 'ok' | Problem;
  /** what is wrong, one line each, worst first */
  problems: Array<{ kind: Problem; message: string }>;
}

export interface EnvironmentStatus {
  environment: string;
  commit: string;
  models: ModelStatus[];
  /** reads that failed for the whole environment */
  errors: string[];
}

export interface StatusSnapshot {
  generatedAt: string;
  commit: string;
  /** how long EKS and Snowflake may run different versions before it is a split brain */
  syncGraceMs: number;
  environments: EnvironmentStatus[];
}

const isError = <T>(x: T | ReadError | undefined): x is ReadError => !!x && typeof x === 'object' && 'error' in x && !Array.isArray(x);

/** One environment's rows. `now` and `syncGraceMs` decide when a version difference is a split brain. */
export function environmentStatus(input: EnvironmentInput, now: Date, syncGraceMs: number): EnvironmentStatus {
  const { environment, env, desired } = input;
  const kube = input.kubernetes;
  const tasks = input.snowflake;
  const live = {
    kubernetes: Array.isArray(kube) ? kube : [],
    snowflake: Array.isArray(tasks) ? tasks : [],
  };
  const actions = plan({ desired, live, hashLive: liveSpecHash }).actions
    // A side that could not be read says nothing about sync: its actions would be guesses.
    .filter((a) => (a.target === 'kubernetes' ? !isError(kube) : !isError(tasks)));
  const errors = [
    ...(isError(kube) ? [`kubernetes: ${kube.error}`] : []),
    ...(isError(tasks) ? [`snowflake: ${tasks.error}`] : []),
    ...(isError(input.runs) ? [`task history: ${input.runs.error}`] : []),
    ...(isError(input.deployments) ? [`deployment log: ${input.deployments.error}`] : []),
  ];
  const liveModels = [
    ...live.kubernetes.map((o) => o.metadata.labels?.[labels.model]),
    ...live.snowflake.map((t) => t.comment?.model),
  ].filter((m): m is string => !!m);
  const names = [...new Set([...Object.keys(env.models), ...liveModels])].sort();
  const models = names.map((model) => modelStatus({
    environment, env, model, deployment: env.models[model], desired,
    kube, tasks, runs: input.runs, deployments: input.deployments, drift: input.drift?.[model], experiment: input.experiments?.[model],
    actions: actions.filter((a) => a.model === model), now, syncGraceMs,
  }));
  return { environment, commit: desired.commit, models, errors };
}

interface ModelInput {
  environment: string;
  env: Environment;
  model: string;
  deployment: Deployment | undefined;
  desired: DesiredEnvironment;
  kube: EnvironmentInput['kubernetes'];
  tasks: EnvironmentInput['snowflake'];
  runs: EnvironmentInput['runs'];
  deployments: EnvironmentInput['deployments'];
  drift: ModelDrift | undefined;
  experiment: ExperimentStatus | undefined;
  actions: PlanAction[];
  now: Date;
  syncGraceMs: number;
}

const rank: Record<Problem, number> = { converging: 1, 'out-of-sync': 2, unknown: 3, unhealthy: 4, 'split-brain': 5 };

function modelStatus(m: ModelInput): ModelStatus {
  const problems: ModelStatus['problems'] = [];
  const d = m.deployment;
  const pinned = d ? {
    version: d.version, ...(d.canary ? { canary: d.canary } : {}), ...(d.shadow ? { shadow: d.shadow } : {}),
    online: !!d.online && !!m.env.kubernetes, batch: !!d.batch && !!m.env.snowflake,
  } : undefined;
  if (!pinned) problems.push({ kind: 'out-of-sync', message: `not in environments/${m.environment}.yaml but still running: the next sync removes it` });

  const online = m.env.kubernetes ? onlineStatus(m, problems) : undefined;
  const batch = m.env.snowflake ? batchStatus(m, problems) : undefined;

  for (const a of m.actions.filter((x) => x.op !== 'noop')) {
    if (!pinned) continue; // said once above
    const [kind, , name] = a.key.split('/');
    const what = a.target === 'kubernetes' ? `${kind} ${name}` : `task ${a.key}`;
    problems.push({ kind: 'out-of-sync', message: `${what}: ${a.op === 'create' ? 'missing' : a.op === 'delete' ? 'left over' : 'differs'} (${a.reason})` });
  }

  // Split brain: EKS and Snowflake run different versions of the model. Within a sync's time
  // of the last deployment it is a sync on its way; after that, it is an incident.
  const lastDeployment = lastDeploymentOf(m, online);
  if (online?.version && batch?.version && online.version !== batch.version) {
    const since = latest([lastDeployment?.at, online.appliedAt]);
    const age = since !== undefined ? m.now.getTime() - since : undefined;
    const what = `EKS serves ${online.version}, Snowflake scores with ${batch.version}`;
    if (age !== undefined && age <= m.syncGraceMs) problems.push({ kind: 'converging', message: `${what} for ${minutes(age)}: a sync is under way` });
    else problems.push({ kind: 'split-brain', message: `split brain: ${what}${age !== undefined ? ` for ${minutes(age)} (a sync takes at most ${minutes(m.syncGraceMs)})` : ' (since an unknown time)'}` });
  }

  // Drift, like a running shadow's or A/B's numbers, is the data's state, not the deployment's: shown beside it, never counted as a problem here.
  problems.sort((a, b) => rank[b.kind] - rank[a.kind]);
  const largest = m.drift?.features.find((f) => f.psi !== undefined);
  return {
    environment: m.environment, model: m.model,
    ...(pinned ? { pinned } : {}),
    ...(online ? { online } : {}),
    ...(batch ? { batch } : {}),
    ...(m.drift ? { drift: { status: m.drift.status, summary: m.drift.summary, ...(largest ? { largestPsi: { feature: largest.feature, psi: largest.psi! } } : {}) } } : {}),
    ...(lastDeployment ? { lastDeployment } : {}),
    ...(m.experiment?.shadow ? { shadow: m.experiment.shadow } : {}), ...(m.experiment?.ab ? { ab: m.experiment.ab } : {}),
    state: problems[0]?.kind ?? 'ok',
    problems,
  };
}

function onlineStatus(m: ModelInput, problems: ModelStatus['problems']): OnlineStatus | undefined {
  const wanted = !!m.deployment?.online;
  if (isError(m.kube)) {
    if (!wanted) return undefined;
    problems.push({ kind: 'unknown', message: `EKS: cannot read live state: ${m.kube.error}` });
    return { detail: `unknown: ${m.kube.error}` };
  }
  const objects = (m.kube ?? []).filter((o) => o.metadata.labels?.[labels.model] === m.model);
  if (!objects.length) {
    if (!wanted) return undefined;
    return { ready: false, detail: 'not deployed' };
  }
  const services = objects.filter((o) => o.kind === 'InferenceService');
  const route = objects.find((o) => o.kind === 'HTTPRoute');
  const versionOf = (o: LiveKubernetesObject | undefined) => o?.metadata.annotations?.[annotations.version];
  const status: OnlineStatus = { detail: '' };
  if (m.env.kubernetes?.mode === 'serverless') {
    const isvc = services[0];
    const predictor = (isvc?.spec?.predictor ?? {}) as { canaryTrafficPercent?: number };
    if (isvc && predictor.canaryTrafficPercent !== undefined) {
      const traffic = servedShare(isvc) ?? predictor.canaryTrafficPercent;
      status.canary = { version: versionOf(isvc) ?? '?', traffic };
    } else if (isvc) {
      status.version = versionOf(isvc);
    }
  } else if (route) {
    const rules = ((route.spec?.rules ?? []) as Array<{ backendRefs?: Array<{ name?: string; weight?: number }>; filters?: Array<{ type?: string; requestMirror?: { backendRef?: { name?: string } } }> }>);
    const backends = rules.flatMap((r) => r.backendRefs ?? []);
    const serviceVersion = (name: string | undefined) => versionOf(services.find((s) => `${s.metadata.name}-predictor` === name));
    const main = [...backends].sort((a, b) => (b.weight ?? 1) - (a.weight ?? 1))[0];
    status.version = serviceVersion(main?.name) ?? versionOf(route);
    const other = backends.find((b) => b !== main);
    if (other) status.canary = { version: serviceVersion(other.name) ?? '?', traffic: other.weight ?? 0 };
    const mirror = rules.flatMap((r) => r.filters ?? []).find((f) => f.type === 'RequestMirror')?.requestMirror?.backendRef?.name;
    if (mirror) status.shadow = { version: serviceVersion(mirror) ?? '?' };
  } else {
    status.version = versionOf(services[0]);
  }
  const commit = objects.map((o) => o.metadata.annotations?.[annotations.commit]).find(Boolean);
  if (commit) status.commit = commit;
  const applied = latest(objects.flatMap((o) => (o.metadata.managedFields ?? []) as Array<{ manager?: string; time?: string }>).filter((f) => f.manager === managerName).map((f) => f.time));
  if (applied !== undefined) status.appliedAt = new Date(applied).toISOString();

  // Readiness by the sync agent's rules, against what modelship rendered (or the live object itself).
  const notReady: string[] = [];
  for (const o of objects) {
    const desired = m.desired.kubernetes.find((x) => x.kind === o.kind && x.metadata.name === o.metadata.name) ?? (o as unknown as KubernetesObject);
    const r = readiness(desired, o);
    if (!r.ready) notReady.push(`${o.kind} ${o.metadata.name}: ${r.reason}`);
  }
  status.ready = notReady.length === 0;
  status.detail = notReady.length ? `not ready: ${notReady.join('; ')}` : 'ready';
  if (notReady.length) problems.push({ kind: 'unhealthy', message: `EKS ${status.detail}` });
  return status;
}

/** Serverless: the share of traffic KServe reports for the latest revision. */
function servedShare(isvc: LiveKubernetesObject): number | undefined {
  const traffic = ((isvc.status as Record<string, any> | undefined)?.components?.predictor?.traffic ?? []) as Array<{ latestRevision?: boolean; percent?: number }>;
  return traffic.find((t) => t.latestRevision)?.percent;
}

function batchStatus(m: ModelInput, problems: ModelStatus['problems']): BatchStatus | undefined {
  const wanted = !!m.deployment?.batch;
  if (isError(m.tasks)) {
    if (!wanted) return undefined;
    problems.push({ kind: 'unknown', message: `Snowflake: cannot read live state: ${m.tasks.error}` });
    return { detail: `unknown: ${m.tasks.error}` };
  }
  const task = (m.tasks ?? []).find((t) => t.comment?.model === m.model);
  if (!task) return wanted ? { detail: 'not deployed' } : undefined;
  const status: BatchStatus = { state: task.state, detail: task.state, ...(task.comment?.version ? { version: task.comment.version } : {}), ...(task.comment?.commit ? { commit: task.comment.commit } : {}) };
  if (task.state !== 'started') problems.push({ kind: 'unhealthy', message: `Snowflake task ${task.name} is ${task.state}: it runs nothing` });
  if (isError(m.runs)) {
    status.detail = `${task.state}; last run unknown: ${m.runs.error}`;
  } else {
    const run = m.runs?.[task.name];
    if (run) {
      status.lastRun = run;
      status.detail = `${task.state}; last run ${run.state.toLowerCase()} ${run.scheduledTime.slice(0, 16).replace('T', ' ')}Z`;
      if (run.state === 'FAILED') problems.push({ kind: 'unhealthy', message: `Snowflake task ${task.name}: last run failed${run.errorMessage ? `: ${run.errorMessage}` : ''}` });
    } else {
      status.detail = `${task.state}; no run in the last 7 days`;
    }
  }
  return status;
}

function lastDeploymentOf(m: ModelInput, online: OnlineStatus | undefined): ModelStatus['lastDeployment'] {
  const rows = Array.isArray(m.deployments) ? m.deployments.filter((r) => r.model === m.model && r.environment === m.environment) : [];
  const last = rows.sort((a, b) => Date.parse(b.deployedAt) - Date.parse(a.deployedAt))[0];
  if (last) return { at: last.deployedAt, commit: last.commit, version: last.version, change: last.change };
  // No deployment log: the commit the live objects carry, without a time.
  const commit = online?.commit ?? (Array.isArray(m.tasks) ? m.tasks.find((t) => t.comment?.model === m.model)?.comment?.commit : undefined);
  return commit ? { commit, ...(online?.appliedAt ? { at: online.appliedAt } : {}) } : undefined;
}

function latest(times: Array<string | undefined>): number | undefined {
  const ms = times.filter((t): t is string => !!t).map((t) => Date.parse(t)).filter((t) => !Number.isNaN(t));
  return ms.length ? Math.max(...ms) : undefined;
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m < 120 ? `${m}m` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** Exit code of `status`: 3 when a system could not be read, else 1 when anything is out of sync, unhealthy or split, else 0. */
export function statusExitCode(s: StatusSnapshot): number {
  const all = s.environments.flatMap((e) => e.models);
  if (s.environments.some((e) => e.errors.length) || all.some((m) => m.state === 'unknown')) return 3;
  if (all.some((m) => m.state === 'out-of-sync' || m.state === 'unhealthy' || m.state === 'split-brain')) return 1;
  return 0;
}

/** The whole snapshot, environments in the order given. */
export function statusSnapshot(inputs: EnvironmentInput[], options: { now: Date; syncGraceMs: number; commit: string }): StatusSnapshot {
  return {
    generatedAt: options.now.toISOString(), commit: options.commit, syncGraceMs: options.syncGraceMs,
    environments: inputs.map((i) => environmentStatus(i, options.now, options.syncGraceMs)),
  };
}
