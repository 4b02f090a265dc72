// Which commit a rollback reverts, and what the environment pins afterwards: a pure function of
// the environment's first-parent pin history. A running canary is aborted (its start reverted,
// or the canary removed); otherwise the stable pin returns to the version before the commit that
// last moved it (or to --to). Refusals say why and what to do instead.

import { RefusedError, UsageError } from '../errors.js';
import type { PinEvent } from '../gates/held.js';
import type { Pin } from '../model/pins.js';

export type PinMove =
  | 'none' | 'new-model' | 'removal' | 'promote' | 'rollback' | 'canary-start' | 'canary-step' | 'canary-promote'
  | 'canary-abort' | 'shadow-start' | 'shadow-stop' | 'shadow-promote';

/** What one commit did to one model's pin (stable and canary first; a shadow only when nothing else moved). */
export function pinMove(before: Pin | undefined, after: Pin | undefined, stableBefore: ReadonlySet<string> = new Set()): PinMove {
  if (!before && !after) return 'none';
  if (!before) return 'new-model';
  if (!after) return 'removal';
  if (before.version !== after.version) {
    if (after.version === before.canary?.version) return 'canary-promote';
    if (after.version === before.shadow?.version) return 'shadow-promote';
    return stableBefore.has(after.version) ? 'rollback' : 'promote';
  }
  const bc = before.canary;
  const ac = after.canary;
  if (ac && ac.version !== bc?.version) return 'canary-start';
  if (bc && !ac) return 'canary-abort';
  if (bc && ac && bc.traffic !== ac.traffic) return 'canary-step';
  if (after.shadow?.version !== before.shadow?.version) return after.shadow ? 'shadow-start' : 'shadow-stop';
  return 'none';
}

export interface RollbackInput {
  environment: string;
  model: string;
  /** the environment's pin history on main, newest first, deep enough for `historyIsEnough` */
  history: readonly PinEvent[];
  /** roll back to this version instead of the one before */
  to?: string;
  /** the commit the user asked to revert (full sha): it must be the one this plan reverts */
  commit?: string;
}

export interface RollbackPlan {
  environment: string;
  model: string;
  kind: 'rollback' | 'canary-abort';
  /** what main pins now, and after the rollback */
  from: Pin;
  to: Pin;
  /** the version taken away: held in the environment afterwards */
  takenAway: string;
  /** the commit that put `takenAway` there (the one a revert undoes) */
  commit: { sha: string; subject?: string; at: Date; move: PinMove };
  /** when set, a clean revert of `commit` is not the rollback; the pin is written instead, for this reason */
  write?: string;
}

/** Whether `events` (newest first) reach back far enough to plan: past the state the rollback returns from. */
export function historyIsEnough(events: readonly PinEvent[], model: string, commit?: string): boolean {
  const readable = events.filter((e) => e.pins);
  const tip = readable[0]?.pins?.[model];
  if (!tip) return readable.length > 0;
  const key = (p: Pin | undefined) => (tip.canary ? `${p?.version}|${p?.canary?.version}` : `${p?.version}`);
  const i = readable.findIndex((e) => key(e.pins![model]) !== key(tip));
  const j = commit ? readable.findIndex((e) => e.commit === commit) : -1;
  return i >= 0 && (!commit || (j >= 0 && j + 1 < readable.length));
}

