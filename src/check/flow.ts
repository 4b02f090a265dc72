// The check flow: loads base and head, diffs their desired states into changes, gathers the
// evidence the gates ask for (each environment's pin history read once, check/history.ts) and
// evaluates them into one report. The command prints it; check/publish.ts posts it to GitHub.

import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import { loadRepository } from '../config/load.js';
import { validateSnapshot } from '../config/state.js';
import { repositoryCache, type ValidateCache } from '../config/validate-cache.js';
import { diffStates, type FileDiff } from '../gates/changes.js';
import { evaluate, invalidReport, needs, type Report, type ReviewEvidence } from '../gates/run.js';
import { runningShadowReport } from './running-shadows.js';
import { gitRevision, resolveRevision, type TreeListings } from '../adapters/git/tree.js';
import { diffNameStatus, hasCommit, mergeBase, mergedTree, treeOf } from '../adapters/git/search.js';
import { commitLogins, getPull, listReviews, octokit, teamMembers, type GitHubClient } from '../adapters/github/client.js';
import type { CheckEvent } from '../adapters/github/event.js';
import { previewMerge } from '../sync/preview.js';
import { collectEvidence } from './evidence.js';
import { PinHistories, prefetchChangedPins } from './history.js';
import { githubConnection } from './publish.js';

export interface CheckRequest {
  root: string;
  /** the base revision as given (a branch name or a commit) */
  base: string;
  head: string;
  /** the time the gates judge at */
  at: Date;
  /** GitHub mode: the pull request whose reviews count */
  event?: CheckEvent;
  /** the GitHub client to read reviews with (serve: the App's installation; default: GITHUB_TOKEN) and who pushed the head */
  github?: { client: GitHubClient; pushers?: string[] };
  prometheusUrl?: string;
}

/** Loads base and head, diffs them, gathers evidence and evaluates. */
export async function checkChange(req: CheckRequest): Promise<Report> {
  const { root } = req;
  const base = await resolveRevision(root, req.base);
  const head = await resolveRevision(root, req.head);
  // What the pull request changes is measured from where it branched; the rules come from the base's tip.
  const forkPoint = (await mergeBase(root, base, head)) ?? base;
  const baseLabel = label(req.base, base);
  const headLabel = label(req.head, head);

  const files = await fileDiff(root, forkPoint, head);
  // Rollback detection, soak timelines and holds share one walk of each environment's history;
  // the history searches they will likely need start now, beside the loading below.
  const histories = new PinHistories(root, forkPoint);
  // Policies and environment files that base, head and fork point share are loaded once (LoadOptions.memo; model cards and manifests: the run cache below).
  const memo = new Map<string, unknown>();
  const guessed = prefetchChangedPins(histories, root, { forkPoint, base, head }, files.filter((f) => f.status === 'modified').map((f) => f.path), memo).catch(() => undefined);
  try {
    return await judge(req, { base, head, forkPoint, baseLabel, headLabel }, files, histories, memo);
  } finally {
    await guessed;
    await histories.close();
  }
}

