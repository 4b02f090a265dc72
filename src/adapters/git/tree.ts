// The release files at a git revision, read straight from the object database: no checkout,
// so `check` can hold base and head side by side. One `ls-tree` and one `cat-file --batch`
// process per snapshot, whatever the number of files.

import { spawn } from 'node:child_process';
import { simpleGit } from 'simple-git';
import { ExternalError } from '../../errors.js';
import { releaseRoots, type RepoFile, type Snapshot } from '../../config/snapshot.js';

/** Resolves `rev` to a full commit id, or throws an ExternalError that says which revision. */
export async function resolveRevision(root: string, rev: string): Promise<string> {
  try {
    return (await simpleGit(root).raw(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`])).trim();
  } catch (e) {
    throw new ExternalError('git', `resolve revision ${JSON.stringify(rev)}`, 'no such commit, branch or tag', { cause: e });
  }
}

/** A snapshot of the release files at a commit. */
export async function gitRevision(root: string, rev: string): Promise<Snapshot> {
  const commit = await resolveRevision(root, rev);
  const label = rev === commit ? commit.slice(0, 12) : `${rev} (${commit.slice(0, 12)})`;
  let listing: Array<RepoFile & { oid: string }> | undefined;

  async function list() {
    if (listing) return listing;
    const out = await simpleGit(root).raw(['ls-tree', '-r', '-l', '-z', '--full-tree', commit, '--', ...releaseRoots]);
    listing = [];
    for (const entry of out.split('\0')) {
      if (!entry) continue;
      // <mode> SP <type> SP <oid> SP+ <size> TAB <path>
      const tab = entry.indexOf('\t');
      const [, type, oid, size] = entry.slice(0, tab).split(/ +/);
      if (type !== 'blob') continue;
      listing.push({ path: entry.slice(tab + 1), size: Number(size), oid: oid! });
    }
    return listing;
  }

  return {
    label,
    list: async () => (await list()).map(({ path, size }) => ({ path, size })),
    async read(paths, maxBytes) {
      const byPath = new Map((await list()).map((f) => [f.path, f]));
      const wanted = paths.map((p) => byPath.get(p)).filter((f): f is RepoFile & { oid: string } => !!f && f.size <= maxBytes);
      const blobs = await catFileBatch(root, wanted.map((f) => f.oid));
      return new Map(wanted.map((f) => [f.path, blobs.get(f.oid)!]));
    },
  };
}

/** Reads many blobs through one `git cat-file --batch`. */
export function catFileBatch(root: string, oids: string[]): Promise<Map<string, Buffer>> {
  const result = new Map<string, Buffer>();
  if (oids.length === 0) return Promise.resolve(result);
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let pending: Buffer = Buffer.alloc(0);
    const order = [...new Set(oids)];
    let index = 0;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        const nl = pending.indexOf(10);
        if (nl < 0) return;
        const header = pending.subarray(0, nl).toString();
        const parts = header.split(' ');
        if (parts[1] === 'missing') {
          child.kill();
          reject(new ExternalError('git', 'read objects', `object ${parts[0]} is missing`));
          return;
        }
        const size = Number(parts[2]);
        if (pending.length < nl + 1 + size + 1) return;
        result.set(order[index++]!, Buffer.from(pending.subarray(nl + 1, nl + 1 + size)));
        pending = pending.subarray(nl + 1 + size + 1);
      }
    });
    child.on('error', (e) => reject(new ExternalError('git', 'read objects', e.message, { cause: e })));
    child.on('close', (code) => {
      if (index === order.length) resolve(result);
      else reject(new ExternalError('git', 'read objects', `git cat-file exited with ${code}: ${stderr.trim()}`));
    });
    child.stdin.end(order.join('\n') + '\n');
  });
}
