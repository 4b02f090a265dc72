// When the canary running now started, read from the environment's pin history. One rule for the
// check's canary gate and for canary watch: a canary whose traffic share changes is a new step,
// and a step's evidence window starts when it was set (metrics read at 5% say little about 25%).

import type { CanaryPin, PinCommit } from '../model/pins.js';

/**
 * The time of the oldest commit in the unbroken run of commits, newest first, that pinned this
 * canary (same version, same traffic share) for `model`. Commits whose file could not be read
 * (no pins) neither extend nor break the run. Undefined when the newest readable commit does not
 * run it (the history does not reach it).
 */
export function canaryStartedAt(history: Iterable<PinCommit>, model: string, canary: CanaryPin): Date | undefined {
  let start: Date | undefined;
  for (const e of history) {
    if (!e.pins) continue;
    const c = e.pins[model]?.canary;
    if (c?.version !== canary.version || c.traffic !== canary.traffic) break;
    start = e.at;
  }
  return start;
}
