// Each environment's first-parent pin history, read once per check run. Soak timelines, holds
// and rollback detection all look at the same commits of the same file, so they share one walk
// per environment (git/history.ts `pinHistory`), which goes only as deep as the deepest of them
// asks. Each asks as deep as the oldest commit where its version appears in the file, found by
// git's pickaxe from the version's registration time on (a version cannot be pinned earlier),
// so the walk grows with the change, not with the history.

import { createHash } from 'node:crypto';
import { pinHistory } from '../adapters/git/history.js';
import { objectSizes, readObjects } from '../adapters/git/objects.js';
import { loadDocument } from '../config/load.js';
import type { SchemaName } from '../config/schema.js';
import { defaultLimits } from '../config/yaml.js';
import type { PinCommit } from '../model/pins.js';
import { commitsChangingText } from '../adapters/git/search.js';
import { holdsIn, type Hold } from '../gates/held.js';

/** The pin histories of one check run, all read from `base`. Close it when the run ends. */
export class PinHistories {
  private readonly walks = new Map<string, EnvironmentWalk>();
  private readonly searches = new Map<string, Promise<string[]>>();
  /** ends searches nobody waits for any more when the run closes (a prefetch of a run that ended early) */
  private readonly stop = new AbortController();

  constructor(private readonly root: string, private readonly base: string) {}

  /**
   * The environment's pin history, newest first, back to the commit where the oldest of
   * `versions` first appeared in its file: enough for soak and canary timing. A version that
   * was never there leaves only the newest state, which is all soak needs to say so.
   */
  async timeline(env: string, versions: Map<string, string | undefined>): Promise<PinCommit[]> {
    const firsts = new Set<string>();
    for (const [v, registeredAt] of versions) {
      const first = (await this.appearances(env, v, registeredAt)).at(-1);
      if (first) firsts.add(first);
    }
    const walk = this.walk(env);
    if (!firsts.size) return walk.take(1);
    // The oldest first appearance is the one the walk meets last.
    const events = await walk.through((c) => firsts.delete(c.commit) && firsts.size === 0);
    return events;
  }

  /**
   * Which versions of `model` are held in `env` (gates/held.ts holdsIn), for `version`: the
   * commits since the version first appeared in the file, plus the one before, which says what
   * was stable before it (a return to that is a rollback).
   */
  async holds(env: string, model: string, version: string, registeredAt?: string): Promise<Hold[]> {
    const first = (await this.appearances(env, version, registeredAt)).at(-1);
    if (!first) return []; // never in the file: never rolled back there
    const events = await this.walk(env).through((c) => c.commit === first, 1);
    return holdsIn(events, model).filter((h) => h.version === version);
  }

  /**
   * Whether `version` was the stable pin of `model` in `env` at some commit of the base's
   * first-parent history. Only the commits where the version string appears or disappears in
   * the file can change the answer, so only those are looked at.
   */
  async wasStableBefore(env: string, model: string, version: string, registeredAt?: string): Promise<boolean> {
    const hits = await this.appearances(env, version, registeredAt);
    if (!hits.length) return false;
    const oldest = hits.at(-1)!;
    const events = await this.walk(env).through((c) => c.commit === oldest);
    const at = new Map(events.map((c) => [c.commit, c]));
    return hits.some((commit) => at.get(commit)?.pins?.[model]?.version === version);
  }

  /**
   * Starts the search `timeline`, `holds` or `wasStableBefore` will make for `version` in `env`,
   * so that it runs while other work is done; asking later gets the same search, and its failure.
   */
  prefetch(env: string, version: string, registeredAt?: string): Promise<unknown> {
    return this.appearances(env, version, registeredAt).catch(() => undefined); // a failure is reported to whoever asks
  }

  /** Ends the git processes of walks that stopped early. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all([...this.searches.values()].map((s) => s.catch(() => undefined)));
    await Promise.all([...this.walks.values()].map((w) => w.close()));
  }

  /** First-parent commits of the base that changed how often `text` occurs in the environment's file, newest first (once per run). */
  private appearances(env: string, text: string, registeredAt?: string): Promise<string[]> {
    const key = `${env}\0${text}\0${registeredAt ?? ''}`;
    let hits = this.searches.get(key);
    if (!hits) this.searches.set(key, (hits = commitsChangingText(this.root, this.base, `environments/${env}.yaml`, text, registeredAt, this.stop.signal)));
    return hits;
  }

  private walk(env: string): EnvironmentWalk {
    let w = this.walks.get(env);
    if (!w) this.walks.set(env, (w = new EnvironmentWalk(this.root, this.base, env)));
    return w;
  }
}

