// The checker's core: which gates each change needs, what evidence they need, and the report.
// Pure. The caller (commands/check.ts) diffs the states, gathers the evidence `needs` asks for
// through the adapters, and hands both to `evaluate`. Policies always come from the base.

import type { LoadedRepository } from '../config/load.js';
import type { AbPolicy, Environment, Histogram, Policy, RepositoryPolicy, ShadowPolicy, VersionManifest } from '../config/types.js';
import { parseDuration } from '../model/durations.js';
import type { DbtIndex } from '../model/dbt.js';
import type { StoredObject } from '../model/objects.js';
import { abGate, type AbEvidence } from './ab.js';
import { approvalsGate } from './approvals.js';
import type { Review } from '../model/approvals.js';
import { canaryGate, type CanaryObservation } from './canary.js';
import { repositoryScope, type Change, type ChangeKind } from '../model/changes.js';
import { codeOwnerOf, repositoryPolicyFile, repositoryRule, type OwnerRule } from '../model/owners.js';
import { driftGate } from './drift.js';
import { featuresGate } from './features.js';
import { freezeGate } from './freeze.js';
import { heldGate, type Hold } from './held.js';
import { integrityGate } from './integrity.js';
import { registrationKey } from '../registry/record.js';
import { performanceGate } from './performance.js';
import { schemaGate } from './schema.js';
import type { CanaryPin, PinCommit } from '../model/pins.js';
import { shadowGate, type ShadowEvidence } from './shadow.js';
import { judgeSampleRatio, type SampleRatioEvidence } from './sample-ratio.js';
import { soakGate } from './soak.js';
import { result, worst, type GateName, type GateResult, type GateStatus } from './types.js';

/** The gates each kind of change must pass, in report order. */
const gatesByKind: Record<ChangeKind, GateName[]> = {
  'new-model': ['schema', 'features', 'integrity', 'performance', 'soak', 'drift', 'held', 'freeze', 'approvals'],
  promote: ['schema', 'features', 'integrity', 'performance', 'soak', 'drift', 'held', 'freeze', 'approvals'],
  // A return to a version held there (rolled back before) is a rollback by kind, but the hold still applies.
  rollback: ['schema', 'features', 'integrity', 'performance', 'soak', 'drift', 'held', 'freeze', 'approvals'],
  'shadow-promote': ['schema', 'features', 'integrity', 'performance', 'soak', 'drift', 'shadow', 'held', 'freeze', 'approvals'],
  'canary-start': ['schema', 'features', 'integrity', 'performance', 'soak', 'drift', 'canary', 'held', 'freeze', 'approvals'],
  'canary-step': ['integrity', 'canary', 'freeze', 'approvals'],
  'canary-promote': ['integrity', 'canary', 'freeze', 'approvals'],
  'shadow-start': ['schema', 'integrity', 'freeze', 'approvals'],
  'canary-abort': ['freeze', 'approvals'],
  // An A/B starts as a canary does (the version is judged before it takes traffic), and ends by the A/B test's verdict.
  'ab-start': ['schema', 'features', 'integrity', 'performance', 'soak', 'drift', 'ab', 'held', 'freeze', 'approvals'],
  'ab-conclude': ['integrity', 'ab', 'freeze', 'approvals'],
  'shadow-stop': ['freeze', 'approvals'],
  config: ['freeze', 'approvals'],
  'environment-config': ['freeze', 'approvals'],
  removal: ['freeze', 'approvals'],
  'model-card': ['schema', 'features', 'approvals'],
  'version-modified': ['integrity'],
  policy: ['policy', 'owners'],
  // Judged by the repository policy's owners (policies/repository.yaml on the base), not by an environment's policy.
  code: ['owners'],
  'environment-added': ['owners'],
  'environment-removed': ['freeze', 'owners'],
};

/** Changes that take risk away; freeze windows let them through unless the window says otherwise. */
const rollbackLike = new Set<ChangeKind>(['rollback', 'canary-abort', 'shadow-stop']);

/** Gates whose mode (block / warn / off) the policy sets; the others always block. */
const modal = new Set<GateName>(['schema', 'integrity', 'features', 'performance', 'drift', 'shadow']);

export function gatesFor(kind: ChangeKind): GateName[] {
  return gatesByKind[kind];
}

/** What the gates need from the outside world, so the caller fetches only that. */
export interface EvidenceRequest {
  /** model@version -> artifact URI to HEAD */
  artifacts: Map<string, string>;
  /** model@version -> register's registration record to look for: the version's record folder and the manifest's SHA-256 (registry/manifest.ts registrationKey) */
  registrations?: Map<string, { folder: string; sha256: string }>;
  /** dbt manifest locations (policy gates.features.manifest) */
  dbtManifests: Map<string, { models: Set<string> }>;
  /**
   * environments whose first-parent pin history is needed (soak upstreams, canary start times),
   * back to when these versions appeared; each with its registration time, before which it cannot be pinned
   */
  timelines: Map<string, Map<string, string | undefined>>;
  /** canaries to observe: env/model -> what runs (and, for the sample ratio check, the stable version and the prediction log) */
  canaries: Map<string, CanaryPin & { environment: string; model: string; policy: NonNullable<Policy['canary']>; sampleRatio?: { env: Environment; table: string; stable: string } }>;
  /** serving distributions to read for drift: env/model -> the scoring log to aggregate (the SQL `modelship drift` runs) */
  serving: Map<string, ServingRequest>;
  /** teams whose members the approvals gates need */
  teams: Set<string>;
  /** versions to look up holds for (held gate): env/model@version -> what to search */
  holds?: Map<string, { environment: string; model: string; version: string; registeredAt?: string }>;
  /** A/B tests to measure (ab gate, at their conclusion): env/model -> the arms and the policy's metric */
  abTests?: Map<string, AbRequest>;
  /** whether the pull request's head commit is read for an `AB-Override:` trailer */
  abOverride?: boolean;
  /** shadows to judge (shadow gate): env/model -> the prediction log aggregation to run */
  shadows?: Map<string, ShadowRequest>;
  /** shadows running in an environment the pull request changes, shown in the report, never judged: env/model -> the same aggregation */
  runningShadows?: Map<string, ShadowRequest>;
}

