// Starts s3rver (an independent S3-compatible server) on loopback, for the demo and the tests.
// What s3rver does not do, and what the code under test must not rely on it for:
// it ignores x-amz-checksum-* headers (never checks them, never returns them), ignores Object
// Lock headers, answers UploadPartCopy with 501 and AbortMultipartUpload with 405 (so tests
// assert that the abort was sent). See shared/NOTES.md.
// In front of it runs a small checksum layer (./s3-checksums.ts) that does what S3 does with
// SHA-256 checksums and If-None-Match, because the integrity gate fails an object without one.

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTethered } from './tether.js';
import { startChecksumLayer } from './s3-checksums.js';
import { startVersioningLayer, type VersioningLayer } from './s3-versions.js';

export interface RunningS3 {
  endpoint: string;
  dir: string;
  /** the same credentials s3rver checks signatures against */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** the s3rver process itself, not its tether (benchmarks read its CPU time) */
  pid: number | undefined;
  /** bytes the checksum layer hashed verifying request bodies (see ./s3-checksums.ts) */
  layerStats: { sha256Bytes: number; md5Bytes: number };
  /** the versioning layer (./s3-versions.ts) in front, when buckets were started with versioning: set its clock with `versions.now` */
  versions?: VersioningLayer;
  stop(): Promise<void>;
}

export const s3rverCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * Starts s3rver with the given buckets; resolves once it listens. Buckets named in `versioned`
 * have versioning enabled (as an Object Lock bucket must): a versioning layer (./s3-versions.ts)
 * then answers in front of the checksum layer.
 */
export async function startS3rver(options: { buckets: string[]; dir?: string; versioned?: string[] }): Promise<RunningS3> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'modelship-s3-')));
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  const args = ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent', '--no-vhost-buckets'];
  for (const b of options.buckets) args.push('--configure-bucket', b);
  // Tethered: s3rver dies with this process, even when a test runner kills it without a teardown.
  const tethered = spawnTethered(process.execPath, args);
  const child = tethered.process;
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 15 s: ${out}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code}: ${out}`));
    });
  });
  const layer = await startChecksumLayer(`http://127.0.0.1:${port}`, dir);
  const versions = options.versioned?.length ? await startVersioningLayer({ upstream: layer.endpoint, buckets: options.versioned, credentials: s3rverCredentials }) : undefined;
  return {
    endpoint: versions?.endpoint ?? layer.endpoint,
    ...(versions ? { versions } : {}),
    dir,
    credentials: s3rverCredentials,
    pid: await tethered.pid.catch(() => undefined),
    layerStats: layer.stats,
    stop: () => (versions?.stop() ?? Promise.resolve()).then(() => layer.stop()).then(() => stopChild(child)).then(() => (options.dir ? undefined : rm(dir, { recursive: true, force: true }))),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
