// `rollback`: find the commit on main that last moved a model's pin in an environment and revert
// it (a real `git revert`) on a branch, or write the previous pin when a clean revert is not the
// rollback; then open the pull request, or with break glass push to main and open a review issue.
// Every refusal comes before anything is written: history, policy, team membership and the
// artifact of the version rolled back to are all checked first.

import { RefusedError, UsageError, ValidationError } from '../errors.js';
import { loadDocument, loadRepository } from '../config/load.js';
import { withChanges } from '../config/snapshot.js';
import { validateSnapshot } from '../config/state.js';
import type { ModelCard, Policy, VersionManifest } from '../config/types.js';
import { integrityGate } from '../gates/integrity.js';
import { parseDuration } from '../model/durations.js';
import { pinHistory } from '../adapters/git/history.js';
import { readPins } from '../config/pins.js';
import type { PinCommit } from '../model/pins.js';
import { commitOnBranch, deleteBranch, fetchBranch, refExists, remoteUrl, showFile } from '../adapters/git/repo.js';
import { pushCommit, revertOnBranch } from '../adapters/git/revert.js';
import { commitFacts, committedAt, onFirstParentLine } from '../adapters/git/search.js';
import { gitRevision, resolveRevision } from '../adapters/git/tree.js';
import {
  defaultBranch, octokit, openOrUpdateIssue, openOrUpdatePull, requestTeamReviews, teamMembers, tokenOwner,
  type GitHubClient, type GitHubConnection, type IssueRef, type PullRef, type RepoRef,
} from '../adapters/github/client.js';
import { githubRepository } from '../adapters/github/repository.js';
import { editEnvironment } from '../promote/edit.js';
import { localDefaultBranch } from '../promote/promote.js';
import { ArtifactStore, parseS3Uri, s3Client } from '../adapters/s3/store.js';
import { historyIsEnough, pinMove, planRollback, type RollbackPlan } from './plan.js';
import { breakGlassIssue, rollbackBody, rollbackMessage, rollbackTitle, type RollbackSummaryInput } from './summary.js';

export interface RollbackRequest {
  root: string;
  environment?: string;
  model?: string;
  to?: string;
  /** a commit to revert, by any revision name; checked to be the promotion the plan would revert */
  commit?: string;
  reason?: string;
  /** push the branch and open (or update) the pull request */
  openPr: boolean;
  /** push straight to the default branch with a Break-Glass trailer and open a review issue */
  breakGlass: boolean;
  /** canary watch with autoRollback: direct: push straight to the default branch (no issue) */
  direct?: boolean;
  base?: string;
  github?: GitHubConnection;
  repository?: string;
  /** GITHUB_ACTOR: who a break-glass rollback says runs it (the token's owner, when it has one, decides) */
  actor?: string;
  /** why, from canary watch */
  evidence?: string[];
  by?: string;
  now: Date;
  /**
   * The in-cluster agent: `root` is a working clone that has `base` at `tip` (nothing is fetched),
   * GitHub is talked to as `client` (the App's installation) and pushes go through `push`.
   */
  remote?: RollbackRemote;
}

export interface RollbackRemote {
  repository: RepoRef;
  client: GitHubClient;
  tip: string;
  push(commit: string, branch: string, options: { force?: boolean }): Promise<void>;
}

export interface RollbackResult {
  plan: RollbackPlan;
  how: 'revert' | 'write';
  title: string;
  branch: string;
  commit: string;
  base: string;
  artifact: string;
  notes: string[];
  pushed?: 'branch' | 'default-branch';
  pullRequest?: PullRef & { reviewers: string[] };
  issue?: IssueRef;
  nextSteps?: string[];
}

const namePattern = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$/;

