// Only forward: sync deploys a commit only when it descends from (or is) every commit modelship's
// objects in the environment were deployed from (Kubernetes annotation modelship.io/commit, the
// Snowflake task COMMENT's commit). An older commit would silently undo what main says now;
// going back is a new commit on main (a revert), which descends from what runs and so passes.

import { ExternalError } from '../errors.js';
import { terminalText } from '../model/escape.js';
import { hasCommit, notAncestorsOf } from '../adapters/git/search.js';
import { annotations, type LiveKubernetesObject, type LiveTask, type Plan } from './types.js';

const commitId = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * Commits known to be ancestors of a target, by target. A commit id names its whole history, so
 * the answer never changes: a warm resync of the same head asks git nothing. Bounded.
 */
const ancestorsOf = new Map<string, Set<string>>();
function remember(target: string, commits: string[]): void {
  const set = ancestorsOf.get(target) ?? new Set<string>();
  ancestorsOf.delete(target);
  ancestorsOf.set(target, set);
  for (const c of commits) set.add(c);
  if (ancestorsOf.size > 32) ancestorsOf.delete(ancestorsOf.keys().next().value!);
}

/** The commits live in the plan's environment, each with the objects that carry it (in plan order). */
export function liveCommits(plan: Plan): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const a of plan.actions) {
    if (!a.live) continue;
    const commit = a.target === 'kubernetes'
      ? (a.live as LiveKubernetesObject).metadata.annotations?.[annotations.commit]
      : (a.live as LiveTask).comment?.commit;
    if (commit === undefined) continue;
    out.set(commit, [...(out.get(commit) ?? []), a.target === 'snowflake' ? `task ${a.key}` : a.key]);
  }
  return out;
}

/**
 * Why sync must not deploy the plan's commit in its environment: a live commit it does not
 * descend from, or one the repository does not know (main rewritten); undefined when it may.
 * `root` is the repository (clone or mirror) the commit was read from.
 */
export async function backwardsRefusal(root: string, plan: Plan): Promise<string | undefined> {
  const { environment: env, commit: target } = plan;
  const live = liveCommits(plan);
  const where = (commit: string) => {
    const keys = live.get(commit)!;
    return `${keys[0]}${keys.length > 1 ? ` and ${keys.length - 1} more` : ''}`;
  };
  const nothing = `sync only moves forward; nothing was written in ${env}`;
  for (const commit of live.keys()) {
    if (!commitId.test(commit)) {
      return `refused: ${where(commit)} in ${env} records ${terminalText(JSON.stringify(commit.slice(0, 80)))} as the commit it was deployed from, which is not a commit id; ${nothing}\n`
        + '  an object edited by hand: fix or remove the annotation, or delete the object, and sync again';
    }
  }
  const unknown = async (): Promise<string | undefined> => {
    for (const commit of live.keys()) {
      if (commit !== target && !(await hasCommit(root, commit))) {
        return `refused: ${commit.slice(0, 12)}, the commit live in ${env} (${where(commit)}), is not in this repository: main was rewritten (force-pushed) after it was deployed, or this clone lacks it; ${nothing}\n`
          + `  a stale or shallow clone: git fetch --unshallow; main rewritten: make main descend from it again (git fetch it, then git merge -s ours ${commit.slice(0, 12)}) and sync that`;
      }
    }
    return undefined;
  };
  const known = ancestorsOf.get(target);
  const asked = [...live.keys()].filter((c) => c !== target && !known?.has(c));
  if (!asked.length) return undefined;
  let behind: string[];
  try {
    // one git process in the usual case, however many commits are live
    behind = await notAncestorsOf(root, asked, target);
  } catch (e) {
    // git refuses a commit it does not have: find which, and say so; anything else stands
    if (!(e instanceof ExternalError)) throw e;
    const why = await unknown();
    if (why) return why;
    throw e;
  }
  if (!behind.length) {
    remember(target, asked);
    return undefined;
  }
  const newer = behind[0]!;
  return `refused: ${target.slice(0, 12)} is not a descendant of ${newer.slice(0, 12)}, the commit live in ${env} (${where(newer)}); ${nothing}\n`
    + '  a rollback is a new commit on main: git revert, or modelship rollback, then sync main';
}