export function planRollback(input: RollbackInput): RollbackPlan {
  const { environment: env, model } = input;
  const events = input.history.filter((e) => e.pins);
  const tip = events[0]?.pins?.[model];
  if (!tip) throw new RefusedError(`${model} is not deployed in ${env} on main; there is nothing to roll back`);
  if (input.to === tip.version && !tip.canary) throw new RefusedError(`${model} ${tip.version} is already the stable version in ${env}; nothing to roll back`);
  const pinAt = (i: number) => events[i]?.pins?.[model];

  let plan: RollbackPlan;
  if (tip.canary) {
    if (input.to !== undefined && input.to !== tip.version) {
      throw new UsageError(`a canary of ${model} ${tip.canary.version} is running in ${env}: a rollback aborts it and keeps ${tip.version}; run without --to, then roll back the stable version if you must`);
    }
    const c = tip.canary.version;
    // The canary started at the oldest consecutive state that runs it; steps since then change only its traffic.
    let start = 0;
    while (start + 1 < events.length && pinAt(start + 1)?.canary?.version === c && pinAt(start + 1)?.version === tip.version) start++;
    if (start + 1 >= events.length) throw new RefusedError(`the commit that started the canary of ${model} ${c} in ${env} is not in main's history`);
    const move = pinMove(pinAt(start + 1), pinAt(start));
    const stepped = events.slice(0, start).filter((_, i) => pinMove(pinAt(i + 1), pinAt(i)) !== 'none');
    plan = {
      environment: env, model, kind: 'canary-abort', from: tip, to: withoutCanary(tip), takenAway: c,
      commit: commitOf(events[start]!, move),
      ...(stepped.length ? { write: `the canary was changed since it started (${stepped.map((e) => short(e.commit)).join(', ')}), so its start cannot be reverted cleanly; the canary is removed from the file instead` }
        : move !== 'canary-start' ? { write: `${short(events[start]!.commit)} did more than start the canary (${move}); the canary is removed from the file instead` } : {}),
    };
  } else {
    // The commit that moved the stable pin to what runs now: the oldest consecutive state with it.
    let moved = 0;
    while (moved + 1 < events.length && pinAt(moved + 1)?.version === tip.version) moved++;
    const before = pinAt(moved + 1);
    if (moved + 1 >= events.length || !before) {
      if (input.to === undefined) throw new RefusedError(`${model} has run ${tip.version} since it was added to ${env}; there is no earlier version to roll back to`, 'name one with --to VERSION');
    }
    const stable = new Set(events.slice(moved + 1).map((e) => e.pins?.[model]?.version).filter((v): v is string => !!v));
    const move = pinMove(before, pinAt(moved), stable);
    const target = input.to ?? before!.version;
    const laterChanges = events.slice(0, moved).filter((_, i) => pinMove(pinAt(i + 1), pinAt(i)) !== 'none');
    const why = input.to !== undefined && input.to !== before?.version ? `--to ${input.to} is not the version before ${short(events[moved]!.commit)} (${before?.version ?? 'none'})`
      : move === 'canary-promote' ? `${short(events[moved]!.commit)} finished a canary; reverting it would put the canary back`
        : move === 'new-model' ? `${short(events[moved]!.commit)} added ${model} to ${env}`
          : laterChanges.length ? `${model} changed again since (${laterChanges.map((e) => short(e.commit)).join(', ')})` : undefined;
    plan = {
      environment: env, model, kind: 'rollback', from: tip, to: { ...withoutCanary(tip), version: target }, takenAway: tip.version,
      commit: commitOf(events[moved]!, move),
      ...(why ? { write: `${why}; ${target} is written as the stable pin instead` } : {}),
    };
  }

  if (input.commit && input.commit !== plan.commit.sha) {
    const named = events.findIndex((e) => e.commit === input.commit);
    const what = named < 0 ? `it does not change environments/${env}.yaml on main's first-parent line`
      : named + 1 >= events.length ? 'its effect cannot be read from the history'
        : pinMove(pinAt(named + 1), pinAt(named)) === 'none' ? `it does not change the pin of ${model} in ${env}`
          : `it is not the change that put ${plan.takenAway} there: that is ${short(plan.commit.sha)}${plan.commit.subject ? ` "${plan.commit.subject}"` : ''}`;
    throw new UsageError(`${short(input.commit)} is not a promotion to roll back in ${env}: ${what}; run modelship rollback --env ${env} --model ${model} without --commit to revert the last promotion`);
  }
  return plan;
}

function withoutCanary(p: Pin): Pin {
  const { canary: _c, ...rest } = p;
  return rest;
}

function commitOf(e: PinEvent, move: PinMove): RollbackPlan['commit'] {
  return { sha: e.commit, at: e.at, move, ...(e.subject !== undefined ? { subject: e.subject } : {}) };
}

const short = (sha: string) => sha.slice(0, 12);