/** A shadow's answers beside the champion's, from the environment's prediction log (metrics/prediction-log.ts shadowQuery). */
export interface ShadowRequest {
  environment: string;
  /** the environment file (its Snowflake role and warehouse) */
  env: Environment;
  model: string;
  champion: string;
  candidate: string;
  table: string;
  /** the policy's window (default 24h), ending at the check's time; never before the shadow started (from the timeline) */
  windowMs: number;
  scoreEdges?: number[];
  threshold?: number;
  slices: Array<{ name: string; column: string; value: string }>;
}

/** An A/B test to measure: the north-star metric of both arms since the split was set. */
export interface AbRequest {
  environment: string;
  /** the environment file (its Snowflake role and warehouse) */
  env: Environment;
  model: string;
  /** A: the stable version; B: the challenger at `traffic` percent */
  a: string;
  b: string;
  traffic: number;
  policy: AbPolicy;
}

/**
 * Rows the live version scored in the environment's scoring log (the model card's
 * serving.batch.target), binned on the candidate's training histograms so the two compare bin by bin.
 */
export interface ServingRequest {
  environment: string;
  /** the environment file (its Snowflake role and warehouse) */
  env: Environment;
  model: string;
  /** the version live there (the champion): the rows it scored */
  version: string;
  table: string;
  /** the policy's drift window (default a day), ending at the check's time, and as the policy wrote it */
  windowMs: number;
  windowText: string;
  features: Record<string, Histogram>;
  score?: { column: string; histogram: Histogram };
}

/** What the serving data source gave: histograms, or why there are none (`unavailable`: compare with training data instead; `error`: the gate errs). */
export type ServingEvidence =
  | { histograms: Record<string, Histogram>; scores?: Histogram; label: string }
  | { unavailable: string }
  | { error: string };

export interface ReviewEvidence {
  author: string;
  headSha: string;
  reviews: Review[];
  teamMembers: Record<string, string[]>;
  /** GitHub logins that pushed or committed the head commit (the last push's sender, the head commit's author and committer); none of them may approve it */
  pushers?: string[];
  /** the pull request's base branch name (e.g. "main"); must be the release branch */
  baseRef?: string;
}

export interface Evidence {
  now: Date;
  artifacts: Map<string, StoredObject | undefined | { error: string }>;
  /** model@version -> the HEAD of the record for the manifest's bytes (undefined: none) and the keys of the version's other records */
  registrations?: Map<string, { exact: StoredObject | undefined; others: string[] } | { error: string }>;
  dbt: Map<string, DbtIndex | { error: string }>;
  /** newest first, per environment (git/history.ts's commits satisfy soak's PinEvent) */
  timelines: Map<string, PinCommit[]>;
  canaries: Map<string, { startedAt?: Date; observations: CanaryObservation[]; sampleRatio?: SampleRatioEvidence }>;
  serving: Map<string, ServingEvidence>;
  /** absent in a local run: approvals are then left to GitHub */
  review?: ReviewEvidence;
  /** env/model@version -> holds of that version there (git history), or why they could not be read */
  holds?: Map<string, Hold[] | { error: string }>;
  /** env/model -> the A/B's metric over its window, and when its split was set (git history) */
  abTests?: Map<string, { startedAt?: Date; evidence: AbEvidence }>;
  /** the reason of an `AB-Override:` trailer on the pull request's head commit */
  abOverride?: string;
  /** env/model -> the shadow's figures from the prediction log, or why there are none */
  shadows?: Map<string, ShadowEvidence>;
  /** env/model -> the figures of a shadow running in a changed environment (informational) */
  runningShadows?: Map<string, ShadowEvidence>;
}

export interface CheckState {
  base: LoadedRepository;
  head: LoadedRepository;
  changes: Change[];
  /** sha256 of each environments/*.yaml at head, for the binding */
  environmentDigests?: Record<string, string>;
}

export interface JudgedGate extends GateResult {
  /** whether this result stops the merge */
  blocking: boolean;
  /** how the policy shaped the result: "warn-only in the production policy", "rollback fast lane" */
  note?: string;
}

export interface JudgedChange {
  change: Change;
  status: GateStatus;
  gates: JudgedGate[];
}

export type Verdict = 'ready' | 'warnings' | 'waiting-for-approval' | 'blocked' | 'invalid' | 'no-changes';