/** The judging of one change, once base, head and fork point are known. */
async function judge(req: CheckRequest, revs: { base: string; head: string; forkPoint: string; baseLabel: string; headLabel: string }, files: FileDiff[], histories: PinHistories, memo: Map<string, unknown>): Promise<Report> {
  const { root, at: now } = req;
  const { base, head, forkPoint, baseLabel, headLabel } = revs;
  // Validated: what the environments pin and every version file the change adds or edits (a
  // manifest pinned nowhere yet is still part of the change); the other manifests are not read.
  const touched = files.filter((f) => f.status !== 'deleted' && /^models\/[^/]+\/versions\/[^/]+\.yaml$/.test(f.path)).map((f) => f.path);
  // Base, head and fork point pin mostly the same manifests: each distinct one is parsed once,
  // and not at all when an earlier run (check or validate) of this repository validated the
  // same bytes with the same validators (validate-cache.ts; version manifests are immutable).
  const cache = runCache(repositoryCache(root));
  // and each release folder they share (models/, unless the change registers a version) is listed once
  const listings: TreeListings = new Map();
  const headSnapshot = await gitRevision(root, head, listings);
  const validation = await validateSnapshot(headSnapshot, { versions: 'pinned', alsoRead: touched, cache, memo });
  if (!validation.ok) {
    cache.save();
    return invalidReport(baseLabel, headLabel, validation.problems, now);
  }
  const headRepo = validation.repo;
  const rules = await loadRepository(await gitRevision(root, base, listings), { versions: 'pinned', cache, memo });
  const before = forkPoint === base ? rules : await loadRepository(await gitRevision(root, forkPoint, listings), { versions: 'pinned', cache, memo });
  cache.save();
  // The base's policies judge; the fork point's pins are what changes are measured from.
  // So does the base's repository policy (policies/repository.yaml): who owns code, policies and environments.
  const { repository: _forkPointRepository, ...fromFork } = before;
  const baseRepo = { ...fromFork, policies: rules.policies, ...(rules.repository ? { repository: rules.repository } : {}), label: baseLabel };

  // The history searches the gates will ask for (rollback detection and holds where a pin
  // changes, soak where its policy promotes from) start together now: each is a git process
  // reading history, and they run side by side, and beside the work below, not one by one.
  for (const [env, e] of headRepo.environments) {
    const from = rules.policies.get(env)?.data.promotion?.from;
    for (const [model, d] of Object.entries(e.data.models)) {
      const was = before.environments.get(env)?.data.models[model];
      for (const v of [d.version, d.canary?.version]) {
        if (!v || v === was?.version || v === was?.canary?.version) continue;
        const registeredAt = headRepo.versions.get(model)?.get(v)?.data.registeredAt;
        histories.prefetch(env, v, registeredAt);
        if (from) histories.prefetch(from, v, registeredAt);
      }
    }
  }
  const rollbacks = new Map<string, boolean>();
  const asked: Array<Promise<void>> = [];
  for (const [env, e] of headRepo.environments) {
    for (const [model, d] of Object.entries(e.data.models)) {
      const was = before.environments.get(env)?.data.models[model]?.version;
      if (was && was !== d.version) {
        const registeredAt = headRepo.versions.get(model)?.get(d.version)?.data.registeredAt;
        asked.push(histories.wasStableBefore(env, model, d.version, registeredAt).then((stable) => void rollbacks.set(`${env}/${model}/${d.version}`, stable)));
      }
    }
  }
  await Promise.all(asked);
  const changes = diffStates({
    base: baseRepo, head: headRepo, files,
    liveBefore: (env, model) => new Set([...rollbacks].filter(([k, v]) => v && k.startsWith(`${env}/${model}/`)).map(([k]) => k.split('/')[2]!)),
  });

  const environmentDigests: Record<string, string> = {};
  const envFiles = [...headRepo.environments.values()].map((e) => e.file).sort();
  for (const [path, bytes] of await headSnapshot.read(envFiles, 1 << 20)) environmentDigests[path] = createHash('sha256').update(bytes).digest('hex');

  const state = { base: { ...baseRepo, label: baseLabel }, head: { ...headRepo, label: headLabel }, changes, environmentDigests };
  const request = needs(state);
  const namespaces = Object.fromEntries([...headRepo.environments].map(([n, e]) => [n, e.data.kubernetes?.namespace ?? n]));
  const modes = Object.fromEntries([...headRepo.environments].flatMap(([n, e]) => (e.data.kubernetes ? [[n, e.data.kubernetes.mode] as const] : [])));
  const review = req.event ? await reviewEvidence(root, req.event, request.teams, req.github) : undefined;
  const evidence = await collectEvidence(request, {
    root, base: forkPoint, now, namespaces, modes, histories, head,
    ...(req.prometheusUrl ? { prometheusUrl: req.prometheusUrl } : {}),
    ...(review ? { review } : {}),
  });
  const report = evaluate(state, evidence);
  const shadows = runningShadowReport(state, evidence);
  if (shadows.length) report.runningShadows = shadows;
  const environments = changes.map((c) => c.environment).filter((e) => headRepo.environments.has(e));
  if (environments.length) report.preview = previewMerge(before, headRepo, environments, { base: forkPoint, head });
  return report;
}

/**
 * The parsed data of version manifests for one run, by the SHA-256 of their bytes (the key the
 * loader gives), in front of the repository's cache on disk when there is one (which answers
 * only from what earlier runs saved). Only manifests that loaded with no problem are put, so
 * the same bytes give the same data and no problem is missed.
 */
