// `promote`: pin a registered version in an environment on a new branch, as one commit, and
// optionally push it and open the pull request. Everything is checked before anything is
// written: the edited repository must validate, and the branch appears whole or not at all.

import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalError, RefusedError, UsageError, ValidationError } from '../errors.js';
import { loadDocument, loadRepository } from '../config/load.js';
import { withChanges } from '../config/snapshot.js';
import { validateSnapshot } from '../config/state.js';
import type { ModelCard, VersionManifest } from '../config/types.js';
import {
  branchesUnder, branchExists, checkout, commitOnBranch, currentBranch, fetchBranch, pathStatus, push, refExists,
  remoteDefaultBranch, showFile, type FileChange,
} from '../adapters/git/repo.js';
import { gitRevision, resolveRevision } from '../adapters/git/tree.js';
import { defaultBranch, octokit, openOrUpdatePull, requestTeamReviews, type GitHubConnection, type PullRef, type RepoRef } from '../adapters/github/client.js';
import { githubRepository } from '../adapters/github/repository.js';
import { editEnvironment, type ChangeKind, type PromotionMode } from './edit.js';
import type { PinState } from '../model/pins.js';
import { commitMessage, promotionBody, promotionTitle, type PromotionSummaryInput } from './summary.js';

export interface PromoteRequest {
  root: string;
  model: string;
  version: string;
  environment: string;
  mode: PromotionMode;
  reason?: string;
  /** concluding an A/B without the test's verdict: why (the commit's AB-Override trailer) */
  abOverride?: string;
  openPr: boolean;
  base?: string;
  force: boolean;
  /** set when a token is available; without one, --open-pr stops after the local commit */
  github?: GitHubConnection;
  /** owner/repo override (GITHUB_REPOSITORY); otherwise parsed from the origin remote */
  repository?: string;
}

export interface PromoteResult {
  environment: string;
  model: string;
  version: string;
  change: ChangeKind;
  from: PinState;
  to: PinState;
  branch: string;
  commit: string;
  title: string;
  files: string[];
  notes: string[];
  /** the branch the promotion starts from and targets */
  base: string;
  /** whether the working tree was switched to the new branch */
  checkedOut: boolean;
  pullRequest?: PullRef & { reviewers: string[] };
  /** set when --open-pr could not proceed: what to run instead */
  nextSteps?: string[];
}

const modelPattern = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$/;
const versionPattern = /^(?!.*\.\.)[0-9A-Za-z](?:[0-9A-Za-z._-]{0,61}[0-9A-Za-z])?$/;
const envPattern = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,29}$/;

/** `fraud-detector@2026.11.20-1` -> parts, refusing anything that is not a safe identifier. */
export function parseTarget(target: string): { model: string; version: string } {
  const at = target.lastIndexOf('@');
  const model = at > 0 ? target.slice(0, at) : '';
  const version = at > 0 ? target.slice(at + 1) : '';
  if (!modelPattern.test(model) || !versionPattern.test(version)) {
    throw new UsageError(`expected <model>@<version> such as fraud-detector@2026.11.20-1, found ${JSON.stringify(target)}` +
      (at > 0 && !modelPattern.test(model) ? ` (${JSON.stringify(model)} is not a valid model name)` : '') +
      (at > 0 && modelPattern.test(model) && !versionPattern.test(version) ? ` (${JSON.stringify(version)} is not a valid version)` : ''));
  }
  return { model, version };
}

export function branchName(env: string, model: string, version: string, kind: ChangeKind, traffic?: number): string {
  const suffix = kind === 'ab-start' ? `-ab${traffic}` : kind === 'ab-conclude' ? '-conclude-ab' : kind === 'canary-start' || kind === 'canary-step' ? `-canary${traffic}` : kind === 'shadow-start' ? '-shadow' : kind === 'canary-abort' ? '-abort-canary' : '';
  return `promote/${env}/${model}-${version}${suffix}`;
}