export interface Report {
  verdict: Verdict;
  /** one line: what the verdict means here */
  headline: string;
  base: { label: string };
  head: { label: string };
  changes: JudgedChange[];
  /** what the gates were bound to: re-verify on the merge commit before trusting this report */
  binding?: Binding;
  /** validation problems of head, when it is invalid (nothing else ran) */
  problems?: import('../errors.js').Problem[];
  /** approvals were not evaluated (local run) */
  approvalsPending?: boolean;
  /** what merge will do in each environment the change touches (rendered objects, base → head) */
  preview?: import('../sync/preview.js').Preview;
  /** shadows running in an environment the pull request changes (and does not promote or stop): their live figures, informational only */
  runningShadows?: RunningShadow[];
  evaluatedAt: string;
}

/** A shadow that keeps running through the pull request: where, and what `modelship status` would show for it. */
export type RunningShadow = { environment: string; model: string } & import('../status/experiments.js').ShadowStatus;

export interface Binding {
  /** sha256 of each environments/*.yaml at head */
  environments: Record<string, string>;
  /** artifact sha256 of every version a change puts in front of traffic */
  models: Record<string, string>;
}

/** Lists the evidence the changes' gates will ask for. */
export function needs(state: CheckState): EvidenceRequest {
  const req: EvidenceRequest = { artifacts: new Map(), dbtManifests: new Map(), timelines: new Map(), canaries: new Map(), serving: new Map(), teams: new Set() };
  const repository = state.base.repository?.data;
  for (const change of state.changes) {
    const owners = repository ? ownerRule(repository, change) : undefined;
    if (owners) for (const t of owners.owners) req.teams.add(t);
    for (const env of change.reaches ?? []) {
      const theirs = state.base.policies.get(env)?.data;
      if (theirs) for (const t of approvalTeams(state, change, theirs)) req.teams.add(t);
    }
    const policy = state.base.policies.get(change.environment)?.data;
    if (!policy) continue;
    const gates = applicable(change, policy);
    const candidate = manifestOf(state.head, change.model, change.candidate) ?? manifestOf(state.base, change.model, change.candidate);
    if (gates.includes('integrity') && candidate) {
      req.artifacts.set(`${candidate.model}@${candidate.version}`, candidate.artifact.uri);
      const r = registrationOf(state, candidate);
      if (r) (req.registrations ??= new Map()).set(`${candidate.model}@${candidate.version}`, { folder: r.folder, sha256: r.sha256 });
    }
    if (gates.includes('features') && policy.gates.features?.manifest && change.model) {
      const entry = req.dbtManifests.get(policy.gates.features.manifest) ?? { models: new Set<string>() };
      for (const f of state.head.models.get(change.model)?.data.features ?? []) entry.models.add(f.source.dbtModel);
      req.dbtManifests.set(policy.gates.features.manifest, entry);
    }
    const timeline = (env: string, version: string) => req.timelines.set(env, (req.timelines.get(env) ?? new Map<string, string | undefined>())
      .set(version, (manifestOf(state.head, change.model, version) ?? manifestOf(state.base, change.model, version))?.registeredAt));
    if (gates.includes('soak') && policy.promotion?.from && change.candidate) timeline(policy.promotion.from, change.candidate);
    if (gates.includes('canary') && change.model && change.kind !== 'canary-start') {
      const running = state.base.environments.get(change.environment)?.data.models[change.model]?.canary;
      if (running) timeline(change.environment, running.version);
      if (running && policy.canary) {
        const env = state.base.environments.get(change.environment)?.data;
        const stable = env?.models[change.model]?.version;
        req.canaries.set(`${change.environment}/${change.model}`, {
          environment: change.environment, model: change.model, version: running.version, traffic: running.traffic, policy: policy.canary,
          ...(policy.canary.sampleRatio && env?.inferenceLog && stable ? { sampleRatio: { env, table: env.inferenceLog.table, stable } } : {}),
        });
      }
    }
    if (gates.includes('drift') && change.model && candidate?.histograms && Object.keys(candidate.histograms).length) {
      const env = state.base.environments.get(change.environment)?.data;
      const live = change.champion && change.champion !== change.candidate ? change.champion : undefined;
      const card = state.head.models.get(change.model)?.data ?? state.base.models.get(change.model)?.data;
      const table = card?.serving.batch?.target;
      const output = card?.output[0]?.name;
      if (env && live && table) {
        req.serving.set(`${change.environment}/${change.model}`, {
          environment: change.environment, env, model: change.model, version: live, table,
          windowMs: parseDuration(policy.gates.drift?.window ?? '') ?? 86_400_000,
          windowText: policy.gates.drift?.window && parseDuration(policy.gates.drift.window) !== undefined ? policy.gates.drift.window : '24h',
          features: candidate.histograms,
          ...(candidate.scoreHistogram && output ? { score: { column: output, histogram: candidate.scoreHistogram } } : {}),
        });
      }
    }
    if (gates.includes('ab') && change.kind === 'ab-conclude' && change.model && change.from?.canary && change.from.version && policy.ab) {
      const env = state.base.environments.get(change.environment)?.data;
      timeline(change.environment, change.from.canary.version);
      req.abOverride = true;
      if (env) {
        req.abTests = (req.abTests ?? new Map()).set(`${change.environment}/${change.model}`, {
          environment: change.environment, env, model: change.model, a: change.from.version, b: change.from.canary.version, traffic: change.from.canary.traffic, policy: policy.ab,
        });
      }
    }
    if (gates.includes('shadow') && change.model && change.champion && change.candidate && policy.gates.shadow) {
      const env = state.base.environments.get(change.environment)?.data;
      const shadow = policy.gates.shadow;
      if (env?.inferenceLog) {
        timeline(change.environment, change.candidate);
        (req.shadows ??= new Map()).set(`${change.environment}/${change.model}`, {
          environment: change.environment, env, ...shadowRequest(change.model, change.champion, change.candidate, env.inferenceLog.table, shadow, candidate),
        });
      }
    }
    const pinned = heldVersion(change);
    if (gates.includes('held') && change.model && pinned) {
      const registeredAt = (manifestOf(state.head, change.model, pinned) ?? manifestOf(state.base, change.model, pinned))?.registeredAt;
      (req.holds ??= new Map()).set(`${change.environment}/${change.model}@${pinned}`, { environment: change.environment, model: change.model, version: pinned, ...(registeredAt ? { registeredAt } : {}) });
    }
    if (gates.includes('approvals')) for (const t of approvalTeams(state, change, policy)) req.teams.add(t);
    if (gates.includes('policy')) for (const t of policy.policyOwners) req.teams.add(t);
  }
  for (const r of runningShadows(state)) {
    const env = state.base.environments.get(r.environment)!.data;
    const shadow = state.base.policies.get(r.environment)?.data.gates.shadow;
    if (!env.inferenceLog || !shadow) continue;
    const manifest = manifestOf(state.head, r.model, r.candidate) ?? manifestOf(state.base, r.model, r.candidate);
    req.timelines.set(r.environment, (req.timelines.get(r.environment) ?? new Map<string, string | undefined>()).set(r.candidate, manifest?.registeredAt));
    (req.runningShadows ??= new Map()).set(`${r.environment}/${r.model}`, {
      environment: r.environment, env, ...shadowRequest(r.model, r.champion, r.candidate, env.inferenceLog.table, shadow, manifest),
    });
  }
  return req;
}

