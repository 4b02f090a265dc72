// What a pull request changes, in release terms: the desired state at base and head diffed into
// changes (a promotion, a canary step, a rollback, a policy edit ...), each of which the runner
// gates by the base branch's policy for its environment. Pure: history and file lists are inputs.

import type { Deployment, Environment, ModelCard, Policy, RepositoryPolicy } from '../config/types.js';
import { repositoryScope, type Change } from '../model/changes.js';
import { codeOwnerOf, isReleaseFile, repositoryPolicyFile, targetKeys } from '../model/owners.js';
import type { CanaryPin, PinState } from '../model/pins.js';

/** The parts of a loaded repository the diff reads. */
export interface DesiredState {
  environments: ReadonlyMap<string, { data: Environment }>;
  policies: ReadonlyMap<string, { data: Policy }>;
  models: ReadonlyMap<string, { data: ModelCard }>;
  /** policies/repository.yaml; the base's decides who owns a code change */
  repository?: { data: RepositoryPolicy };
}

/** A file that differs between base and head (git diff --name-status). */
export interface FileDiff {
  path: string;
  status: 'added' | 'modified' | 'deleted';
}

export interface DiffInput {
  base: DesiredState;
  head: DesiredState;
  files: FileDiff[];
  /** versions that were the stable pin of `model` in `environment` at some point before base (rollback detection) */
  liveBefore?: (environment: string, model: string) => ReadonlySet<string>;
}

/** Diffs two desired states into changes, in a stable order (file, then model). */
export function diffStates(input: DiffInput): Change[] {
  const { base, head } = input;
  const changes: Change[] = [];
  const envNames = [...new Set([...base.environments.keys(), ...head.environments.keys()])].sort();
  for (const env of envNames) {
    const before = base.environments.get(env)?.data;
    const after = head.environments.get(env)?.data;
    const file = `environments/${env}.yaml`;
    if (before && after && !same(envSettings(before), envSettings(after))) {
      const moved = targetValues(after, before);
      const retarget = targetKeys.filter(([a, b]) => !same(at(before, a, b), at(after, a, b))).map(([a, b]) => `${a}.${b}`);
      changes.push({
        kind: 'environment-config', environment: env, file, description: `${env}: ${changedKeys(envSettings(before), envSettings(after)).join(', ')} changed`
          + (retarget.length ? ` (targets: ${retarget.join(', ')})` : ''),
        ...(retarget.length ? { owners: 'environments', reaches: reaching(env, moved, base, head) } : {}),
      });
    } else if (!before && after) {
      changes.push({ kind: 'environment-added', environment: env, file, owners: 'environments', reaches: reaching(env, targetValues(after), base, head), description: `environment ${env} added` });
    } else if (before && !after) {
      changes.push({ kind: 'environment-removed', environment: env, file, owners: 'environments', description: `environment ${env} removed` });
    }
    const models = [...new Set([...Object.keys(before?.models ?? {}), ...Object.keys(after?.models ?? {})])].sort();
    for (const model of models) {
      changes.push(...diffDeployment(env, model, before?.models[model], after?.models[model], input.liveBefore));
    }
  }

  const code: FileDiff[] = [];
  for (const f of input.files) {
    const parts = f.path.split('/');
    if (!isReleaseFile(f.path)) {
      // Not a release file: a code change, judged by the repository policy's owners.
      code.push(f);
    } else if (f.path === repositoryPolicyFile) {
      changes.push({ kind: 'policy', environment: repositoryScope, file: f.path, owners: 'policies', description: `repository policy ${f.status}` });
    } else if (parts[0] === 'policies' && parts.length === 2 && f.path.endsWith('.yaml')) {
      const env = parts[1]!.slice(0, -5);
      changes.push({ kind: 'policy', environment: env, file: f.path, owners: 'policies', description: `policy for ${env} ${f.status}` });
    } else if (parts[0] === 'models' && parts[2] === 'versions' && parts.length === 4 && f.status !== 'added') {
      const model = parts[1]!;
      const version = parts[3]!.replace(/\.yaml$/, '');
      // Judged by every environment that pins it at base; an unpinned version still may not change, so then by all.
      const pinning = pinningEnvironments(base, model, version);
      for (const env of pinning.length ? pinning : [...base.environments.keys()].sort()) {
        changes.push({ kind: 'version-modified', environment: env, model, candidate: version, file: f.path, description: `registered version ${model}@${version} ${f.status}` });
      }
    } else if (parts[0] === 'models' && parts[2] === 'model.yaml' && f.status !== 'added') {
      const model = parts[1]!;
      const pinning = f.status === 'modified' ? pinningEnvironments(head, model) : [];
      for (const env of pinning) {
        const pin = head.environments.get(env)!.data.models[model]!;
        changes.push({ kind: 'model-card', environment: env, model, candidate: pin.version, champion: pin.version, file: f.path, description: `model card of ${model} changed (checked against ${pin.version} in ${env})` });
      }
      // A card nothing runs (or one deleted) still names who approves the model's promotions: its owners judge it.
      if (!pinning.length) code.push(f);
    }
    // An added model card or version is judged when an environment pins it.
  }
  changes.push(...codeChanges(code, base.repository?.data));
  return changes;
}

