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
  private buffered: Buffer = Buffer.alloc(0);
  /** chunks received while the object at the front is still incomplete, and how many bytes that object needs */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private wanted = 0;
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
    p.stdout.on('data', (chunk: Buffer) => {
      // A large object arrives in many chunks: gather them and join once it is whole, rather
      // than copying what is buffered again at every chunk.
      if (this.buffered.length + this.pendingBytes + chunk.length < this.wanted) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        return;
      }
      this.buffered = this.buffered.length || this.pending.length ? Buffer.concat([this.buffered, ...this.pending, chunk]) : chunk;
      this.pending = [];
      this.pendingBytes = 0;
      this.wanted = 0;
      this.drain();
    });
    // A closed stdin while stopping is expected; anything else fails the waiting reads.
    p.stdin.on('error', (e) => this.fail(e));
    p.done.then(
      () => { if (this.waiting.length) this.fail(new Error('git cat-file ended before answering')); },
      (e: Error) => this.fail(e),
    );
    return p;
  }

  private drain(): void {
    for (let w = this.waiting[0]; w; w = this.waiting[0]) {
      while (w.out.length < w.count) {
        const nl = this.buffered.indexOf(10);
        if (nl < 0) return;
        const header = this.buffered.subarray(0, nl).toString();
        if (header.endsWith(' missing')) {
          w.out.push(undefined);
          this.buffered = this.buffered.subarray(nl + 1);
          continue;
        }
        // <oid> <type> <size> LF <content> LF
        const size = Number(header.split(' ')[2]);
        if (this.buffered.length < nl + 1 + size + 1) {
          this.wanted = nl + 1 + size + 1;
          return;
        }
        const whole = this.buffered.length === nl + 1 + size + 1;
        const bytes = this.buffered.subarray(nl + 1, nl + 1 + size);
        // The last object of the buffer owns it: no copy; otherwise copy it out of the shared buffer.
        w.out.push({ id: header.slice(0, header.indexOf(' ')), bytes: whole ? bytes : Buffer.from(bytes) });
        this.buffered = this.buffered.subarray(nl + 1 + size + 1);
      }
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