/** Runs every gate of every change and renders the verdict. */
export function evaluate(state: CheckState, evidence: Evidence): Report {
  const judged = state.changes.map((change) => judgeChange(state, change, evidence));
  const report = summarize(state, judged, evidence);
  // A verdict on a pull request into another branch would stand on the same head commit as one
  // into the release branch, judged by that branch's (possibly laxer) files: refuse to give one.
  const release = releaseBranchOf(state);
  const baseRef = evidence.review?.baseRef;
  if (baseRef !== undefined && baseRef !== release) {
    return { ...report, verdict: 'blocked', headline: `the pull request's base is ${baseRef}, not the release branch ${release}: modelship judges only pull requests into ${release}` };
  }
  return report;
}

/** The release branch: the base's repository policy's releaseBranch, else main. */
export function releaseBranchOf(state: Pick<CheckState, 'base'>): string {
  return state.base.repository?.data.releaseBranch ?? 'main';
}

/** The report for a head revision that does not validate: nothing else runs. */
export function invalidReport(base: string, head: string, problems: import('../errors.js').Problem[], now: Date): Report {
  const errors = problems.filter((p) => p.severity === 'error');
  return {
    verdict: 'invalid', headline: `${head} does not validate: ${errors.length} problem${errors.length === 1 ? '' : 's'}; no gate ran`,
    base: { label: base }, head: { label: head }, changes: [], problems, evaluatedAt: now.toISOString(),
  };
}

function applicable(change: Change, policy: Policy): GateName[] {
  const gates = gatesByKind[change.kind].filter((g) => g !== 'soak' || !!policy.promotion?.from);
  return change.owners && !gates.includes('owners') ? [...gates, 'owners'] : gates;
}

/**
 * Who may approve a change under an environment's policy: for a policy change its policyOwners;
 * else approvals.teams, by default (policy.schema.json) the model's reviewers as the base's model
 * card names them (a pull request cannot choose its own approvers by editing or adding the card),
 * and for a change that touches no model already on the base, the policy's policyOwners.
 */
function approvalTeams(state: Pick<CheckState, 'base'>, change: Change, policy: Policy): string[] {
  if (change.kind === 'policy') return policy.policyOwners;
  if (policy.approvals.teams) return policy.approvals.teams;
  const reviewers = change.model ? state.base.models.get(change.model)?.data.reviewers : undefined;
  return reviewers?.length ? reviewers : policy.policyOwners;
}

/** The repository policy's rule whose owners must approve `change`, if any. */
function ownerRule(repository: RepositoryPolicy, change: Change): OwnerRule | undefined {
  if (change.kind === 'code') return codeOwnerOf(repository, change.file);
  if (change.owners === 'policies' || change.owners === 'environments') return repositoryRule(repository, change.owners);
  return undefined;
}

/** What the owners gate calls a change: "code change", "policy change", "environment change". */
function ownedWhat(change: Change): string {
  return change.kind === 'code' ? 'code change' : change.kind === 'policy' ? 'policy change' : 'environment change';
}