/** One lazy walk of one environment's history: what has been read is kept, and read on from there when someone needs more. */
class EnvironmentWalk {
  private readonly read: PinCommit[] = [];
  private source: AsyncGenerator<PinCommit> | undefined;
  private ended = false;
  private failure: unknown;
  /** reads happen one at a time: the consumers run concurrently */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly root: string, private readonly base: string, private readonly env: string) {}

  /** The newest `n` commits (fewer when the history is shorter). */
  take(n: number): Promise<PinCommit[]> {
    return this.serial(async () => {
      while (this.read.length < n && (await this.next()));
      return this.read.slice(0, n);
    });
  }

  /** Commits newest first through the first one `stop` accepts, plus `extra` older ones; all of them when none is accepted. */
  through(stop: (c: PinCommit) => boolean, extra = 0): Promise<PinCommit[]> {
    return this.serial(async () => {
      let i = 0;
      for (; ; i++) {
        if (i >= this.read.length && !(await this.next())) return this.read.slice();
        if (stop(this.read[i]!)) break;
      }
      const end = i + 1 + extra;
      while (this.read.length < end && (await this.next()));
      return this.read.slice(0, end);
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    if (this.source && !this.ended && this.failure === undefined) await this.source.return(undefined);
  }

  private async next(): Promise<boolean> {
    if (this.failure !== undefined) throw this.failure; // a failed walk fails every reader, not just the first
    if (this.ended) return false;
    this.source ??= pinHistory(this.root, this.base, this.env);
    let r: IteratorResult<PinCommit>;
    try {
      r = await this.source.next();
    } catch (e) {
      this.failure = e ?? new Error('the pin history walk failed');
      throw e;
    }
    if (r.done) {
      this.ended = true;
      return false;
    }
    this.read.push(r.value);
    return true;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

/**
 * Starts, before anything is loaded, the searches the gates will most likely ask for: for each
 * pin the change moves in an environment file it edits (compared with the fork point), in that
 * environment and in the one its policy (at `base`) promotes from, from the version's
 * registration on. A guess from the raw files, to win time only: the gates ask for what they
 * need once the files are loaded and validated, and a search guessed wrong (or a file that does
 * not parse) only costs the work; it is never an answer. Returns the searches it started (they
 * go on after it returns).
 */
export async function prefetchChangedPins(histories: PinHistories, root: string, revs: { forkPoint: string; base: string; head: string }, envFiles: string[], memo?: Map<string, unknown>): Promise<{ searches: Array<Promise<unknown>> }> {
  const searches: Array<Promise<unknown>> = [];
  const envs = envFiles.flatMap((f) => /^environments\/([a-z0-9-]+)\.yaml$/.exec(f)?.[1] ?? []);
  if (!envs.length) return { searches };
  const names = envs.flatMap((e) => [`${revs.forkPoint}:environments/${e}.yaml`, `${revs.head}:environments/${e}.yaml`, `${revs.base}:policies/${e}.yaml`]);
  const files = await readSmall(root, names, 'read the changed environment files');
  // Loaded as the loader loads them, and what loads cleanly is left in the run's memo (LoadOptions.memo), so the loader does not parse it again.
  const data = (i: number) => (files[i] ? load(names[i]!.slice(names[i]!.indexOf(':') + 1), files[i]!, i % 3 === 2 ? 'policy' : 'environment', memo) : undefined) as Record<string, unknown> | undefined;
  const moved: Array<{ env: string; from?: string; model: string; version: string }> = [];
  for (const [i, env] of envs.entries()) {
    const was = entries(data(3 * i));
    const now = entries(data(3 * i + 1));
    const promotion = data(3 * i + 2)?.promotion as { from?: unknown } | undefined;
    const from = typeof promotion?.from === 'string' ? promotion.from : undefined;
    for (const [model, pin] of Object.entries(now)) {
      for (const version of [pin.version, pin.canary]) {
        if (typeof version === 'string' && version !== was[model]?.version && version !== was[model]?.canary) moved.push({ env, ...(from ? { from } : {}), model, version });
      }
    }
  }
  const manifests = moved.map((m) => `${revs.head}:models/${m.model}/versions/${m.version}.yaml`);
  const bytes = await readSmall(root, manifests, 'read the versions the change pins');
  for (const [i, m] of moved.entries()) {
    const at = bytes[i] ? (load(manifests[i]!.slice(manifests[i]!.indexOf(':') + 1), bytes[i]!, 'version') as { registeredAt?: unknown } | undefined)?.registeredAt : undefined;
    const registeredAt = typeof at === 'string' ? at : undefined;
    searches.push(histories.prefetch(m.env, m.version, registeredAt));
    if (m.from) searches.push(histories.prefetch(m.from, m.version, registeredAt));
  }
  return { searches };
}

/** The objects of at most the loader's size limit (a larger one, which a pull request may add, is never read whole); undefined for the others. */
async function readSmall(root: string, names: string[], operation: string): Promise<Array<Buffer | undefined>> {
  const sizes = await objectSizes(root, names, operation);
  const small = names.filter((_, i) => sizes[i] !== undefined && sizes[i]! <= defaultLimits.maxBytes);
  const read = await readObjects(root, small, operation);
  const byName = new Map(small.map((n, i) => [n, read[i]]));
  return names.map((n) => byName.get(n));
}

/** A file's data as the loader reads it (undefined when it has problems); memoized as the loader memoizes. */
function load(file: string, bytes: Buffer, schema: SchemaName, memo?: Map<string, unknown>): unknown {
  const key = memo && `${schema} ${createHash('sha256').update(bytes).digest('hex')}`;
  if (key && memo!.has(key)) return memo!.get(key);
  const { loaded, problems } = loadDocument(file, bytes, schema);
  if (key && loaded && problems.length === 0) memo!.set(key, loaded.data);
  return loaded?.data;
}

/** model -> its stable and canary versions, from an environment file's data as parsed (anything unexpected: nothing). */
function entries(data: Record<string, unknown> | undefined): Record<string, { version?: unknown; canary?: unknown }> {
  const models = data?.models;
  if (!models || typeof models !== 'object') return {};
  const out: Record<string, { version?: unknown; canary?: unknown }> = {};
  for (const [model, d] of Object.entries(models as Record<string, unknown>)) {
    if (!d || typeof d !== 'object') continue;
    const pin = d as { version?: unknown; canary?: { version?: unknown } };
    out[model] = { version: pin.version, canary: pin.canary && typeof pin.canary === 'object' ? pin.canary.version : undefined };
  }
  return out;
}
