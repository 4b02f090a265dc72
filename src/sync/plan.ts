// plan = diff(desired, live) over the objects modelship manages. Pure. An object whose recorded
// spec hash matches and whose live fields still hash to it is a no-op; one edited by hand
// (its fields no longer hash to its annotation) is updated back: self-heal, reported as drift.
// Only objects carrying modelship's marks are ever deleted.

import { deploymentModeAnnotation, sameDeploymentMode } from './render/kubernetes.js';
import { normalDefinition, normalSchedule, taskConfig, taskDefinition } from './render/snowflake.js';
import { annotations, labels, type DesiredEnvironment, type KubernetesObject, type LiveKubernetesObject, type LiveTask, type Plan, type PlanAction, type ScoringTask } from './types.js';

export interface PlanInput {
  desired: DesiredEnvironment;
  live: { kubernetes: LiveKubernetesObject[]; snowflake: LiveTask[] };
  /** the hash of a live object's modelship-owned fields, computed the way the renderer does */
  hashLive: (o: LiveKubernetesObject) => string;
}

export function kubeKey(o: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
}

export function taskKey(t: { database: string; schema: string; name: string }): string {
  return `${t.database}.${t.schema}.${t.name}`.toUpperCase();
}

export function plan(input: PlanInput): Plan {
  const { desired } = input;
  const actions: PlanAction[] = [];
  const conflicts: NonNullable<Plan['conflicts']> = [];
  const env = desired.environment;

  const ours = (o: LiveKubernetesObject) => o.metadata.labels?.[labels.managedBy] === 'modelship' && o.metadata.labels?.[labels.environment] === env;
  const liveKube = new Map(input.live.kubernetes.filter(ours).map((o) => [kubeKey(o as KubernetesObject), o]));
  // Anything else with a name this environment wants is someone else's: never adopted, never overwritten.
  const foreignKube = new Map(input.live.kubernetes.filter((o) => !ours(o)).map((o) => [kubeKey(o as KubernetesObject), o]));
  for (const d of desired.kubernetes) {
    const key = kubeKey(d);
    const other = foreignKube.get(key);
    if (other) {
      const owner = other.metadata.labels?.[labels.managedBy] === 'modelship' ? other.metadata.labels?.[labels.environment] : undefined;
      conflicts.push({ target: 'kubernetes', key, message: owner
        ? `${key} belongs to environment "${owner}" (label ${labels.environment}=${owner}); ${env} will not adopt or overwrite it`
        : `${key} is not managed by modelship (no label ${labels.managedBy}=modelship); ${env} will not adopt or overwrite it` });
      continue;
    }
    const live = liveKube.get(key);
    liveKube.delete(key);
    const model = d.metadata.labels[labels.model];
    const want = d.metadata.annotations[annotations.specHash]!;
    if (!live) {
      actions.push(withDiff({ op: 'create', target: 'kubernetes', key, ...(model ? { model } : {}), desired: d, reason: 'not found' }, () => diffLines({}, owned(d))));
      continue;
    }
    const recorded = live.metadata.annotations?.[annotations.specHash];
    const actual = input.hashLive(live);
    const base = { target: 'kubernetes' as const, key, ...(model ? { model } : {}), desired: d, live };
    const warning = modeMismatch(d, live);
    const extra = warning ? { warning } : {};
    if (recorded === want && actual === want) actions.push({ ...base, ...extra, op: 'noop', reason: `spec hash ${short(want)} unchanged` });
    else if (recorded === want) actions.push(withDiff({ ...base, ...extra, op: 'update', reason: `edited outside modelship (drift): its fields no longer match spec hash ${short(want)}` }, () => diffLines(owned(live), owned(d))));
    else actions.push(withDiff({ ...base, ...extra, op: 'update', reason: `spec hash ${short(recorded)} → ${short(want)}` }, () => diffLines(owned(live), owned(d))));
  }
  for (const [key, live] of liveKube) {
    const model = live.metadata.labels?.[labels.model];
    actions.push(withDiff({ op: 'delete', target: 'kubernetes', key, ...(model ? { model } : {}), live, reason: `no longer in environments/${desired.environment}.yaml` }, () => diffLines(owned(live), {})));
  }

  const ourTask = (t: LiveTask) => t.comment?.managedBy === 'modelship' && t.comment.environment === env;
  const liveTasks = new Map(input.live.snowflake.filter(ourTask).map((t) => [taskKey(t), t]));
  const foreignTasks = new Map(input.live.snowflake.filter((t) => !ourTask(t)).map((t) => [taskKey(t), t]));
  for (const d of desired.snowflake) {
    const key = taskKey(d);
    const other = foreignTasks.get(key);
    if (other) {
      conflicts.push({ target: 'snowflake', key, message: other.comment
        ? `task ${key} belongs to environment "${other.comment.environment}" (its COMMENT); ${env} will not adopt or overwrite it`
        : `task ${key} is not managed by modelship (its COMMENT is not modelship's); ${env} will not adopt or overwrite it` });
      continue;
    }
    const live = liveTasks.get(key);
    liveTasks.delete(key);
    const base = { target: 'snowflake' as const, key, model: d.comment.model, desired: d };
    if (!live) {
      actions.push(withDiff({ ...base, op: 'create', reason: 'not found' }, () => diffLines({}, taskFields(d))));
    } else if (live.comment?.specHash !== d.comment.specHash) {
      actions.push(withDiff({ ...base, op: 'update', live, reason: `spec hash ${short(live.comment?.specHash)} → ${short(d.comment.specHash)}` }, () => diffLines(liveTaskFields(live), taskFields(d))));
    } else if (!same(liveTaskFields(live), taskFields(d, live))) {
      // The comment still says this spec, but the task runs something else: edited by hand.
      actions.push(withDiff({ ...base, op: 'update', live, reason: 'edited outside modelship (drift): its definition or CONFIG no longer match' }, () => diffLines(liveTaskFields(live), taskFields(d, live))));
    } else if (live.state !== 'started') {
      actions.push({ ...base, op: 'update', live, reason: `task is ${live.state} (drift): resume it`, diff: [`~ state: ${live.state} → started`] });
    } else {
      actions.push({ ...base, op: 'noop', live, reason: `spec hash ${short(d.comment.specHash)} unchanged` });
    }
  }
  for (const [key, live] of liveTasks) {
    actions.push(withDiff({ op: 'delete', target: 'snowflake', key, ...(live.comment ? { model: live.comment.model } : {}), live, reason: `no longer in environments/${desired.environment}.yaml` }, () => diffLines(liveTaskFields(live), {})));
  }
  return { environment: desired.environment, commit: desired.commit, actions, ...(conflicts.length ? { conflicts } : {}) };
}