/** The repository policy's owners gate: the base's policies/repository.yaml names who approves. */
function ownersResult(state: CheckState, change: Change, ev: Evidence): GateResult {
  const what = ownedWhat(change);
  const repository = state.base.repository?.data;
  if (!repository) {
    // The first repository policy has nobody to approve it: an administrator merges it, and it judges every change after.
    if (change.file === repositoryPolicyFile) return result('owners', 'fail', `${what}: policies/repository.yaml is new and there is none on the base branch to say who approves it; the first one is merged by an administrator`);
    return result('owners', 'fail', `${what}: there is no policies/repository.yaml on the base branch, so nobody owns this change; add the repository policy in a pull request of its own first`);
  }
  const rule = ownerRule(repository, change);
  if (!rule) return result('owners', 'error', `${what}: no rule of the repository policy applies`);
  const owners = rule.owners.join(', ');
  const plural = rule.count === 1 ? '' : 's';
  if (!ev.review) return result('owners', 'skipped', `${what}: needs ${rule.count} approval${plural} from ${owners} (repository policy, ${rule.source}); checked on GitHub (--github)`);
  const r = approvalsGate({
    reviews: ev.review.reviews, headSha: ev.review.headSha, author: ev.review.author, teamMembers: ev.review.teamMembers,
    ...(ev.review.pushers ? { pushers: ev.review.pushers } : {}),
    required: { count: rule.count, teams: rule.owners, excludeAuthor: true, dismissStale: true },
  });
  return { ...r, gate: 'owners', summary: r.status === 'pass' ? `${what}: ${r.summary}` : `${what}: needs ${owners}; ${r.summary}`, data: { ...r.data, rule: rule.source } };
}

/**
 * The gates of another environment whose targets the change reaches (its new cluster,
 * namespace, database, warehouse or role is that environment's): its approvals and freeze
 * windows judge the change as well, so the strictest policy among them decides.
 */
function reachedGates(state: CheckState, change: Change, ev: Evidence): JudgedGate[] {
  const out: JudgedGate[] = [];
  for (const env of change.reaches ?? []) {
    const theirs = state.base.policies.get(env)?.data;
    const note = `${change.environment}'s targets reach ${env}: the ${env} policy judges this change too`;
    if (!theirs) {
      out.push({ ...result('approvals', 'fail', `${env} policy: there is none on the base branch to judge a change that reaches ${env}'s targets`), blocking: true, note });
      continue;
    }
    for (const gate of ['freeze', 'approvals'] as const) {
      const r = runGate(gate, state, { ...change, environment: env }, theirs, ev);
      out.push({ ...r, summary: `${env} policy: ${r.summary}`, blocking: r.status === 'fail' || r.status === 'error', note });
    }
  }
  return out;
}

/** The policy's rollback fast lane, for a rollback; a "rollback" to a version held there (rolled back itself) is a re-promotion and gets none. */
function fastLaneOf(change: Change, policy: Policy, ev: Evidence): NonNullable<Policy['rollback']>['fastLane'] {
  if (change.kind !== 'rollback') return undefined;
  const holds = ev.holds?.get(`${change.environment}/${change.model}@${change.candidate}`);
  return Array.isArray(holds) && holds.some((h) => h.version === change.candidate) ? undefined : policy.rollback?.fastLane;
}

function judgeChange(state: CheckState, change: Change, ev: Evidence): JudgedChange {
  const policy = state.base.policies.get(change.environment)?.data;
  if (!policy) {
    const isNew = !state.base.environments.has(change.environment) && state.head.environments.has(change.environment);
    // A code change, a change to the repository policy, and a new environment with its policy are
    // the repository owners' to approve (plus the policies of any environment whose targets a new one reaches).
    if (change.environment === repositoryScope || (isNew && (change.kind === 'environment-added' || change.kind === 'policy'))) {
      const owners = ownersResult(state, change, ev);
      const gates = [{ ...owners, blocking: owners.status === 'fail' || owners.status === 'error' }, ...reachedGates(state, change, ev)];
      return { change, status: worst(gates.map((g) => g.status)), gates };
    }
    // Nothing on the base can judge pins in a new environment (no soak source, no gates, no
    // approvers of its own): it starts empty, and its first pins come in a pull request of their own.
    const g: JudgedGate = {
      ...result('policy', 'fail', isNew
        ? `${change.environment} is new in this pull request and its policy is not on the base branch yet, so nothing can judge what it runs: add the environment with no models (models: {}) first, then pin versions in a pull request of their own`
        : `there is no policy for ${change.environment} on the base branch; add policies/${change.environment}.yaml in a pull request of its own first`),
      blocking: true,
    };
    return { change, status: 'fail', gates: [g] };
  }
  const fastLane = fastLaneOf(change, policy, ev);
  const gates = applicable(change, policy).map((gate): JudgedGate => {
    const mode = modal.has(gate) ? (policy.gates as Record<string, { mode?: 'block' | 'warn' | 'off' } | undefined>)[gate]?.mode ?? 'block' : 'block';
    if (mode === 'off') return { ...result(gate, 'skipped', `off in the ${change.environment} policy`), blocking: false };
    if (fastLane?.skip?.includes(gate)) return { ...result(gate, 'skipped', 'not required for a rollback (fast lane)'), blocking: false, note: 'rollback fast lane' };
    const r = runGate(gate, state, change, policy, ev);
    if (mode === 'warn' && (r.status === 'fail' || r.status === 'error')) {
      return { ...r, status: 'warn', blocking: false, note: `warn-only in the ${change.environment} policy (was ${r.status})` };
    }
    return { ...r, blocking: r.status === 'fail' || r.status === 'error', ...(fastLane && gate === 'approvals' ? { note: 'rollback fast lane' } : {}) };
  });
  gates.push(...reachedGates(state, change, ev));
  return { change, status: worst(gates.map((g) => g.status)), gates };
}