export async function rollback(req: RollbackRequest): Promise<RollbackResult> {
  const { root } = req;
  for (const [flag, value] of [['--env', req.environment], ['--model', req.model]] as const) {
    if (value !== undefined && !namePattern.test(value)) throw new UsageError(`${flag} ${JSON.stringify(value)} is not a valid name`);
  }
  if (req.breakGlass && req.openPr) throw new UsageError('--break-glass pushes to the default branch; it does not open a pull request (drop --open-pr)');
  if (req.breakGlass && !req.reason?.trim()) throw new UsageError('--break-glass needs --reason: the emergency is recorded in the commit (Break-Glass trailer) and the review issue');

  const remote = req.openPr || req.breakGlass || req.direct;
  const repoRef = remote ? req.remote?.repository ?? await githubRepository(root, req.repository ?? process.env.GITHUB_REPOSITORY) : undefined;
  if (req.breakGlass && (!(req.github || req.remote) || !repoRef)) {
    throw new UsageError(`--break-glass needs GITHUB_TOKEN${repoRef ? '' : ' and a GitHub repository (GITHUB_REPOSITORY=owner/name)'}: the policy's teams are checked on GitHub and a review issue is opened there; without them nothing is pushed`);
  }
  const client = req.remote?.client ?? (req.github ? octokit(req.github) : undefined);
  const gh = client && repoRef && (req.openPr || req.breakGlass) ? client : undefined;
  const base = req.base ?? (gh && repoRef ? await defaultBranch(gh, repoRef) : undefined) ?? (await localDefaultBranch(root));
  if (!req.remote && await remoteUrl(root)) await fetchBranch(root, base);
  const baseRef = !req.remote && (await refExists(root, `refs/remotes/origin/${base}`)) ? `origin/${base}` : base;
  const parent = req.remote?.tip ?? await resolveRevision(root, baseRef);
  const push = req.remote?.push ?? ((commit: string, branch: string, options: { force?: boolean }) => pushCommit(root, commit, branch, options));

  const named = req.commit ? await namedCommit(root, parent, baseRef, req.commit) : undefined;
  const target = named ? await targetOf(root, named, req.environment, req.model) : undefined;
  const environment = req.environment ?? target?.environment;
  const model = req.model ?? target?.model;
  if (!environment || !model) throw new UsageError('name the environment and the model: --env <env> --model <model> (or --commit <promotion commit>)');

  const snapshot = await gitRevision(root, parent);
  const repo = await loadRepository(snapshot, { versions: 'pinned' });
  const envFile = `environments/${environment}.yaml`;
  const env = repo.environments.get(environment);
  if (!env) {
    if (!repo.present.has(envFile)) throw new RefusedError(`environment "${environment}" does not exist on ${baseRef} (no ${envFile})`);
    throw new ValidationError(repo.problems.filter((p) => p.file === envFile));
  }
  const policy = repo.policies.get(environment)?.data;
  const actor = req.breakGlass ? await allowBreakGlass(environment, policy, gh!, req.actor) : req.actor;

  const events: PinCommit[] = [];
  for await (const c of pinHistory(root, parent, environment)) {
    events.push(c);
    if (historyIsEnough(events, model, named)) break;
  }
  const plan = planRollback({ environment, model, history: events, ...(req.to !== undefined ? { to: req.to } : {}), ...(named ? { commit: named } : {}) });

  // The version rolled back to must still be deployable: its manifest on main and its artifact in the registry.
  const versionFile = `models/${model}/versions/${plan.to.version}.yaml`;
  const bytes = await showFile(root, parent, versionFile);
  if (!bytes) throw new RefusedError(`${model}@${plan.to.version} is not registered on ${baseRef} (no ${versionFile}); nothing was changed`);
  const manifest = loadDocument<VersionManifest>(versionFile, bytes, 'version');
  if (!manifest.loaded) throw new ValidationError(manifest.problems);
  const artifact = await checkArtifact(manifest.loaded.data);

  const cardBytes = await showFile(root, parent, `models/${model}/model.yaml`);
  const card = cardBytes ? loadDocument<ModelCard>(`models/${model}/model.yaml`, cardBytes, 'model').loaded?.data : undefined;
  const branch = `rollback/${environment}/${model}-${plan.takenAway}`;
  const summary = (how: 'revert' | 'write'): RollbackSummaryInput => ({
    plan, how, by: req.by ?? 'modelship rollback',
    ...(req.reason ? { reason: req.reason } : {}), ...(req.breakGlass ? { breakGlass: req.reason! } : {}),
    ...(req.evidence?.length ? { evidence: req.evidence } : {}),
  });

  const notes: string[] = [];
  let how: 'revert' | 'write' = 'revert';
  let commit: string | undefined;
  const whyNot = plan.write ?? (await revertBlockers(root, plan, envFile));
  if (!whyNot) {
    const facts = await commitFacts(root, plan.commit.sha);
    const outcome = await revertOnBranch(root, { parent, commit: plan.commit.sha, merge: facts.parents.length > 1, message: rollbackMessage(summary('revert')), branch });
    if ('commit' in outcome) {
      const problem = await checkRevert(root, outcome.commit, plan, envFile, events[0]!);
      if (problem) notes.push(`git revert of ${plan.commit.sha.slice(0, 12)} ${problem}; the pin is written instead`);
      else commit = outcome.commit;
    } else {
      notes.push(`git revert of ${plan.commit.sha.slice(0, 12)} does not apply cleanly (${outcome.conflict}); the pin is written instead`);
    }
  } else if (!plan.write) {
    notes.push(`${whyNot}; the pin is written instead`);
  }
  if (!commit) {
    how = 'write';
    const text = (await showFile(root, parent, envFile))!.toString('utf8');
    if (!card) throw new RefusedError(`models/${model}/model.yaml is missing on ${baseRef}`);
    const edit = editEnvironment(text, { model, version: plan.to.version, mode: { kind: 'stable' }, card, env: env.data, ...(req.reason ? { reason: req.reason } : {}) });
    const changes = new Map([[envFile, Buffer.from(edit.text)]]);
    const after = await validateSnapshot(withChanges(snapshot, changes), { versions: 'pinned' });
    if (!after.ok) throw new ValidationError(after.problems.filter((p) => p.severity === 'error'), 'the rollback would leave the repository invalid');
    const s = summary('write');
    if (plan.write) s.plan = plan;
    else s.plan = { ...plan, write: notes.at(-1)?.replace(/; the pin is written instead$/, '') ?? 'a clean revert is not possible' };
    commit = await commitOnBranch(root, { parent, branch, files: [{ path: envFile, content: edit.text }], message: rollbackMessage(s), force: true });
  }

  const result: RollbackResult = { plan, how, title: rollbackTitle(plan), branch, commit, base, artifact, notes };
  if (req.breakGlass || req.direct) {
    await push(commit, base, {});
    await deleteBranch(root, branch);
    result.pushed = 'default-branch';
    if (req.breakGlass) {
      const within = policy?.rollback?.breakGlass?.reviewWithin;
      const ms = within ? parseDuration(within) : undefined;
      // As the audit trail reckons it: from when the commit landed.
      const reviewBy = ms ? new Date(Date.parse(await committedAt(root, commit)) + ms).toISOString().replace(/:\d\d(\.\d+)?Z$/, 'Z') : undefined;
      const issue = breakGlassIssue({ ...summary(how), commit, actor: actor!, ...(reviewBy ? { reviewBy } : {}), ...(within ? { reviewWithin: within } : {}) });
      result.issue = await openOrUpdateIssue(gh!, repoRef!, { ...issue, labels: ['break-glass'] });
    }
    return result;
  }
  if (!req.openPr) return result;
  if (!gh || !repoRef) {
    result.nextSteps = [
      ...(!req.github ? ['GITHUB_TOKEN is not set, so the pull request was not opened.'] : []),
      ...(!repoRef ? ['The origin remote is not a GitHub repository; set GITHUB_REPOSITORY=owner/name.'] : []),
      `git push --force origin ${branch}`, `then open a pull request from ${branch} into ${base}`,
    ];
    return result;
  }
  await push(commit, branch, { force: true });
  result.pushed = 'branch';
  const pr = await openOrUpdatePull(gh, repoRef, { head: branch, base, title: result.title, body: rollbackBody(summary(how)) });
  const reviews = card ? await requestTeamReviews(gh, repoRef, pr.number, card.reviewers) : { requested: [], skipped: [] };
  result.pullRequest = { ...pr, reviewers: reviews.requested };
  return result;
}

