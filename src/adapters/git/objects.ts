// The object reader: one long-lived `git cat-file --batch`, asked in batches. A name is an object
// id or `<commit>:<path>` (the file as that commit has it); a missing object reads as undefined.
// The snapshot of a revision (tree.ts) and the walk of an environment's history (history.ts) both
// read through it, so the batch protocol is parsed in one place.

import { ExternalError } from '../../errors.js';
import { streamGit, type GitStream } from './run.js';

/** An object as read: its id (a `<commit>:<path>` name resolves to the blob's id) and its bytes. */
export interface GitObject {
  id: string;
  bytes: Buffer;
}

interface Request {
  count: number;
  out: Array<GitObject | undefined>;
  resolve: (b: Array<GitObject | undefined>) => void;
  reject: (e: Error) => void;
}

export class ObjectReader {
  private process: GitStream | undefined;
  /** the start of a header line that a chunk cut in two */
  private head: Buffer = Buffer.alloc(0);
  /** the object whose content is arriving, copied straight from each chunk into a buffer of its size */
  private object: { id: string; bytes: Buffer; filled: number } | undefined;
  /** bytes still to skip: the line feed after an object's content */
  private skip = 0;
  /** requests in the order git answers them */
  private readonly waiting: Request[] = [];
  private failure: ExternalError | undefined;
  private closed = false;

  /** `operation` names the reading in errors ("read environment files"). */
  constructor(private readonly root: string, private readonly operation = 'read objects') {}

  /** The objects' bytes, in the order asked; undefined for each one the repository does not have. */
  async read(names: string[]): Promise<Array<Buffer | undefined>> {
    return (await this.readObjects(names)).map((o) => o?.bytes);
  }

  /** The objects with their ids, in the order asked; undefined for each one the repository does not have. */
  readObjects(names: string[]): Promise<Array<GitObject | undefined>> {
    if (names.length === 0) return Promise.resolve([]);
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new ExternalError('git', this.operation, 'the object reader is closed'));
    const p = (this.process ??= this.start());
    return new Promise((resolve, reject) => {
      this.waiting.push({ count: names.length, out: [], resolve, reject });
      p.stdin.write(names.join('\n') + '\n');
    });
  }

  /** Ends the git process once it has answered what was asked. */
  close(): void {
    this.closed = true;
    this.process?.stdin.end();
  }

  private start(): GitStream {
    const p = streamGit(this.root, ['cat-file', '--batch'], this.operation);
    p.stdout.on('data', (chunk: Buffer) => this.take(chunk));
    // A closed stdin while stopping is expected; anything else fails the waiting reads.
    p.stdin.on('error', (e) => this.fail(e));
    p.done.then(
      () => { if (this.waiting.length) this.fail(new Error('git cat-file ended before answering')); },
      (e: Error) => this.fail(e),
    );
    return p;
  }

  /**
   * Parses a chunk of git's answer. Each object's content is copied once, from the chunks it
   * arrives in into a buffer of its own size: no chunk is joined to the next or kept alive by an
   * object cut out of it, so reading thousands of files allocates little more than their bytes.
   */
  private take(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.failure) {
      if (this.skip) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const o = this.object;
      if (o) {
        const n = Math.min(o.bytes.length - o.filled, chunk.length - at);
        chunk.copy(o.bytes, o.filled, at, at + n);
        o.filled += n;
        at += n;
        if (o.filled === o.bytes.length) this.finish(o);
        continue;
      }
      const nl = chunk.indexOf(10, at);
      if (nl < 0) {
        this.head = Buffer.concat([this.head, chunk.subarray(at)]);
        return;
      }
      const header = (this.head.length ? Buffer.concat([this.head, chunk.subarray(at, nl)]) : chunk.subarray(at, nl)).toString();
      this.head = Buffer.alloc(0);
      at = nl + 1;
      if (header.endsWith(' missing')) {
        this.deliver(undefined);
        continue;
      }
      // <oid> <type> <size> LF <content> LF
      const size = Number(header.split(' ')[2]);
      if (!Number.isSafeInteger(size) || size < 0) {
        this.fail(new Error(`unexpected answer from git cat-file: ${JSON.stringify(header.slice(0, 200))}`));
        return;
      }
      const object = { id: header.slice(0, header.indexOf(' ')), bytes: Buffer.allocUnsafe(size), filled: 0 };
      if (size === 0) this.finish(object);
      else this.object = object;
    }
  }

  private finish(o: { id: string; bytes: Buffer }): void {
    this.object = undefined;
    this.skip = 1;
    this.deliver({ id: o.id, bytes: o.bytes });
  }

  private deliver(object: GitObject | undefined): void {
    const w = this.waiting[0];
    if (!w) {
      this.fail(new Error('git cat-file answered more than was asked'));
      return;
    }
    w.out.push(object);
    if (w.out.length === w.count) {
      this.waiting.shift();
      w.resolve(w.out);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e instanceof ExternalError ? e : new ExternalError('git', this.operation, e.message, { cause: e });
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }
}

/** Reads objects through one `cat-file --batch` process, then ends it. */
export async function readObjects(root: string, names: string[], operation?: string): Promise<Array<Buffer | undefined>> {
  if (names.length === 0) return [];
  const reader = new ObjectReader(root, operation);
  try {
    return await reader.read(names);
  } finally {
    reader.close();
  }
}

/** The sizes of objects through one `git cat-file --batch-check` (headers only: nothing is read whole); undefined for a missing one. */
export async function objectSizes(root: string, names: string[], operation = 'read object sizes'): Promise<Array<number | undefined>> {
  if (names.length === 0) return [];
  const p = streamGit(root, ['cat-file', '--batch-check=%(objectsize)'], operation);
  const chunks: Buffer[] = [];
  p.stdout.on('data', (c: Buffer) => chunks.push(c));
  p.stdin.on('error', () => undefined); // a git that fails early closes its stdin: \`done\` says why
  p.stdin.end(names.join('\n') + '\n');
  await p.done;
  // One line per name: the size, or "<name> missing".
  const lines = Buffer.concat(chunks).toString('latin1').split('\n');
  return names.map((_, i) => (/^\d+$/.test(lines[i] ?? '') ? Number(lines[i]) : undefined));
}