function runGate(gate: GateName, state: CheckState, change: Change, policy: Policy, ev: Evidence): GateResult {
  const card = change.model ? state.head.models.get(change.model)?.data ?? state.base.models.get(change.model)?.data : undefined;
  const candidate = manifestOf(state.head, change.model, change.candidate) ?? manifestOf(state.base, change.model, change.candidate);
  const champion = change.champion && change.champion !== change.candidate ? manifestOf(state.base, change.model, change.champion) : undefined;
  const needVersion = (): GateResult | undefined => (!card || !candidate
    ? result(gate, 'error', `${change.model}@${change.candidate}: the model card or version manifest could not be read`) : undefined);

  switch (gate) {
    case 'schema':
      return needVersion() ?? schemaGate({ card: card!, manifest: candidate! });
    case 'features': {
      const location = policy.gates.features?.manifest;
      if (!location) return result('features', 'skipped', `the ${change.environment} policy names no dbt manifest`);
      return needVersion() ?? featuresGate({
        card: card!, manifest: candidate!, policy: policy.gates.features, now: ev.now,
        dbt: ev.dbt.get(location) ?? { error: `${location} was not read` },
      });
    }
    case 'performance':
      return needVersion() ?? performanceGate({
        candidate: candidate!.metrics, environment: change.environment, policy: policy.gates.performance,
        ...(champion ? { champion: champion.metrics, championVersion: champion.version } : {}),
      });
    case 'integrity': {
      if (!candidate) return needVersion()!;
      const edited = change.kind === 'version-modified'
        ? { how: state.head.present.has(change.file) ? 'modified' as const : 'deleted' as const, pinned: isPinned(state.head, candidate.model, candidate.version) }
        : undefined;
      const r = registrationOf(state, candidate);
      const seen = ev.registrations?.get(`${candidate.model}@${candidate.version}`) ?? { error: 'not read' };
      const registration = !r ? { error: `${candidate.model} has no model card, so its registry is unknown` }
        : 'error' in seen ? seen : { file: r.file, sha256: r.sha256, uri: `${r.folder}${r.sha256}.yaml`, ...seen };
      return integrityGate({
        manifest: candidate, registration, stored: ev.artifacts.has(`${candidate.model}@${candidate.version}`) ? ev.artifacts.get(`${candidate.model}@${candidate.version}`) : { error: 'not read' },
        requireImageDigest: policy.gates.integrity?.requireImageDigest ?? false, online: !!card?.serving.online,
        ...(edited ? { edited } : {}),
      });
    }
    case 'soak': {
      const from = policy.promotion!.from!;
      return soakGate({
        candidate: change.candidate!, model: change.model!, from, to: change.environment, soak: policy.promotion!.soak ?? '0s',
        now: ev.now, timeline: ev.timelines.get(from) ?? [],
      });
    }
    case 'canary': {
      const running = change.model ? state.base.environments.get(change.environment)?.data.models[change.model]?.canary : undefined;
      const seen = ev.canaries.get(`${change.environment}/${change.model}`);
      const env = state.base.environments.get(change.environment)?.data;
      const sampleRatio = policy.canary?.sampleRatio && running && change.kind !== 'canary-start'
        ? judgeSampleRatio({
          policy: policy.canary.sampleRatio, environment: change.environment, stable: env?.models[change.model!]?.version ?? '?', canary: running.version,
          traffic: running.traffic, table: env?.inferenceLog?.table, evidence: seen?.sampleRatio,
        })
        : undefined;
      return canaryGate({
        policy: policy.canary, now: ev.now, observations: seen?.observations ?? [], ...(sampleRatio ? { sampleRatio } : {}),
        change: change.kind === 'canary-start' ? 'start' : change.kind === 'canary-step' ? 'step' : 'promote-canary',
        canary: change.kind === 'canary-start' ? change.to?.canary : running ? { ...running, ...(seen?.startedAt ? { startedAt: seen.startedAt } : {}) } : undefined,
      });
    }
    case 'drift': {
      if (!candidate?.histograms || Object.keys(candidate.histograms).length === 0) {
        return result('drift', 'skipped', `${change.model}@${change.candidate} records no training histograms`);
      }
      const serving = ev.serving.get(`${change.environment}/${change.model}`);
      if (serving && 'error' in serving) return result('drift', 'error', `the serving data could not be read: ${serving.error}`);
      // Without serving data, the training data of the version live there stands in for it, and the label says why.
      const why = serving && 'unavailable' in serving ? serving.unavailable
        : card?.serving.batch?.target ? 'serving data not read' : 'no serving data source: the model card names no scoring log (serving.batch.target)';
      const current = serving && 'histograms' in serving ? serving
        : champion?.histograms ? { histograms: champion.histograms, label: `training data of ${champion.version} (live in ${change.environment}; ${why})`, ...(champion.scoreHistogram ? { scores: champion.scoreHistogram } : {}) } : undefined;
      if (!current) return result('drift', 'skipped', `no serving data and no version live in ${change.environment} to compare with`);
      return driftGate({
        reference: candidate.histograms, current: current.histograms, referenceLabel: `training data of ${candidate.version}`,
        currentLabel: current.label, policy: policy.gates.drift,
        ...(candidate.scoreHistogram ? { scores: { reference: candidate.scoreHistogram, ...(current.scores ? { current: current.scores } : {}) } } : {}),
      });
    }
    case 'shadow': {
      if (!change.model || !change.champion || !change.candidate) return result('shadow', 'skipped', 'no shadow and champion to compare');
      const env = state.base.environments.get(change.environment)?.data;
      return shadowGate({
        policy: policy.gates.shadow, environment: change.environment, model: change.model, champion: change.champion, candidate: change.candidate,
        table: env?.inferenceLog?.table, evidence: ev.shadows?.get(`${change.environment}/${change.model}`),
      });
    }
    case 'held': {
      const version = heldVersion(change);
      if (!change.model || !version) return result('held', 'skipped', 'pins no version');
      // A caller that gathers no holds at all (evidence built by hand) gets a skip, not a pass.
      if (!ev.holds) return result('held', 'skipped', `whether ${change.model} ${version} is held in ${change.environment} was not looked up`);
      const entry = (repo: LoadedRepository) => repo.environments.get(change.environment)?.data.models[change.model!];
      const reason = entry(state.head)?.reason;
      const previousReason = entry(state.base)?.reason;
      return heldGate({
        environment: change.environment, model: change.model, version,
        holds: ev.holds?.get(`${change.environment}/${change.model}@${version}`) ?? { error: 'the history was not read' },
        ...(reason !== undefined ? { reason } : {}), ...(previousReason !== undefined ? { previousReason } : {}),
      });
    }
    case 'ab': {
      const start = change.kind === 'ab-start';
      const split = start ? change.to?.canary : change.from?.canary;
      const a = start ? change.to?.version : change.from?.version;
      if (!change.model || !split || !a) return result('ab', 'error', `${change.description}: the A/B's versions could not be read`);
      const seen = ev.abTests?.get(`${change.environment}/${change.model}`);
      return abGate({
        policy: policy.ab, environment: change.environment, model: change.model, a, b: split.version, traffic: split.traffic,
        change: start ? 'start' : 'conclude', keeps: change.to?.version === split.version ? 'b' : 'a', now: ev.now,
        ...(seen?.startedAt ? { startedAt: seen.startedAt } : {}),
        ...(start ? {} : { evidence: seen?.evidence ?? { error: 'not read' } }),
        ...(!start && ev.abOverride ? { override: ev.abOverride } : {}),
      });
    }
    case 'owners':
      return ownersResult(state, change, ev);
    case 'freeze':
      return freezeGate({ now: ev.now, windows: policy.freeze, isRollback: rollbackLike.has(change.kind) || keepsChampion(change) });
    case 'approvals':
    case 'policy': {
      const fastLane = fastLaneOf(change, policy, ev)?.approvals;
      const required = change.kind === 'policy'
        ? { count: Math.max(1, policy.approvals.count), teams: policy.policyOwners, excludeAuthor: true, dismissStale: policy.approvals.dismissStale ?? true }
        : { ...policy.approvals, teams: approvalTeams(state, change, policy), ...(fastLane !== undefined ? { count: fastLane } : {}) };
      const who = change.kind === 'policy' ? `policy owners (${policy.policyOwners.join(', ')}) of the base branch` : `${required.count} from ${required.teams?.join(', ') || 'any reviewer'}`;
      if (!ev.review) return result(gate, 'skipped', `needs ${required.count} approval${required.count === 1 ? '' : 's'}: ${who}; checked on GitHub (--github)`);
      const r = approvalsGate({
        reviews: ev.review.reviews, headSha: ev.review.headSha, author: ev.review.author, teamMembers: ev.review.teamMembers, required,
        ...(ev.review.pushers ? { pushers: ev.review.pushers } : {}),
      });
      return gate === 'policy' ? { ...r, gate: 'policy', summary: `policy change: ${r.summary}` } : r;
    }
    default:
      return result(gate, 'error', `no such gate: ${gate}`);
  }
}