/** The full sha of a commit the user named; it must be on the default branch's first-parent line. */
async function namedCommit(root: string, parent: string, baseRef: string, rev: string): Promise<string> {
  let sha: string;
  try {
    sha = await resolveRevision(root, rev);
  } catch {
    throw new UsageError(`--commit ${JSON.stringify(rev)} is not a commit in this repository`);
  }
  if (!(await onFirstParentLine(root, parent, sha))) {
    throw new UsageError(`${sha.slice(0, 12)} is not a promotion to roll back: it is not on ${baseRef}'s first-parent line (merged changes are reverted by their merge commit)`);
  }
  return sha;
}

/** The one environment and model whose pin a commit moved. */
async function targetOf(root: string, sha: string, env?: string, model?: string): Promise<{ environment: string; model: string }> {
  const facts = await commitFacts(root, sha);
  const moves: Array<{ environment: string; model: string }> = [];
  for (const path of facts.paths) {
    const m = /^environments\/([^/]+)\.yaml$/.exec(path);
    if (!m || (env && m[1] !== env)) continue;
    const before = facts.parents[0] ? readPins(await showFile(root, facts.parents[0], path), path).pins ?? {} : {};
    const after = readPins(await showFile(root, sha, path), path).pins ?? {};
    for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if ((!model || name === model) && pinMove(before[name], after[name]) !== 'none') moves.push({ environment: m[1]!, model: name });
    }
  }
  const what = `${sha.slice(0, 12)} "${facts.subject}"`;
  if (moves.length === 0) {
    const changed = facts.paths.length ? facts.paths.slice(0, 4).join(', ') + (facts.paths.length > 4 ? ', …' : '') : 'nothing';
    throw new UsageError(`${what} is not a promotion: it moves no model's pin${env ? ` in ${env}` : ''}${model ? ` for ${model}` : ''} (it changes ${changed}); nothing was changed`);
  }
  if (moves.length > 1) {
    throw new UsageError(`${what} moves several pins (${moves.map((x) => `${x.model} in ${x.environment}`).join(', ')}); say which with --env and --model`);
  }
  return moves[0]!;
}

