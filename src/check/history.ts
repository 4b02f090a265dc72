// Each environment's first-parent pin history, read once per check run. Soak timelines, holds,
// rollback detection and the search for where a version appears all look at the same commits of
// the same file, so they share one walk per environment (git/history.ts `fileHistory`),
// which goes only as deep as the deepest of them asks. Where a version appears is answered by
// the walk itself, from the version's registration time on (a version cannot be pinned
// earlier): the commits that changed how often the version occurs in the file, as git's pickaxe
// (`git log -S`) would say, counted on the bytes the walk reads anyway. So the walk grows with
// the change, not with the history, and no second pass over the file's history runs.

import { fileHistory, type FileCommit } from '../adapters/git/history.js';
import { ObjectReader, type GitObject } from '../adapters/git/objects.js';
import { PinReader } from '../config/pins.js';
import type { PinCommit } from '../model/pins.js';
import { holdsIn, type Hold } from '../gates/held.js';

/** The pin histories of one check run, all read from `base`. Close it when the run ends. */
export class PinHistories {
  private readonly walks = new Map<string, EnvironmentWalk>();

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

  /** Ends the git processes of walks that stopped early. */
  async close(): Promise<void> {
    await Promise.all([...this.walks.values()].map((w) => w.close()));
  }

  /**
   * First-parent commits of the base that changed how often `text` occurs in the environment's
   * file, newest first; with `registeredAt` (an ISO time) only those from a day before it on.
   */
  appearances(env: string, text: string, registeredAt?: string): Promise<string[]> {
    const since = registeredAt && !Number.isNaN(Date.parse(registeredAt)) ? Math.floor((Date.parse(registeredAt) - 86_400_000) / 1000) * 1000 : undefined;
    return this.walk(env).appearances(text, since);
  }

  private walk(env: string): EnvironmentWalk {
    let w = this.walks.get(env);
    if (!w) this.walks.set(env, (w = new EnvironmentWalk(this.root, this.base, env)));
    return w;
  }
}

/**
 * One lazy walk of one environment's history: what has been read is kept, and read on from there
 * when someone needs more. Two fronts: the commits listed (with the file's blob id and how often
 * each text asked about occurs in it; no bytes kept), and, behind it, the commits whose pins are
 * read (a YAML parse, the costly part): a search for where a version appears goes back to its
 * registration, the pins are read only as deep as the gates look.
 */
