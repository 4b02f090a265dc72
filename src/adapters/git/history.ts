// The history of an environment's pins: the first-parent commits of a branch that changed
// environments/<env>.yaml, newest first, each with the pins the file held after it. Soak,
// rollback detection and audit trace read it. The work grows with the commits that touched
// the file, not with the repository: one `git log -- <path>` streams the commits, one
// `git cat-file --batch` reads the file at each, and the caller stops the walk when it knows enough.

import { isMap, parseDocument } from 'yaml';
import { ExternalError, UsageError } from '../../errors.js';
import { ObjectReader } from './objects.js';
import { streamGit } from './run.js';
import { resolveRevision } from './tree.js';
import type { Pin, PinCommit } from '../../model/pins.js';

export interface PinHistoryOptions {
  /** at most this many commits */
  limit?: number;
}

/**
 * The first-parent commits on `rev` that touched environments/<environment>.yaml, newest first.
 * A merge commit stands for everything its side branch did to the file. Lazy: stop iterating
 * and the git processes end.
 */
export async function* pinHistory(root: string, rev: string, environment: string, opts: PinHistoryOptions = {}): AsyncGenerator<PinCommit> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(environment)) throw new UsageError(`not an environment name: ${JSON.stringify(environment)}`);
  const path = `environments/${environment}.yaml`;
  const head = await resolveRevision(root, rev);
  const args = ['log', '--first-parent', '-z', '--no-renames', `--format=%H${US}%ct${US}%s${US}%(trailers:only,unfold)`,
    ...(opts.limit !== undefined ? [`--max-count=${opts.limit}`] : []), head, '--', `:(literal)${path}`];
  const log = streamGit(root, args, `list the commits that changed ${path}`);
  log.stdin.end();
  log.stdout.setEncoding('utf8'); // decodes characters split across chunks
  const logDone = log.done;
  logDone.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
  const blobs = new ObjectReader(root, 'read environment files');
  let finished = false;
  try {
    let pending = '';
    for await (const chunk of log.stdout) {
      pending += chunk as string;
      const records = pending.split('\0');
      pending = records.pop()!;
      const commits = records.map(parseRecord);
      const files = await blobs.read(commits.map((c) => `${c.commit}:${path}`));
      for (const [i, c] of commits.entries()) yield { ...c, ...readPins(files[i], path) };
    }
    if (pending) throw new ExternalError('git', `list the commits that changed ${path}`, `output ended inside a record: ${JSON.stringify(pending.slice(0, 80))}`);
    await logDone;
    finished = true;
  } finally {
    // Stopped early (or failed): end both processes; their exit is then expected, not an error.
    if (!finished) log.kill();
    blobs.close();
  }
}

// Unit separator between the fields of a record; records end in NUL (-z). Neither occurs in
// hashes, numbers or one-line subjects.
const US = '\x1f';

function parseRecord(record: string): Omit<PinCommit, 'pins' | 'note'> {
  const [commit, time, subject, trailerText] = record.replace(/^\n/, '').split(US);
  const trailers: Record<string, string[]> = {};
  for (const line of (trailerText ?? '').split('\n')) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m) (trailers[m[1]!] ??= []).push(m[2]!.trim());
  }
  return { commit: commit!, at: new Date(Number(time) * 1000), subject: subject ?? '', trailers };
}

/** The pins in one historical version of the file. Old files may predate today's schema, so this reads leniently. */
/** The pins an environment file holds (`text` undefined: the file is deleted), or a note saying why they cannot be read. */
export function readPins(text: Buffer | undefined, path: string): Pick<PinCommit, 'pins' | 'note'> {
  if (text === undefined) return { pins: {} }; // the commit deleted the file
  const doc = parseDocument(text.toString('utf8'));
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const where = e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    return { note: `${path} does not parse: ${e.message.split('\n')[0]}${where}; skipped` };
  }
  const models = doc.get('models');
  if (models === undefined || models === null) return { pins: {} };
  if (!isMap(models)) return { note: `${path} has no "models" mapping; skipped` };
  const pins: Record<string, Pin> = {};
  const unread: string[] = [];
  for (const [name, d] of Object.entries(models.toJSON() as Record<string, unknown>)) {
    const pin = toPin(d);
    if (pin) pins[name] = pin;
    else unread.push(name);
  }
  return { pins, ...(unread.length ? { note: `${path}: no readable version for ${unread.join(', ')}; left out` } : {}) };
}

function toPin(d: unknown): Pin | undefined {
  if (!isRecord(d) || typeof d.version !== 'string') return undefined;
  const pin: Pin = { version: d.version };
  if (isRecord(d.canary) && typeof d.canary.version === 'string' && typeof d.canary.traffic === 'number') {
    pin.canary = { version: d.canary.version, traffic: d.canary.traffic };
  }
  if (isRecord(d.shadow) && typeof d.shadow.version === 'string') pin.shadow = { version: d.shadow.version };
  return pin;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