/**
 * Files modelship does not read as release files, one change per repository-policy rule that
 * owns them (code.rules in order, then code.default). Without a repository policy on the base,
 * one change holds them all and nobody can approve it (the runner says so).
 */
function codeChanges(files: FileDiff[], policy: RepositoryPolicy | undefined): Change[] {
  const groups = new Map<string, FileDiff[]>();
  for (const f of files) {
    const source = policy ? codeOwnerOf(policy, f.path).source : '';
    groups.set(source, [...(groups.get(source) ?? []), f]);
  }
  return [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([source, group]) => {
    const shown = group.slice(0, 5).map((f) => `${f.path}${f.status === 'modified' ? '' : ` (${f.status})`}`).join(', ');
    return {
      kind: 'code' as const, environment: repositoryScope, file: group[0]!.path, files: group.map((f) => f.path),
      ...(source ? { owners: source } : {}),
      description: `${shown}${group.length > 5 ? ` and ${group.length - 5} more` : ''}`,
    };
  });
}

type TargetValue = { key: string; value: string };

/** An environment's target values (cluster, namespace, database, warehouse, role); with `before`, only those that changed. */
function targetValues(e: Environment, before?: Environment): TargetValue[] {
  const out: TargetValue[] = [];
  for (const [section, key] of [['kubernetes', 'cluster'], ['kubernetes', 'namespace'], ['snowflake', 'database'], ['snowflake', 'warehouse'], ['snowflake', 'role']] as const) {
    const v = at(e, section, key);
    if (typeof v !== 'string' || (before && at(before, section, key) === v)) continue;
    // Unquoted Snowflake identifiers are case-insensitive.
    out.push({ key: `${section}.${key}`, value: section === 'snowflake' ? v.toUpperCase() : v });
  }
  return out;
}

/**
 * The other environments that `values` reach: any whose cluster, namespace, database, warehouse
 * or role (at base or head) equals one of them. Their policies judge the change too.
 */
function reaching(env: string, values: TargetValue[], base: DesiredState, head: DesiredState): string[] {
  const out = new Set<string>();
  for (const state of [base, head]) {
    for (const [name, other] of state.environments) {
      if (name === env) continue;
      const theirs = targetValues(other.data);
      if (values.some((v) => theirs.some((t) => t.key === v.key && t.value === v.value))) out.add(name);
    }
  }
  return [...out].sort();
}

function at(e: Environment, section: 'kubernetes' | 'snowflake' | 'inferenceLog', key: string): unknown {
  return (e[section] as Record<string, unknown> | undefined)?.[key];
}

