// Held versions: after a rollback, the version taken away is held in that environment, so a
// careless or automatic re-promotion cannot undo the rollback. A change that pins a held version
// there again fails unless it says why (`reason:` on the deployment entry, new in this change).
// Pure: the holds come from the environment's first-parent pin history (holdsIn).

import type { Pin } from '../model/pins.js';
import { result, type GateResult } from './types.js';

/** The environment file as one first-parent commit left it (git/history.ts PinCommit satisfies it). */
export interface PinEvent {
  commit: string;
  at: Date;
  subject?: string;
  /** undefined: the file could not be read at this commit (it changes nothing here) */
  pins?: Record<string, Pin>;
}

export interface Hold {
  model: string;
  version: string;
  /** the first-parent commit that took the version away */
  commit: string;
  at: Date;
  subject?: string;
  /** rollback: the stable pin returned to a version stable there before; canary-abort: the canary was removed without being promoted */
  how: 'rollback' | 'canary-abort';
  /** the version that took over (rollback) or kept serving (canary-abort) */
  restored?: string;
}

/**
 * Versions of `model` held in one environment, from its pin history (newest first, as
 * git/history.ts yields it). A version is held from the commit that rolled it back (or aborted
 * its canary) until a later commit pins it there again (which the held gate judged).
 */
export function holdsIn(history: readonly PinEvent[], model: string): Hold[] {
  const held = new Map<string, Hold>();
  const wasStable = new Set<string>();
  let prev: Pin | undefined;
  let started = false;
  for (const e of [...history].reverse()) {
    if (!e.pins) continue; // unreadable: the next readable state is compared with the last one
    const cur = e.pins[model];
    if (!started) {
      // The oldest state known: what it pins is history, not a change.
      started = true;
      if (cur) wasStable.add(cur.version);
      prev = cur;
      continue;
    }
    const hold = (version: string, how: Hold['how'], restored: string | undefined) =>
      held.set(version, { model, version, commit: e.commit, at: e.at, ...(e.subject !== undefined ? { subject: e.subject } : {}), how, ...(restored ? { restored } : {}) });
    // Pinned again (stable or canary): a deliberate change, judged by this gate when it merged;
    // a return to a held version is that, not a rollback of the version it replaces.
    const repinned = !!cur && cur.version !== prev?.version && held.delete(cur.version);
    if (cur?.canary && cur.canary.version !== prev?.canary?.version) held.delete(cur.canary.version);
    if (prev && cur && !repinned && prev.version !== cur.version && cur.version !== prev.canary?.version && wasStable.has(cur.version)) {
      hold(prev.version, 'rollback', cur.version);
    }
    if (prev?.canary && cur && cur.canary?.version !== prev.canary.version && cur.version !== prev.canary.version) {
      hold(prev.canary.version, 'canary-abort', cur.version);
    }
    if (cur) wasStable.add(cur.version);
    prev = cur;
  }
  return [...held.values()];
}

export interface HeldInput {
  environment: string;
  model: string;
  /** the version the change pins (stable or canary) */
  version: string;
  /** holds of `model` in `environment`, from holdsIn; or why they could not be read */
  holds: Hold[] | { error: string };
  /** `reason:` of the deployment entry after the change */
  reason?: string;
  /** `reason:` before the change: a reason carried over from an earlier pin explains nothing new */
  previousReason?: string;
}

/** Fails when the change pins a version held in the environment without a new reason. */
export function heldGate(input: HeldInput): GateResult {
  const { environment: env, model, version } = input;
  if ('error' in input.holds) return result('held', 'error', `could not tell whether ${model} ${version} is held in ${env}: ${input.holds.error}`);
  const hold = input.holds.find((h) => h.version === version);
  if (!hold) return result('held', 'pass', `${model} ${version} is not held in ${env}`);
  const when = hold.at.toISOString().replace(/:\d\d(\.\d+)?Z$/, 'Z');
  const what = hold.how === 'rollback'
    ? `rolled back in ${env} by ${hold.commit.slice(0, 12)} at ${when}${hold.restored ? ` (back to ${hold.restored})` : ''}`
    : `its canary was aborted in ${env} by ${hold.commit.slice(0, 12)} at ${when}`;
  const data = { hold: { ...hold, at: hold.at.toISOString() } };
  const details = hold.subject ? [`${hold.commit.slice(0, 12)} ${hold.subject}`] : [];
  const reason = input.reason?.trim();
  if (reason && reason !== input.previousReason?.trim()) {
    return result('held', 'pass', `${model} ${version} was ${what}; pinned again because: ${reason}`, { details, data: { ...data, reason } });
  }
  const stale = reason ? ' (the reason on the entry is the one from before this change)' : '';
  return result('held', 'fail', `${model} ${version} was ${what} and is held there; say why it may run again: reason: on ${model} in environments/${env}.yaml (modelship promote --reason)${stale}`, { details, data });
}
