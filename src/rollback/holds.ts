// Reads which versions of a model are held in an environment (gates/held.ts holdsIn) from main's
// first-parent history: only the commits since the version first appeared in the file, plus the
// one before, which says what was stable before it (a return to that is a rollback).

import { pinHistory } from '../adapters/git/history.js';
import type { PinCommit } from '../model/pins.js';
import { commitsChangingText } from '../adapters/git/search.js';
import { holdsIn, type Hold } from '../gates/held.js';

export async function readHolds(root: string, base: string, environment: string, model: string, version: string, registeredAt?: string): Promise<Hold[]> {
  const path = `environments/${environment}.yaml`;
  const hits = await commitsChangingText(root, base, path, version, registeredAt);
  const first = hits.at(-1);
  if (!first) return []; // never in the file: never rolled back there
  const events: PinCommit[] = [];
  let reached = false;
  for await (const c of pinHistory(root, base, environment)) {
    events.push(c);
    if (reached) break;
    if (c.commit === first) reached = true;
  }
  return holdsIn(events, model).filter((h) => h.version === version);
}