/**
 * When a live InferenceService runs in another deployment mode than the one wanted. KServe
 * records the mode in status.deploymentMode at creation and keeps it: the recorded mode wins over
 * the annotation on every later reconcile (kserve/kserve
 * pkg/controller/v1beta1/inferenceservice/utils/utils.go GetDeploymentMode), and KServe up to
 * 0.15 sends an annotation value it does not know to the cluster's default. Applying cannot
 * change it; the object must be deleted and created again.
 */
function modeMismatch(d: KubernetesObject, live: LiveKubernetesObject): string | undefined {
  if (d.kind !== 'InferenceService') return undefined;
  const wanted = d.metadata.annotations[deploymentModeAnnotation];
  const reported = (live.status as Record<string, unknown> | undefined)?.deploymentMode;
  if (!wanted || typeof reported !== 'string' || !reported) return undefined;
  const mode = wanted === 'RawDeployment' || wanted === 'Standard' ? 'raw' : 'serverless';
  if (sameDeploymentMode(mode, reported)) return undefined;
  return `KServe runs it in deployment mode ${reported}, not ${wanted} (kubernetes.mode ${mode}); KServe keeps the mode an InferenceService was created with, so applying will not change it: delete it (kubectl delete inferenceservice -n ${d.metadata.namespace} ${d.metadata.name}) and sync again`;
}