/** Why a clean revert of the plan's commit would do more than the rollback, if it would. */
async function revertBlockers(root: string, plan: RollbackPlan, envFile: string): Promise<string | undefined> {
  const facts = await commitFacts(root, plan.commit.sha);
  const others = facts.paths.filter((p) => p !== envFile);
  if (others.length) return `${plan.commit.sha.slice(0, 12)} also changed ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}, which a revert would undo too`;
  const parent = facts.parents[0];
  if (!parent) return undefined;
  const before = readPins(await showFile(root, parent, envFile), envFile).pins ?? {};
  const after = readPins(await showFile(root, plan.commit.sha, envFile), envFile).pins ?? {};
  const moved = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((m) => m !== plan.model && pinMove(before[m], after[m]) !== 'none');
  return moved.length ? `${plan.commit.sha.slice(0, 12)} also moved ${moved.join(', ')}, which a revert would undo too` : undefined;
}

/** The revert must leave exactly the planned pins (other models as on main) and a valid repository. */
async function checkRevert(root: string, commit: string, plan: RollbackPlan, envFile: string, tip: PinCommit): Promise<string | undefined> {
  const pins = readPins(await showFile(root, commit, envFile), envFile).pins ?? {};
  const want = { ...tip.pins, [plan.model]: plan.to };
  const key = (p: unknown) => JSON.stringify(p, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v));
  if (key(pins) !== key(want)) return `would pin ${key(pins[plan.model])} rather than ${key(plan.to)}`;
  const valid = await validateSnapshot(await gitRevision(root, commit), { versions: 'pinned' });
  return valid.ok ? undefined : `leaves the repository invalid (${valid.problems.find((p) => p.severity === 'error')?.message ?? 'see modelship validate'})`;
}