export async function promote(req: PromoteRequest): Promise<PromoteResult> {
  const { root, model, version, environment } = req;
  if (!envPattern.test(environment)) throw new UsageError(`--to ${JSON.stringify(environment)} is not a valid environment name`);
  if (req.abOverride !== undefined && !/^[^\r\n]{1,500}$/.test(req.abOverride.trim())) {
    throw new UsageError(`--ab-override needs a reason on one line (1-500 characters), found ${JSON.stringify(req.abOverride.slice(0, 80))}`);
  }
  const envFile = `environments/${environment}.yaml`;
  const versionFile = `models/${model}/versions/${version}.yaml`;
  const cardFile = `models/${model}/model.yaml`;

  // A promotion is a change to the base branch: it starts from the base's tip, not from whatever
  // is checked out, so the pull request contains this pin and nothing else.
  const repoRef = req.openPr ? await githubRepo(req) : undefined;
  const gh = req.openPr && req.github && repoRef ? octokit(req.github) : undefined;
  const base = req.base ?? (gh && repoRef ? await defaultBranch(gh, repoRef) : undefined) ?? (await localDefaultBranch(root));
  if (gh) await fetchBranch(root, base);
  const baseRef = (await refExists(root, `refs/remotes/origin/${base}`)) ? `origin/${base}` : base;
  const parent = await resolveRevision(root, baseRef);

  const status = await pathStatus(root, [envFile, versionFile]);
  const envStatus = status.get(envFile);
  if (envStatus) {
    throw new RefusedError(`${envFile} has uncommitted changes (${envStatus.trim()}); a promotion is made from ${baseRef} and would not include them`,
      'commit or stash your changes to it first');
  }

  const snapshot = await gitRevision(root, parent);
  const repo = await loadRepository(snapshot, { versions: 'pinned' });
  const env = repo.environments.get(environment);
  if (!env) {
    if (!repo.present.has(envFile)) {
      const known = [...repo.present].filter((p) => p.startsWith('environments/')).map((p) => p.slice(13, -5));
      throw new RefusedError(`environment "${environment}" does not exist on ${baseRef} (no ${envFile})`, `environments: ${known.join(', ') || 'none'}`);
    }
    throw new ValidationError(repo.problems.filter((p) => p.file === envFile));
  }

  // The model card and the manifest come from the base when they are merged already, else from
  // the working tree (a version `register` just wrote goes into this pull request), else from a
  // promotion branch that already carries it (promoting to production before staging merged).
  const changes = new Map<string, Buffer>();
  const fromBaseOrTree = async (file: string, missing: () => Error): Promise<Buffer> => {
    const atBase = await showFile(root, parent, file);
    const onDisk = await readFile(join(root, file)).catch(() => undefined);
    if (atBase) {
      if (onDisk && !onDisk.equals(atBase) && file === versionFile) {
        throw new RefusedError(`${versionFile} differs from the registered version on ${baseRef}; registered versions are immutable`, `restore it: git checkout ${baseRef} -- ${versionFile}`);
      }
      return atBase;
    }
    const found = onDisk ?? (await fromPromotionBranches(root, file));
    if (!found) throw missing();
    changes.set(file, found);
    return found;
  };
  const cardBytes = await fromBaseOrTree(cardFile, () => new RefusedError(`model "${model}" is not defined (no ${cardFile})`));
  const card = loadDocument<ModelCard>(cardFile, cardBytes, 'model');
  if (!card.loaded) throw new ValidationError(card.problems);
  const candidateBytes = await fromBaseOrTree(versionFile, () =>
    new RefusedError(`${model}@${version} is not registered (no ${versionFile})`, 'register the training run first: modelship register <run folder or s3 prefix>'));
  const candidate = loadDocument<VersionManifest>(versionFile, candidateBytes, 'version');
  if (!candidate.loaded) throw new ValidationError(candidate.problems);

  const policy = repo.policies.get(environment)?.data;
  const upstreamEnv = policy?.promotion?.from ? repo.environments.get(policy.promotion.from)?.data : undefined;
  const envText = (await showFile(root, parent, envFile))!.toString('utf8');
  const edit = editEnvironment(envText, {
    model, version, mode: req.mode, card: card.loaded.data, env: env.data,
    ...(req.reason !== undefined ? { reason: req.reason } : {}),
    ...(upstreamEnv?.models[model] ? { upstream: upstreamEnv.models[model] } : {}),
  });
  if (req.abOverride !== undefined && edit.kind !== 'ab-conclude') {
    throw new UsageError(`--ab-override concludes a running A/B, but this promotion is a ${edit.kind}; no A/B of ${model} runs in ${environment}`);
  }
  changes.set(envFile, Buffer.from(edit.text));

  // The repository as it will be on the branch must be valid, or nothing is written.
  const after = await validateSnapshot(withChanges(snapshot, changes), { versions: 'pinned' });
  if (!after.ok) throw new ValidationError(after.problems.filter((p) => p.severity === 'error'), 'the promotion would leave the repository invalid');

  const live = edit.from.version ? repo.versions.get(model)?.get(edit.from.version)?.data : undefined;
  const summary: PromotionSummaryInput = {
    environment, model, version, kind: edit.kind, from: edit.from, to: edit.to, candidate: candidate.loaded.data,
    ...(live ? { live } : {}),
    ...(policy?.gates.performance?.metrics ? { bounds: policy.gates.performance.metrics } : {}),
    ...(req.reason !== undefined ? { reason: req.reason } : {}),
    ...(req.abOverride !== undefined ? { abOverride: req.abOverride.trim() } : {}),
    notes: edit.notes,
  };
  const branch = branchName(environment, model, version, edit.kind, req.mode.kind === 'canary' || req.mode.kind === 'ab' ? req.mode.traffic : undefined);
  if (!req.force && (await branchExists(root, branch))) {
    throw new RefusedError(`branch ${branch} already exists`, `delete it (git branch -D ${branch}) or pass --force to replace it`);
  }
  const files: FileChange[] = [...changes].map(([path, content]) => ({ path, content }));
  const commit = await commitOnBranch(root, { parent, branch, files, message: commitMessage(summary), force: req.force });
  const checkedOut = await switchTo(root, branch, files);

  const result: PromoteResult = {
    environment, model, version, change: edit.kind, from: edit.from, to: edit.to, branch, base, commit,
    title: promotionTitle(summary), files: files.map((f) => f.path), notes: edit.notes, checkedOut,
  };
  if (!req.openPr) return result;
  if (!gh || !repoRef) {
    result.nextSteps = [
      ...(!req.github ? ['GITHUB_TOKEN is not set, so the pull request was not opened.'] : []),
      ...(!repoRef ? ['The origin remote is not a GitHub repository; set GITHUB_REPOSITORY=owner/name.'] : []),
      `git push --set-upstream origin ${branch}`,
      repoRef ? `then open https://github.com/${repoRef.owner}/${repoRef.repo}/compare/${encodeURIComponent(base)}...${encodeURIComponent(branch)}?expand=1`
        : `then open a pull request from ${branch} into ${base}`,
    ];
    return result;
  }
  await push(root, branch, req.force);
  const pr = await openOrUpdatePull(gh, repoRef, { head: branch, base, title: result.title, body: promotionBody(summary) });
  const reviews = await requestTeamReviews(gh, repoRef, pr.number, card.loaded.data.reviewers);
  if (reviews.skipped.length) result.notes.push(`not requested (other organisation): ${reviews.skipped.join(', ')}`);
  result.pullRequest = { ...pr, reviewers: reviews.requested };
  return result;
}