/** An A/B ended keeping the stable version: it takes risk away, as a canary abort does. */
function keepsChampion(change: Change): boolean {
  return change.kind === 'ab-conclude' && change.to?.version === change.from?.version;
}

/** The version a change puts in front of traffic again: the new stable pin, or the new canary. */
function heldVersion(change: Change): string | undefined {
  return change.kind === 'canary-start' || change.kind === 'ab-start' ? change.to?.canary?.version : change.to?.version !== change.from?.version ? change.to?.version : undefined;
}

function isPinned(repo: LoadedRepository, model: string, version: string): boolean {
  return [...repo.environments.values()].some((e) => {
    const d = e.data.models[model];
    return !!d && [d.version, d.canary?.version, d.shadow?.version].includes(version);
  });
}

/**
 * Where register's record of the candidate manifest must be: its version's record folder in the
 * model's registry (from the base's model card when the model exists there: a pull request
 * cannot point the check at a registry of its choosing), and the SHA-256 of the file's bytes.
 */
function registrationOf(state: CheckState, m: VersionManifest): { file: string; folder: string; sha256: string } | undefined {
  const loaded = state.head.versions.get(m.model)?.get(m.version) ?? state.base.versions.get(m.model)?.get(m.version);
  const card = state.base.models.get(m.model)?.data ?? state.head.models.get(m.model)?.data;
  if (!loaded?.sha256 || !card) return undefined;
  return { file: loaded.file, folder: registrationKey(card.registry, m.model, m.version), sha256: loaded.sha256 };
}

