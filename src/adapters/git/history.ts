// The history of an environment's pins: the first-parent commits of a branch that changed
// environments/<env>.yaml, newest first, each with the pins the file held after it. Soak,
// rollback detection and audit trace read it. The work grows with the commits that touched
// the file, not with the repository: one `git log -- <path>` streams the commits, one
// `git cat-file --batch` reads the file at each, and the caller stops the walk when it knows enough.

import { ExternalError, UsageError } from '../../errors.js';
import { ObjectReader } from './objects.js';
import { streamGit } from './run.js';
import { resolveRevision } from './tree.js';
import type { PinCommit } from '../../model/pins.js';
import { PinReader } from '../../config/pins.js';

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
  // Successive versions of one file: read each blob once, and a one-entry edit by that entry alone.
  const pins = new PinReader(path);
  let finished = false;
  try {
    let pending = '';
    for await (const chunk of log.stdout) {
      pending += chunk as string;
      const records = pending.split('\0');
      pending = records.pop()!;
      const commits = records.map(parseRecord);
      const files = await blobs.readObjects(commits.map((c) => `${c.commit}:${path}`));
      for (const [i, c] of commits.entries()) yield { ...c, ...pins.read(files[i]?.bytes, files[i]?.id) };
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