async function fromPromotionBranches(root: string, file: string): Promise<Buffer | undefined> {
  for (const branch of await branchesUnder(root, 'promote/')) {
    const content = await showFile(root, branch, file);
    if (content) return content;
  }
  return undefined;
}

/** The default branch as far as the clone knows: origin/HEAD, else main or master, else the current branch. */
export async function localDefaultBranch(root: string): Promise<string> {
  const remote = await remoteDefaultBranch(root);
  if (remote) return remote;
  for (const name of ['main', 'master']) {
    if ((await refExists(root, `refs/remotes/origin/${name}`)) || (await refExists(root, `refs/heads/${name}`))) return name;
  }
  return (await currentBranch(root)) ?? 'main';
}

function githubRepo(req: PromoteRequest): Promise<RepoRef | undefined> {
  return githubRepository(req.root, req.repository ?? process.env.GITHUB_REPOSITORY);
}

/**
 * Moves the working tree to the new branch. Files the commit added that sit untracked and
 * identical in the working tree (the manifest `register` wrote) would block the checkout, so
 * they are set aside first and put back if the checkout fails.
 */
async function switchTo(root: string, branch: string, files: FileChange[]): Promise<boolean> {
  const status = await pathStatus(root, files.map((f) => f.path));
  const setAside: FileChange[] = [];
  for (const f of files) {
    if (status.get(f.path) !== '??') continue;
    const onDisk = await readFile(join(root, f.path));
    if (!onDisk.equals(Buffer.from(f.content))) return false;
    setAside.push({ path: f.path, content: onDisk });
  }
  await Promise.all(setAside.map((f) => rm(join(root, f.path))));
  try {
    await checkout(root, branch);
    return true;
  } catch (e) {
    await Promise.all(setAside.map((f) => writeFile(join(root, f.path), f.content)));
    if (e instanceof ExternalError) return false;
    throw e;
  }
}