function diffDeployment(env: string, model: string, before: Deployment | undefined, after: Deployment | undefined,
  liveBefore: DiffInput['liveBefore']): Change[] {
  const file = `environments/${env}.yaml`;
  const from = pin(before);
  const to = pin(after);
  const base = { environment: env, model, file, from, to };
  if (!before && after) {
    return [{ ...base, kind: 'new-model', candidate: after.version, description: `${model} ${after.version} new in ${env}` }];
  }
  if (before && !after) {
    return [{ ...base, kind: 'removal', champion: before.version, description: `${model} removed from ${env} (was ${before.version})` }];
  }
  if (!before || !after) return [];

  const out: Change[] = [];
  const moved = `${model} ${before.version} → ${after.version}`;
  if (before.version !== after.version) {
    const common = { ...base, candidate: after.version, champion: before.version };
    if (after.version === before.canary?.version && before.canary.ab) out.push({ ...common, kind: 'ab-conclude', description: `${moved} (A/B concluded: B promoted)` });
    else if (after.version === before.canary?.version) out.push({ ...common, kind: 'canary-promote', description: `${moved} (canary at ${before.canary.traffic}% promoted)` });
    else if (after.version === before.shadow?.version) out.push({ ...common, kind: 'shadow-promote', description: `${moved} (shadow promoted)` });
    else if (liveBefore?.(env, model).has(after.version)) out.push({ ...common, kind: 'rollback', description: `${moved} (rollback to a version live here before)` });
    else out.push({ ...common, kind: 'promote', description: moved });
  } else {
    const bc = before.canary;
    const ac = after.canary;
    const ab = abChange(model, after.version, bc, ac);
    if (ab) out.push({ ...base, ...ab });
    else if (!bc && ac) out.push({ ...base, kind: 'canary-start', candidate: ac.version, champion: after.version, description: `${model} canary ${ac.version} at ${ac.traffic}% beside ${after.version}` });
    else if (bc && ac && bc.version !== ac.version) out.push({ ...base, kind: 'canary-start', candidate: ac.version, champion: after.version, description: `${model} canary ${bc.version} replaced by ${ac.version} at ${ac.traffic}%` });
    else if (bc && ac && bc.traffic !== ac.traffic) out.push({ ...base, kind: 'canary-step', candidate: ac.version, champion: after.version, description: `${model} canary ${ac.version} ${bc.traffic}% → ${ac.traffic}%` });
    else if (bc && !ac) out.push({ ...base, kind: 'canary-abort', candidate: bc.version, champion: after.version, description: `${model} canary ${bc.version} removed; ${after.version} takes all traffic` });

    const bs = before.shadow?.version;
    const as = after.shadow?.version;
    if (as && as !== bs) out.push({ ...base, kind: 'shadow-start', candidate: as, champion: after.version, description: `${model} shadow ${as} beside ${after.version}` });
    else if (bs && !as) out.push({ ...base, kind: 'shadow-stop', candidate: bs, description: `${model} shadow ${bs} stopped` });
  }
  const settingsBefore = settings(before);
  const settingsAfter = settings(after);
  if (!same(settingsBefore, settingsAfter)) {
    out.push({ ...base, kind: 'config', champion: after.version, description: `${model} in ${env}: ${changedKeys(settingsBefore, settingsAfter).join(', ')} changed` });
  }
  return out;
}

/**
 * An A/B test (a canary with ab: true) starting, restarting or ending while the stable version
 * stays: a new split restarts the test (its window starts when the split was set), and removing
 * B (or its ab flag) ends it keeping A. Undefined when neither side is an A/B.
 */
function abChange(model: string, stable: string, bc: CanaryPin | undefined, ac: CanaryPin | undefined): Pick<Change, 'kind' | 'candidate' | 'champion' | 'description'> | undefined {
  if (!bc?.ab && !ac?.ab) return undefined;
  if (ac?.ab && (!bc || bc.version !== ac.version || bc.traffic !== ac.traffic || !bc.ab)) {
    const what = !bc ? `${model} A/B: ${ac.version} at ${ac.traffic}% beside ${stable}`
      : bc.version !== ac.version ? `${model} A/B: ${bc.version} replaced by ${ac.version} at ${ac.traffic}% beside ${stable}; the test starts over`
        : bc.traffic !== ac.traffic ? `${model} A/B of ${ac.version}: ${bc.traffic}% → ${ac.traffic}%; the test starts over at the new split`
          : `${model} canary ${ac.version} at ${ac.traffic}% becomes an A/B beside ${stable}`;
    return { kind: 'ab-start', candidate: ac.version, champion: stable, description: what };
  }
  if (bc?.ab && (!ac || !ac.ab)) {
    return { kind: 'ab-conclude', candidate: stable, champion: stable, description: `${model} A/B of ${bc.version} ended; ${stable} kept${ac ? ` (${ac.version} stays as a canary)` : ''}` };
  }
  return undefined;
}

export function pin(d: Deployment | undefined): PinState {
  if (!d) return {};
  return { version: d.version, ...(d.canary ? { canary: { ...d.canary } } : {}), ...(d.shadow ? { shadow: { ...d.shadow } } : {}) };
}

/** A deployment without its pins: serving settings that a config change touches. */
function settings(d: Deployment): Record<string, unknown> {
  const { version: _v, canary: _c, shadow: _s, reason: _r, ...rest } = d;
  return rest;
}

function envSettings(e: Environment): Record<string, unknown> {
  const { models: _m, description: _d, ...rest } = e;
  return rest;
}

function pinningEnvironments(state: DesiredState, model: string, version?: string): string[] {
  const out: string[] = [];
  for (const [name, env] of state.environments) {
    const d = env.data.models[model];
    if (d && (version === undefined || [d.version, d.canary?.version, d.shadow?.version].includes(version))) out.push(name);
  }
  return out.sort();
}

function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !same(a[k], b[k])).sort();
}

/** Structural equality of plain data (YAML-loaded values: no cycles, no functions). */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