/** HEADs the artifact the rollback returns to; refuses when it is gone or differs (the integrity gate's rules). */
async function checkArtifact(m: VersionManifest): Promise<string> {
  let stored;
  try {
    stored = await new ArtifactStore(s3Client({ maxAttempts: 3, requestTimeout: 15_000 })).head(parseS3Uri(m.artifact.uri), AbortSignal.timeout(30_000));
  } catch (e) {
    stored = { error: (e as Error).message };
  }
  const r = integrityGate({ manifest: m, stored, requireImageDigest: false, online: false });
  if (r.status === 'error') throw new RefusedError(`cannot roll back to ${m.model}@${m.version}: ${r.summary}; nothing was changed`, 'the registry must answer before a rollback: check the S3 credentials and endpoint');
  if (r.status === 'fail') {
    throw new RefusedError(`cannot roll back to ${m.model}@${m.version}: ${r.summary}; nothing was changed`,
      'its artifact must be in the registry for the sync agent to deploy it; restore it, or roll back to another version with --to');
  }
  return r.summary;
}

/**
 * Whether the one running it may break glass here; returns who that is. Who is whom the token
 * belongs to, not what GITHUB_ACTOR says (anyone can set it): a person's token answers GET /user,
 * and a GITHUB_ACTOR naming someone else is refused. A GitHub App's installation token (a
 * workflow's GITHUB_TOKEN) belongs to no person; only then is GITHUB_ACTOR, which the Actions
 * runner sets to who started the run, taken as the answer.
 */
async function allowBreakGlass(environment: string, policy: Policy | undefined, gh: ReturnType<typeof octokit>, claimed: string | undefined): Promise<string> {
  const rule = policy?.rollback?.breakGlass;
  if (!rule?.allowed) {
    throw new RefusedError(`break glass is not allowed in ${environment}: policies/${environment}.yaml ${rule ? 'sets rollback.breakGlass.allowed: false' : 'has no rollback.breakGlass'}; nothing was pushed`,
      'open the rollback as a pull request instead (--open-pr); the rollback fast lane applies');
  }
  const owner = await tokenOwner(gh);
  if (owner && claimed && owner.toLowerCase() !== claimed.toLowerCase()) {
    throw new RefusedError(`GITHUB_ACTOR says ${claimed}, but the token belongs to ${owner}: break glass with your own token; nothing was pushed`);
  }
  const actor = owner ?? claimed;
  if (!actor) throw new UsageError('--break-glass needs to know who you are on GitHub: a personal token in GITHUB_TOKEN says it; with a workflow\'s token, GITHUB_ACTOR (GitHub Actions sets it)');
  const teams = rule.teams ?? [];
  if (!teams.length) return actor;
  const { members, unreadable } = await teamMembers(gh, teams);
  if (teams.some((t) => members[t]?.some((m) => m.toLowerCase() === actor.toLowerCase()))) return actor;
  throw new RefusedError(`${actor} may not break glass in ${environment}: not a member of ${teams.join(', ')}${unreadable.length ? ` (could not read ${unreadable.join(', ')})` : ''}; nothing was pushed`,
    'ask a member of those teams, or open the rollback as a pull request (--open-pr)');
}