/**
 * Shadows that run in an environment file the pull request changes and keep running after it:
 * pinned on the base and on the head alike, and no change of the pull request promotes or stops
 * them. Their figures are shown in the report; they never change its verdict.
 */
export function runningShadows(state: CheckState): Array<{ environment: string; model: string; champion: string; candidate: string }> {
  const changed = new Set(state.changes.filter((c) => c.file === `environments/${c.environment}.yaml`).map((c) => c.environment));
  const out: Array<{ environment: string; model: string; champion: string; candidate: string }> = [];
  for (const environment of [...changed].sort()) {
    const base = state.base.environments.get(environment)?.data;
    const head = state.head.environments.get(environment)?.data;
    if (!base || !head) continue;
    for (const [model, d] of Object.entries(base.models).sort(([x], [y]) => x.localeCompare(y))) {
      if (!d.shadow || head.models[model]?.shadow?.version !== d.shadow.version) continue;
      if (state.changes.some((c) => c.environment === environment && c.model === model && (c.kind === 'shadow-promote' || c.kind === 'shadow-stop'))) continue;
      out.push({ environment, model, champion: d.version, candidate: d.shadow.version });
    }
  }
  return out;
}

/** What the shadow gate reads for `candidate` shadowing `champion`: the policy's window, the candidate's score bins, the threshold, the slices. `modelship status` asks the same. */
export function shadowRequest(model: string, champion: string, candidate: string, table: string, shadow: ShadowPolicy, manifest: VersionManifest | undefined): Omit<ShadowRequest, 'environment' | 'env'> {
  const edges = manifest?.scoreHistogram?.kind === 'numeric' ? manifest.scoreHistogram.edges : undefined;
  return {
    model, champion, candidate, table, windowMs: parseDuration(shadow.window ?? '') ?? 86_400_000,
    ...(edges ? { scoreEdges: edges } : {}), ...(shadow.agreement ? { threshold: shadow.agreement.threshold } : {}),
    slices: (shadow.slices ?? []).map((s) => ({ name: s.name, column: s.column, value: s.value })),
  };
}

function manifestOf(repo: LoadedRepository, model?: string, version?: string): VersionManifest | undefined {
  return model && version ? repo.versions.get(model)?.get(version)?.data : undefined;
}

function summarize(state: CheckState, changes: JudgedChange[], ev: Evidence): Report {
  const all = changes.flatMap((c) => c.gates);
  const blocking = all.filter((g) => g.blocking);
  const waitingOnly = blocking.length > 0 && blocking.every((g) => (g.gate === 'approvals' && g.data !== undefined)
    || ((g.gate === 'policy' || g.gate === 'owners') && g.status === 'fail' && g.data !== undefined));
  const warned = all.some((g) => g.status === 'warn');
  const approvalsPending = !ev.review && all.some((g) => (g.gate === 'approvals' || g.gate === 'policy' || g.gate === 'owners') && g.status === 'skipped');
  let verdict: Verdict;
  let headline: string;
  if (!changes.length) {
    verdict = 'no-changes';
    headline = 'nothing to judge: the pull request changes no file, or only adds model cards or versions that nothing pins yet';
  } else if (blocking.length && !waitingOnly) {
    verdict = 'blocked';
    const gates = [...new Set(blocking.map((g) => g.gate))];
    headline = `blocked: ${blocking.length} blocking result${blocking.length === 1 ? '' : 's'} (${gates.join(', ')}) in ${changes.filter((c) => c.gates.some((g) => g.blocking)).length} of ${changes.length} change${changes.length === 1 ? '' : 's'}`;
  } else if (waitingOnly) {
    verdict = 'waiting-for-approval';
    headline = `every gate passes${warned ? ' (with warnings)' : ''}; waiting for approval: ${blocking[0]!.summary}`;
  } else {
    verdict = warned ? 'warnings' : 'ready';
    headline = `${warned ? 'passes with warnings' : 'every gate passes'}${approvalsPending ? '; approvals are checked on GitHub' : '; ready to merge'}`;
  }
  return {
    verdict, headline, base: { label: state.base.label }, head: { label: state.head.label }, changes,
    binding: binding(state), ...(approvalsPending ? { approvalsPending } : {}), evaluatedAt: ev.now.toISOString(),
  };
}

function binding(state: CheckState): Binding {
  const models: Record<string, string> = {};
  for (const c of state.changes) {
    const m = c.candidate ? manifestOf(state.head, c.model, c.candidate) : undefined;
    if (m) models[`${m.model}@${m.version}`] = m.artifact.sha256;
  }
  return { environments: { ...state.environmentDigests }, models };
}

/** A blocking result anywhere: the exit code of `check`. */
export function isBlocked(report: Report): boolean {
  return report.verdict === 'blocked' || report.verdict === 'invalid' || report.verdict === 'waiting-for-approval';
}