export function runCache(disk?: ValidateCache): ValidateCache {
  const data = new Map<string, unknown>();
  const stats = { opened: disk ? disk.stats.opened : 'memory', hits: 0, misses: 0, added: 0, written: false };
  return {
    file: disk?.file ?? '',
    stats,
    get(sha256) {
      let d = data.get(sha256);
      if (d === undefined && disk) {
        d = disk.get(sha256);
        if (d !== undefined) data.set(sha256, d);
      }
      if (d === undefined) stats.misses++;
      else stats.hits++;
      return d;
    },
    put(sha256, d) {
      if (data.has(sha256)) return;
      data.set(sha256, d);
      disk?.put(sha256, d);
      stats.added++;
    },
    save() {
      disk?.save();
      stats.written = disk?.stats.written ?? false;
    },
  };
}

/** The base when none is given: the first of origin/HEAD, origin/main, main, master that exists. */
export async function defaultBase(root: string): Promise<string> {
  for (const ref of ['origin/HEAD', 'origin/main', 'main', 'master']) {
    try {
      await resolveRevision(root, ref);
      return ref;
    } catch {
      // try the next name
    }
  }
  throw new UsageError('cannot tell the base branch; pass --base <rev>');
}

async function reviewEvidence(root: string, event: CheckEvent, teams: Set<string>, github?: CheckRequest['github']): Promise<ReviewEvidence | undefined> {
  if (!event.pull) return undefined;
  const gh = github?.client ?? octokit(githubConnection());
  const pull = await getPull(gh, event.repo, event.pull);
  if (event.name === 'merge_group') await onePullInGroup(root, event, event.pull, pull.headSha);
  const reviews = await listReviews(gh, event.repo, event.pull);
  const { members } = await teamMembers(gh, teams);
  // serve knows who pushed (the synchronize event's sender); GitHub knows who wrote the commit.
  const pushers = github ? [...new Set([...(github.pushers ?? []), ...(await commitLogins(gh, event.repo, pull.headSha))])] : undefined;
  return { author: pull.author, headSha: pull.headSha, reviews, teamMembers: members, baseRef: pull.baseRef, ...(pushers ? { pushers } : {}) };
}

/**
 * A merge group is judged on one pull request's approvals, so it must hold that pull request
 * alone. GitHub's merge queue builds a group on its base branch with every pull request ahead of
 * it in the queue ("the pull request's changes ... applied to the latest version of the target
 * branch and any pull requests already in the queue", and up to "Maximum pull requests to
 * merge" in one group: docs.github.com/en/repositories/configuring-branches-and-merges-in-your-
 * repository/configuring-pull-request-merges/managing-a-merge-queue), while the event names only
 * the last one (merge_group.head_ref gh-readonly-queue/<base>/pr-<n>-<sha>). The group holds #n
 * alone exactly when its tree is what merging #n's head into the group's base makes.
 */
async function onePullInGroup(root: string, event: CheckEvent, pull: number, pullHead: string): Promise<void> {
  const group = `the merge group ${event.headSha.slice(0, 12)}`;
  if (!(await hasCommit(root, pullHead))) {
    throw new UsageError(`cannot tell that ${group} holds only pull request #${pull}: its head ${pullHead.slice(0, 12)} is not in this clone (check out with fetch-depth: 0, and fetch refs/pull/${pull}/head for a fork)`);
  }
  const alone = await mergedTree(root, event.baseSha, pullHead);
  if (alone !== undefined && alone === await treeOf(root, event.headSha)) return;
  throw new UsageError(`${group} holds more than pull request #${pull}: it changes ${event.baseSha.slice(0, 12)} beyond what #${pull} does, and the event names only #${pull}, whose approvals cannot judge the others. `
    + 'modelship checks one pull request per group: set the merge queue\'s "Build concurrency" and "Maximum pull requests to merge" to 1 (ruleset merge_queue: max_entries_to_build and max_entries_to_merge 1)');
}

/** Every file the pull request changes; those that are not release files are code changes (owned by the repository policy). */
async function fileDiff(root: string, from: string, to: string): Promise<FileDiff[]> {
  const out = await diffNameStatus(root, from, to, []);
  const parts = out.split('\0').filter(Boolean);
  const files: FileDiff[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const status = parts[i]!.startsWith('A') ? 'added' : parts[i]!.startsWith('D') ? 'deleted' : 'modified';
    files.push({ path: parts[i + 1]!, status });
  }
  return files;
}

function label(rev: string, commit: string): string {
  return rev === commit ? commit.slice(0, 12) : `${rev} (${commit.slice(0, 12)})`;
}