class EnvironmentWalk {
  /** the commits listed, newest first */
  private readonly listed: Array<FileCommit['commit']> = [];
  /** per commit listed: the file's blob id (undefined: no file at that commit) */
  private readonly blobs: Array<string | undefined> = [];
  /** per text asked about: its occurrences in the file at each commit listed */
  private readonly counts = new Map<string, number[]>();
  /** the commits listed whose pins are read: a prefix of `listed` */
  private readonly read: PinCommit[] = [];
  private readonly pins: PinReader;
  /** the file of the newest commit listed (its index), while the pins are read right behind the listing */
  private latest: { index: number; file: GitObject | undefined } | undefined;
  /** reads files again by blob id, for what the listing passed before anyone asked */
  private objects: ObjectReader | undefined;
  private source: AsyncGenerator<FileCommit> | undefined;
  private ended = false;
  private failure: unknown;
  /** reads happen one at a time: the consumers run concurrently */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly root: string, private readonly base: string, private readonly env: string) {
    this.pins = new PinReader(`environments/${env}.yaml`);
  }

  /** The newest `n` commits (fewer when the history is shorter). */
  take(n: number): Promise<PinCommit[]> {
    return this.serial(async () => {
      await this.readTo(n);
      return this.read.slice(0, n);
    });
  }

  /** Commits newest first through the first one `stop` accepts, plus `extra` older ones; all of them when none is accepted. */
  through(stop: (c: PinCommit) => boolean, extra = 0): Promise<PinCommit[]> {
    return this.serial(async () => {
      let i = 0;
      for (; ; i++) {
        if (!(await this.readTo(i + 1))) return this.read.slice();
        if (stop(this.read[i]!)) break;
      }
      const end = i + 1 + extra;
      await this.readTo(end);
      return this.read.slice(0, end);
    });
  }

  /**
   * The commits that changed how often `text` occurs in the file (a commit compared with its
   * first parent, whose file is the one the next older commit of the walk left, or none before
   * the oldest), newest first: git's pickaxe, `git log --first-parent -S<text> -- <file>`.
   * With `since` (ms) only commits from then on; the listing stops at the first one older, which
   * it reads for the comparison, committer times on a first-parent line being in order.
   */
  appearances(text: string, since?: number): Promise<string[]> {
    return this.serial(async () => {
      const counts = await this.countsOf(text); // from here on counted as the listing goes on
      let i = 0;
      for (; ; i++) {
        if (i >= this.listed.length && !(await this.list())) break;
        if (since !== undefined && this.listed[i]!.at.getTime() < since) break;
      }
      const hits: string[] = [];
      for (let j = 0; j < i; j++) if (counts[j] !== (counts[j + 1] ?? 0)) hits.push(this.listed[j]!.commit);
      return hits;
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.objects?.close();
    if (this.source && !this.ended && this.failure === undefined) await this.source.return(undefined);
  }

  /** Reads the pins of the newest `n` commits; false when the history is shorter. */
  private async readTo(n: number): Promise<boolean> {
    while (this.listed.length < n && (await this.list()));
    const to = Math.min(n, this.listed.length);
    while (this.read.length < to) {
      const from = this.read.length;
      // The newest listed file is at hand; older ones the listing passed are read again, in batches.
      let files: Array<GitObject | undefined>;
      if (this.latest?.index === from) files = [this.latest.file];
      else {
        const upto = Math.min(to, from + 64);
        files = await this.reread(this.blobs.slice(from, upto));
      }
      for (const file of files) this.read.push({ ...this.listed[this.read.length]!, ...this.pins.read(file?.bytes, file?.id) });
    }
    if (this.latest && this.latest.index < this.read.length) this.latest = undefined;
    return this.read.length >= n;
  }

  /** Lists one more commit; false at the end of the history. */
  private async list(): Promise<boolean> {
    if (this.failure !== undefined) throw this.failure; // a failed walk fails every reader, not just the first
    if (this.ended) return false;
    this.source ??= fileHistory(this.root, this.base, this.env);
    let r: IteratorResult<FileCommit>;
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
    const { commit, file } = r.value;
    this.listed.push(commit);
    this.blobs.push(file?.id);
    for (const [text, counts] of this.counts) counts.push(file ? occurrences(file.bytes, text) : 0);
    // Kept only while the pins are read right behind the listing (a gate reading on).
    this.latest = this.read.length === this.listed.length - 1 ? { index: this.read.length, file } : undefined;
    return true;
  }

  /** The text's occurrences at each commit listed so far; counted from now on as the listing goes on. */
  private async countsOf(text: string): Promise<number[]> {
    let counts = this.counts.get(text);
    if (counts) return counts;
    // Asked after the listing passed some commits: read those files again, each blob once.
    const ids = [...new Set(this.blobs.filter((b): b is string => b !== undefined))];
    const byBlob = new Map<string, number>();
    for (let i = 0; i < ids.length; i += 64) {
      const batch = ids.slice(i, i + 64);
      const files = await this.reread(batch);
      for (const [k, id] of batch.entries()) byBlob.set(id, files[k] ? occurrences(files[k].bytes, text) : 0);
    }
    this.counts.set(text, (counts = this.blobs.map((b) => (b === undefined ? 0 : byBlob.get(b)!))));
    return counts;
  }

  /** Files by blob id (undefined stays undefined: no file at that commit). */
  private async reread(ids: Array<string | undefined>): Promise<Array<GitObject | undefined>> {
    const wanted = [...new Set(ids.filter((b): b is string => b !== undefined))];
    if (!wanted.length) return ids.map(() => undefined);
    this.objects ??= new ObjectReader(this.root, `read environments/${this.env}.yaml`);
    const got = await this.objects.readObjects(wanted);
    const byId = new Map(wanted.map((id, i) => [id, got[i]]));
    return ids.map((id) => (id === undefined ? undefined : byId.get(id)));
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

/** How often `text` occurs in `bytes`, matches not overlapping (as git's pickaxe counts them). */
export function occurrences(bytes: Buffer, text: string): number {
  if (!text) return 0;
  const needle = Buffer.from(text, 'utf8');
  let n = 0;
  for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + needle.length)) n++;
  return n;
}