/**
 * `action` with its `diff` made when first read, then kept: a first sync of 4,800 objects made
 * and held ~150,000 diff lines (every field of every object to create) for three environments
 * at once, and the plan read first, before the lease, is only asked whether it writes. Reading
 * it (planText, JSON, a spread) gives the same lines as before; assigning it replaces it.
 */
function withDiff<T extends Omit<PlanAction, 'diff'>>(action: T, make: () => string[]): T & { diff: string[] } {
  let made: string[] | undefined;
  return Object.defineProperty(action, 'diff', {
    enumerable: true, configurable: true,
    get: () => (made ??= make()),
    set: (v: string[]) => { made = v; },
  }) as T & { diff: string[] };
}

/** The fields modelship owns and compares: spec, labels, annotations other than the commit. */
function owned(o: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> }): Record<string, unknown> {
  const ann = { ...o.metadata.annotations };
  delete ann[annotations.commit];
  const mine = Object.fromEntries(Object.entries(ann).filter(([k]) => k.startsWith('modelship.io/')));
  return { labels: o.metadata.labels ?? {}, annotations: mine, spec: o.spec ?? {} };
}

/** What a task runs, comparable between rendered and live (state is judged separately). */
function taskFields(t: ScoringTask, live?: LiveTask): Record<string, unknown> {
  const fields: Record<string, unknown> = { warehouse: t.warehouse.toUpperCase(), schedule: normalSchedule(t.schedule), definition: normalDefinition(taskDefinition(t)), config: taskConfig(t) };
  // Fields the live side cannot report (an older target) are not compared.
  if (live && live.definition === undefined) delete fields.definition;
  if (live && live.config === undefined) delete fields.config;
  return fields;
}

function liveTaskFields(t: LiveTask): Record<string, unknown> {
  return {
    // SHOW TASKS may spell the schedule and the body differently from what was written: compared in one spelling.
    ...(t.warehouse !== undefined ? { warehouse: t.warehouse.toUpperCase() } : {}), ...(t.schedule !== undefined ? { schedule: normalSchedule(t.schedule) } : {}),
    ...(t.definition !== undefined ? { definition: normalDefinition(t.definition) } : {}), ...(t.config !== undefined ? { config: t.config } : {}),
  };
}

function same(a: unknown, b: unknown): boolean {
  return diffLines({ v: a }, { v: b }).length === 0;
}

/** Readable field-level diff: "+ path: value", "- path: value", "~ path: old → new". */
export function diffLines(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const a = flatten(before);
  const b = flatten(after);
  const out: string[] = [];
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(k);
    const y = b.get(k);
    if (x === y) continue;
    if (x === undefined) out.push(`+ ${k}: ${y}`);
    else if (y === undefined) out.push(`- ${k}: ${x}`);
    else out.push(`~ ${k}: ${x} → ${y}`);
  }
  return out;
}

function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    if (entries.length === 0 && prefix) out.set(prefix, Array.isArray(value) ? '[]' : '{}');
    for (const [k, v] of entries) flatten(v, prefix ? (Array.isArray(value) ? `${prefix}[${k}]` : `${prefix}.${k}`) : k, out);
  } else if (value !== undefined && prefix) {
    out.set(prefix, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out;
}

function short(hash: string | undefined): string {
  return hash ? `${hash.slice(0, 10)}…` : '(none)';
}

/** Why sync must write nothing in the plan's environment: its conflicts, one line each; undefined when there are none. */
export function conflictRefusal(p: Plan): string | undefined {
  if (!p.conflicts?.length) return undefined;
  return `refused: ${p.conflicts.length === 1 ? 'an object' : `${p.conflicts.length} objects`} ${p.environment} wants ${p.conflicts.length === 1 ? 'belongs' : 'belong'} to another environment or to no one; nothing was written in ${p.environment}\n`
    + p.conflicts.map((c) => `  ${c.message}`).join('\n');
}

/** Whether a plan writes anything. */
export function hasWrites(p: Plan): boolean {
  return p.actions.some((a) => a.op !== 'noop');
}
