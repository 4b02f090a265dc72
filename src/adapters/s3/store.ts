// The artifact store: S3 through the AWS SDK. Uploads read the file once and hash each byte once
// per digest S3 and the registry need (a SHA-256 per part, sent as both the part's checksum and
// its signed payload hash, and the whole file's SHA-256 on a worker thread), in a fixed set of
// reused part buffers (bounded memory and concurrency); copies from another bucket stay inside
// S3. A failed or interrupted multipart upload is always aborted.

import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
  UploadPartCommand, UploadPartCopyCommand, type CompletedPart,
} from '@aws-sdk/client-s3';
import { ExternalError, InterruptedError, ModelshipError, RefusedError } from '../../errors.js';

export type { S3Client };
import type { StoredObject } from '../../model/objects.js';
import { terminalText } from '../../model/escape.js';

export interface S3Location {
  bucket: string;
  key: string;
}

/** s3://bucket/key -> {bucket, key}; the key may be empty or end in '/'. */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) throw new RefusedError(`not an S3 URI: ${JSON.stringify(uri)}`, 'expected s3://bucket/key');
  return { bucket: m[1]!, key: m[2] ?? '' };
}

export function s3Uri(loc: S3Location): string {
  return `s3://${loc.bucket}/${loc.key}`;
}

export interface StoreOptions {
  /** S3-compatible endpoint (path-style), e.g. http://127.0.0.1:4568 for s3rver; default AWS */
  endpoint?: string;
  region?: string;
  maxAttempts?: number;
  /** per-request timeout in ms */
  requestTimeout?: number;
}

/**
 * An S3 client configured from options and the environment: MODELSHIP_S3_ENDPOINT points it at an
 * S3-compatible server; credentials and region come from the usual AWS chain.
 */
export function s3Client(options: StoreOptions = {}): S3Client {
  // The SDK warns on every run that Node 20 support ends in 2027; the README says so once.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = options.endpoint ?? process.env.MODELSHIP_S3_ENDPOINT;
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: options.maxAttempts ?? 4,
    // We send explicit SHA-256 checksums ourselves; the SDK's own streaming trailers are
    // unnecessary and some S3-compatible servers store them verbatim.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 5_000, requestTimeout: options.requestTimeout ?? 120_000, throwOnRequestTimeout: true },
  });
}

export interface UploadProgress {
  bytes: number;
  total: number;
}

export interface UploadOptions {
  partSize: number;
  concurrency: number;
  /** largest object copied with one CopyObject (S3's limit, 5 GiB); larger ones use UploadPartCopy */
  singleCopyLimit?: number;
  signal?: AbortSignal;
  onProgress?: (p: UploadProgress) => void;
}

export interface UploadResult {
  sha256: string;
  size: number;
  /** the checksum S3 will report: full-object for a single PUT, composite '-N' for multipart */
  checksum: string;
  parts: number;
}

const MiB = 1024 * 1024;
/** S3's limits: at most 10,000 parts, each (but the last) at least 5 MiB, at most 5 GiB. */
const maxParts = 10_000;
const maxCopyObject = 5 * 1024 * MiB;

export const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

/**
 * At most this much of an artifact is in memory during an upload: the parts read and not yet
 * accepted by S3 (each part is read whole, hashed, then sent). Node, the SDK and the hashing
 * worker take ~115 MB more (measured: 180 MB peak with 64 MiB of parts, 248 MB with 128 MiB),
 * so this keeps register's peak RSS near 215 MB, under 256 MB with room to spare.
 */
export const uploadBufferBudget = 96 * MiB;
/** The largest --part-size register accepts, in MiB: one part must fit in the budget. */
export const maxPartSizeMiB = uploadBufferBudget / MiB;

export interface UploadPlan {
  partSize: number;
  /** parts in flight at once: the requested concurrency, lowered to fit the budget */
  concurrency: number;
  parts: number;
  /** bytes held in part buffers */
  bufferBytes: number;
  /** set when the plan differs from what was asked: say so before starting */
  notice?: string;
}

/**
 * How a file of `size` bytes goes up: the part size (the preference, grown for S3's 10,000-part
 * limit) and how many parts at once, so the part buffers stay within uploadBufferBudget. Only an
 * artifact over ~0.9 TiB, whose parts S3's limit makes larger than the budget, needs more: one
 * part at a time.
 */
export function uploadPlan(size: number, preferredPartSize: number, concurrency: number): UploadPlan {
  const partSize = partSizeFor(size, preferredPartSize);
  const parts = Math.max(1, Math.ceil(size / partSize));
  if (parts === 1) return { partSize: Math.max(size, 1), concurrency: 1, parts, bufferBytes: size };
  const fit = Math.max(1, Math.floor(uploadBufferBudget / partSize));
  const inFlight = Math.min(concurrency, fit, parts);
  const plan: UploadPlan = { partSize, concurrency: inFlight, parts, bufferBytes: inFlight * partSize };
  const mib = (n: number) => `${Math.round(n / MiB)} MiB`;
  if (partSize > uploadBufferBudget) {
    plan.notice = `the artifact needs parts of ${mib(partSize)} (S3 allows at most ${maxParts.toLocaleString('en-US')} parts), more than register's ${mib(uploadBufferBudget)} memory budget: uploading one part at a time, holding ${mib(partSize)}`;
  } else if (inFlight < Math.min(concurrency, parts)) {
    plan.notice = `uploading ${inFlight} part${inFlight === 1 ? '' : 's'} of ${mib(partSize)} at a time, not ${concurrency}: register holds the parts in flight in memory, at most ${mib(uploadBufferBudget)}`;
  }
  return plan;
}

/** Part size for an object: the preference, grown so the object fits in S3's part limit. */
export function partSizeFor(size: number, preferred: number): number {
  const min = Math.max(5 * MiB, preferred);
  const needed = Math.ceil(size / maxParts);
  return Math.max(min, Math.ceil(needed / MiB) * MiB);
}

export class ArtifactStore {
  constructor(readonly client: S3Client) {}

  /** The object at `loc`, or undefined when there is none. */
  async head(loc: S3Location, signal?: AbortSignal): Promise<StoredObject | undefined> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key, ChecksumMode: 'ENABLED' }), { abortSignal: signal });
      const o: StoredObject = { size: r.ContentLength ?? 0 };
      if (r.Metadata?.sha256) o.sha256 = r.Metadata.sha256;
      if (r.ChecksumSHA256) o.checksum = r.ChecksumSHA256;
      if (r.ChecksumType) o.checksumType = r.ChecksumType;
      return o;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw external(e, `read ${s3Uri(loc)}`);
    }
  }

  /** Reads a small object whole (run metadata, reports); refuses more than `maxBytes`. */
  async getSmall(loc: S3Location, maxBytes: number): Promise<Buffer | undefined> {
    const head = await this.head(loc);
    if (!head) return undefined;
    if (head.size > maxBytes) return Buffer.alloc(maxBytes + 1);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      throw external(e, `read ${s3Uri(loc)}`);
    }
  }

  /** Writes a small object with its SHA-256 checksum, so S3 rejects it if a byte changes in transit. */
  async putSmall(loc: S3Location, body: Buffer, sha256: string, contentType: string): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: loc.bucket, Key: loc.key, Body: body, ContentType: contentType,
        ChecksumSHA256: b64(sha256), Metadata: { sha256 },
      }));
    } catch (e) {
      throw external(e, `write ${s3Uri(loc)}`);
    }
  }

  /**
   * Writes a small object that must never be overwritten: looks first, then PutObject with
   * If-None-Match: * (S3 answers 412 when the key exists) and its SHA-256 checksum, then reads it
   * back, so a server that ignores the condition (s3rver) still cannot make another writer's
   * object pass for ours. 'exists': the key already held exactly these bytes.
   */
  async putOnce(loc: S3Location, body: Buffer, sha256: string, contentType: string, signal?: AbortSignal): Promise<'written' | 'exists'> {
    const compare = async (): Promise<'same' | 'different' | 'missing'> => {
      const there = await this.getSmall(loc, body.length + 1);
      return !there ? 'missing' : there.equals(body) ? 'same' : 'different';
    };
    const conflict = () => new ExternalError('s3', `write ${s3Uri(loc)}`, 'the key already holds a different object; a registration record is written once and never replaced',
      { hint: 'something other than modelship wrote there; investigate before registering' });
    const before = await compare();
    if (before === 'same') return 'exists';
    if (before === 'different') throw conflict();
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: loc.bucket, Key: loc.key, Body: body, ContentType: contentType, ContentLength: body.length,
        ChecksumSHA256: b64(sha256), Metadata: { sha256 }, IfNoneMatch: '*',
      }), { abortSignal: signal });
    } catch (e) {
      if (!(e instanceof S3ServiceException && e.$metadata.httpStatusCode === 412)) throw external(e, `write ${s3Uri(loc)}`);
      if ((await compare()) === 'same') return 'exists';
      throw conflict();
    }
    const after = await compare();
    if (after !== 'same') throw after === 'different' ? conflict() : new ExternalError('s3', `read back ${s3Uri(loc)}`, 'the object is not there although the write was accepted', { retryable: true });
    return 'written';
  }

  /** Up to `max` keys under a prefix (needs s3:ListBucket). */
  async list(prefix: S3Location, max: number, signal?: AbortSignal): Promise<string[]> {
    try {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: prefix.bucket, Prefix: prefix.key, MaxKeys: max }), { abortSignal: signal });
      return (r.Contents ?? []).map((o) => o.Key!).filter(Boolean);
    } catch (e) {
      throw external(e, `list ${s3Uri(prefix)}`);
    }
  }

  async delete(loc: S3Location): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    } catch (e) {
      throw external(e, `delete ${s3Uri(loc)}`);
    }
  }

  /**
   * Uploads a local file, reading it once into a few reused part buffers: each part's SHA-256 is
   * computed once, here, and sent both as its x-amz-checksum-sha256 (S3 refuses the part if a
   * byte changed) and as the signed payload hash (x-amz-content-sha256), so the SDK does not hash
   * it again; a worker thread computes the whole file's SHA-256 from the same buffers, in order,
   * on the other core. The upload completes only if that digest equals `expectedSha256`;
   * otherwise, and on any failure or interruption, the multipart upload is aborted and nothing is
   * stored.
   */
  async uploadFile(path: string, size: number, dest: S3Location, expectedSha256: string, options: UploadOptions): Promise<UploadResult> {
    const plan = uploadPlan(size, options.partSize, options.concurrency);
    if (plan.parts === 1) return this.uploadSingle(path, size, dest, expectedSha256, options);
    const { partSize, parts: count } = plan;

    let uploadId: string | undefined;
    const file = await open(path, 'r');
    const whole = new WholeFileHash();
    const free = new BufferPool(plan.concurrency, partSize);
    const parts: CompletedPart[] = [];
    const partDigests: Buffer[] = [];
    let sent = 0;
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    try {
      const created = await this.client.send(new CreateMultipartUploadCommand({
        Bucket: dest.bucket, Key: dest.key, ChecksumAlgorithm: 'SHA256', Metadata: { sha256: expectedSha256 },
        ContentType: 'application/octet-stream',
      }), { abortSignal: options.signal });
      uploadId = created.UploadId!;
      for (let n = 1; n <= count; n++) {
        const buffer = await free.take();
        if (failure) break;
        checkAborted(options.signal);
        const length = Math.min(partSize, size - (n - 1) * partSize);
        const body = buffer.subarray(0, length);
        await readFully(file, body, (n - 1) * partSize);
        const hashed = whole.update(body);
        hashed.catch((e: unknown) => { failure ??= e; });
        const digest = createHash('sha256').update(body).digest();
        partDigests[n - 1] = digest;
        const task = this.client.send(withPayloadHash(new UploadPartCommand({
          Bucket: dest.bucket, Key: dest.key, UploadId: uploadId, PartNumber: n, Body: body,
          ChecksumSHA256: digest.toString('base64'), ContentLength: length,
        }), digest.toString('hex')), { abortSignal: options.signal }).then((r) => {
          parts[n - 1] = { PartNumber: n, ETag: r.ETag, ChecksumSHA256: digest.toString('base64') };
          sent += length;
          options.onProgress?.({ bytes: sent, total: size });
        }, (e) => {
          failure ??= e;
        });
        inflight.add(task);
        // The buffer is read again only when S3 has the part and the worker has hashed it.
        void Promise.allSettled([task, hashed]).then(() => {
          inflight.delete(task);
          free.give(buffer);
        });
      }
      await Promise.all(inflight);
      if (failure) throw failure;
      checkAborted(options.signal);
      const sha256 = await whole.digest();
      if (sha256 !== expectedSha256) {
        throw new RefusedError(`the artifact's sha256 is ${sha256}, but metadata.json says ${expectedSha256}; nothing was stored`,
          'the artifact or its metadata changed after training; re-run the training task\'s export');
      }
      await this.client.send(new CompleteMultipartUploadCommand({
        Bucket: dest.bucket, Key: dest.key, UploadId: uploadId, MultipartUpload: { Parts: parts },
      }), { abortSignal: options.signal });
      uploadId = undefined;
      return { sha256, size, parts: count, checksum: `${compositeChecksum(partDigests)}-${count}` };
    } catch (e) {
      if (uploadId) await this.abort(dest, uploadId);
      if (e instanceof RefusedError || e instanceof InterruptedError) throw e;
      if (options.signal?.aborted) throw new InterruptedError('interrupted; the partial upload was aborted and nothing was stored');
      throw external(e, `upload ${s3Uri(dest)}`, 'the partial upload was aborted; nothing was stored');
    } finally {
      await whole.close();
      await file.close();
    }
  }

  private async uploadSingle(path: string, size: number, dest: S3Location, expectedSha256: string, options: UploadOptions): Promise<UploadResult> {
    const body = Buffer.allocUnsafe(size);
    const file = await open(path, 'r');
    try {
      await readFully(file, body, 0);
    } finally {
      await file.close();
    }
    const sha256 = createHash('sha256').update(body).digest('hex');
    if (sha256 !== expectedSha256) {
      throw new RefusedError(`the artifact's sha256 is ${sha256}, but metadata.json says ${expectedSha256}; nothing was stored`,
        'the artifact or its metadata changed after training; re-run the training task\'s export');
    }
    try {
      // One object, one digest: the file's SHA-256 is its checksum and its signed payload hash.
      await this.client.send(withPayloadHash(new PutObjectCommand({
        Bucket: dest.bucket, Key: dest.key, Body: body, ContentLength: size, ContentType: 'application/octet-stream',
        ChecksumSHA256: b64(sha256), Metadata: { sha256 },
      }), sha256), { abortSignal: options.signal });
    } catch (e) {
      if (options.signal?.aborted) throw new InterruptedError('interrupted; nothing was stored');
      throw external(e, `upload ${s3Uri(dest)}`);
    }
    options.onProgress?.({ bytes: size, total: size });
    return { sha256, size, parts: 1, checksum: b64(sha256) };
  }

  /**
   * Copies an object between buckets without it leaving S3. Up to 5 GiB: one CopyObject, for
   * which S3 computes the copy's full SHA-256. Larger: UploadPartCopy in parts.
   * Returns the checksum S3 reports for the copy (undefined when the store reports none).
   */
  async copy(source: S3Location, size: number, dest: S3Location, sha256: string, options: UploadOptions): Promise<{ checksum?: string; checksumType?: string }> {
    const copySource = `${source.bucket}/${encodeURIComponent(source.key).replace(/%2F/g, '/')}`;
    if (size <= (options.singleCopyLimit ?? maxCopyObject)) {
      try {
        const r = await this.client.send(new CopyObjectCommand({
          Bucket: dest.bucket, Key: dest.key, CopySource: copySource, ChecksumAlgorithm: 'SHA256',
          MetadataDirective: 'REPLACE', Metadata: { sha256 }, ContentType: 'application/octet-stream',
        }), { abortSignal: options.signal });
        options.onProgress?.({ bytes: size, total: size });
        const out: { checksum?: string; checksumType?: string } = {};
        if (r.CopyObjectResult?.ChecksumSHA256) out.checksum = r.CopyObjectResult.ChecksumSHA256;
        if (r.CopyObjectResult?.ChecksumType) out.checksumType = r.CopyObjectResult.ChecksumType;
        return out;
      } catch (e) {
        if (options.signal?.aborted) throw new InterruptedError('interrupted; nothing was stored');
        throw external(e, `copy ${s3Uri(source)} to ${s3Uri(dest)}`);
      }
    }
    const partSize = Math.min(partSizeFor(size, options.partSize), options.singleCopyLimit ?? maxCopyObject);
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(new CreateMultipartUploadCommand({
        Bucket: dest.bucket, Key: dest.key, ChecksumAlgorithm: 'SHA256', Metadata: { sha256 }, ContentType: 'application/octet-stream',
      }), { abortSignal: options.signal });
      uploadId = created.UploadId!;
      const count = Math.ceil(size / partSize);
      const parts: CompletedPart[] = new Array(count);
      let next = 1;
      let copied = 0;
      const worker = async () => {
        while (next <= count) {
          const n = next++;
          checkAborted(options.signal);
          const start = (n - 1) * partSize;
          const end = Math.min(size, start + partSize) - 1;
          const r = await this.client.send(new UploadPartCopyCommand({
            Bucket: dest.bucket, Key: dest.key, UploadId: uploadId, PartNumber: n, CopySource: copySource,
            CopySourceRange: `bytes=${start}-${end}`,
          }), { abortSignal: options.signal });
          parts[n - 1] = { PartNumber: n, ETag: r.CopyPartResult?.ETag, ChecksumSHA256: r.CopyPartResult?.ChecksumSHA256 };
          copied += end - start + 1;
          options.onProgress?.({ bytes: copied, total: size });
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency, count) }, worker));
      await this.client.send(new CompleteMultipartUploadCommand({
        Bucket: dest.bucket, Key: dest.key, UploadId: uploadId, MultipartUpload: { Parts: parts },
      }), { abortSignal: options.signal });
      uploadId = undefined;
      if (!parts.every((p) => p.ChecksumSHA256)) return {};
      const digests = parts.map((p) => Buffer.from(p.ChecksumSHA256!, 'base64'));
      return { checksum: `${compositeChecksum(digests)}-${count}`, checksumType: 'COMPOSITE' };
    } catch (e) {
      if (uploadId) await this.abort(dest, uploadId);
      if (e instanceof InterruptedError) throw e;
      if (options.signal?.aborted) throw new InterruptedError('interrupted; the partial copy was aborted and nothing was stored');
      throw external(e, `copy ${s3Uri(source)} to ${s3Uri(dest)}`, 'the partial copy was aborted; nothing was stored');
    }
  }

  /** Aborts a multipart upload; its own failure is reported but does not hide the first error. */
  private async abort(dest: S3Location, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: dest.bucket, Key: dest.key, UploadId: uploadId }));
    } catch (e) {
      // written straight to stderr (not through a command's output): made terminal-safe here
      process.stderr.write(terminalText(`warning: could not abort the multipart upload ${uploadId} of ${s3Uri(dest)}: ${(e as Error).message}; `) +
        'a bucket lifecycle rule (AbortIncompleteMultipartUpload) will remove it\n');
    }
  }
}

/**
 * Gives a request its payload's SHA-256 (hex) as x-amz-content-sha256, computed by the caller.
 * The SDK's SigV4 signer (@smithy/signature-v4, getPayloadHash) uses that header when present and
 * only otherwise hashes a Buffer body itself; S3 checks it against the body it receives
 * (XAmzContentSHA256Mismatch) and it is part of the signature ("Signature Calculations for the
 * Authorization Header", docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
 * Added at the build step, before the finalize-request step signs (and re-signs each retry).
 */
function withPayloadHash<C extends { middlewareStack: { add: (...a: any[]) => void } }>(command: C, sha256Hex: string): C {
  command.middlewareStack.add(
    (next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers;
      if (headers) headers['x-amz-content-sha256'] = sha256Hex;
      return next(args);
    },
    { step: 'build', name: 'modelshipPayloadHash', override: true },
  );
  return command;
}

/** A fixed set of part buffers, taken in turn and given back when their part is done with. */
class BufferPool {
  private readonly idle: Buffer[] = [];
  private readonly waiting: Array<(b: Buffer) => void> = [];
  constructor(count: number, size: number) {
    // Over SharedArrayBuffers, so the hashing worker reads the very bytes that are sent.
    for (let i = 0; i < count; i++) this.idle.push(Buffer.from(new SharedArrayBuffer(size)));
  }
  take(): Promise<Buffer> {
    const b = this.idle.pop();
    return b ? Promise.resolve(b) : new Promise((resolve) => this.waiting.push(resolve));
  }
  give(b: Buffer): void {
    const w = this.waiting.shift();
    if (w) w(b);
    else this.idle.push(b);
  }
}

// The worker: one running SHA-256, fed the parts in order (messages arrive in the order sent).
const wholeFileHashWorker = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const whole = createHash('sha256');
parentPort.on('message', (m) => {
  if (m.digest) return parentPort.postMessage({ digest: whole.digest('hex') });
  whole.update(new Uint8Array(m.buffer, m.offset, m.length));
  parentPort.postMessage({ hashed: m.n });
});
`;

/** The whole file's SHA-256, computed on a worker thread from the (shared) part buffers, in order. */
class WholeFileHash {
  private readonly worker = new Worker(wholeFileHashWorker, { eval: true });
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private finishing?: { resolve: (hex: string) => void; reject: (e: unknown) => void };
  private next = 0;
  private failed?: Error;

  constructor() {
    this.worker.on('message', (m: { hashed?: number; digest?: string }) => {
      if (m.digest !== undefined) this.finishing?.resolve(m.digest);
      else if (m.hashed !== undefined) {
        this.pending.get(m.hashed)?.resolve();
        this.pending.delete(m.hashed);
      }
    });
    const fail = (e: Error) => {
      this.failed ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.finishing?.reject(e);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the hashing worker exited (code ${code})`)));
  }

  /** Hashes the next bytes of the file; resolves when the worker is done reading them. */
  update(bytes: Buffer): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const n = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(n, { resolve, reject });
      this.worker.postMessage({ n, buffer: bytes.buffer, offset: bytes.byteOffset, length: bytes.length });
    });
  }

  digest(): Promise<string> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.finishing = { resolve, reject };
      this.worker.postMessage({ digest: true });
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    this.worker.on('exit', () => undefined);
    await this.worker.terminate();
  }
}

/** S3's composite checksum of a multipart object: the SHA-256 of the parts' binary digests. */
export function compositeChecksum(partDigests: Buffer[]): string {
  const h = createHash('sha256');
  for (const d of partDigests) h.update(d);
  return h.digest('base64');
}

async function readFully(file: import('node:fs/promises').FileHandle, buffer: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesRead } = await file.read(buffer, offset, buffer.length - offset, position + offset);
    if (bytesRead === 0) throw new RefusedError('the artifact file became shorter while it was being read');
    offset += bytesRead;
  }
}

function checkAborted(signal?: AbortSignal) {
  if (signal?.aborted) throw new InterruptedError('interrupted');
}

function isNotFound(e: unknown): boolean {
  return e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 404 || e.name === 'NotFound' || e.name === 'NoSuchKey');
}


/** An object's bytes, read whole: refused past `maxBytes` (as `tooLarge` says), given up after `timeoutMs`. */
export async function getObjectBytes(client: S3Client, loc: S3Location, opts: { operation: string; timeoutMs: number; maxBytes: number; tooLarge: (size: number) => Error; notFoundHint?: string }): Promise<Buffer> {
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: AbortSignal.timeout(opts.timeoutMs) });
    if (r.ContentLength !== undefined && r.ContentLength > opts.maxBytes) {
      (r.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw opts.tooLarge(r.ContentLength);
    }
    return Buffer.from(await r.Body!.transformToByteArray());
  } catch (e) {
    if (e instanceof ModelshipError) throw e;
    if ((e as Error)?.name === 'TimeoutError' || (e as Error)?.name === 'AbortError') {
      throw new ExternalError('s3', opts.operation, `no answer within ${opts.timeoutMs / 1000} s`, { cause: e, retryable: true });
    }
    throw external(e, opts.operation, (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 404 ? opts.notFoundHint : undefined);
  }
}

/** Wraps an SDK error as an ExternalError naming what was being done; never includes credentials. */
export function external(e: unknown, operation: string, hint?: string): ExternalError {
  if (e instanceof ExternalError) return e;
  const status = e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
  const name = (e as Error)?.name ?? 'Error';
  const message = (e as Error)?.message || name;
  const details: ConstructorParameters<typeof ExternalError>[3] = { cause: e, retryable: status === undefined || status >= 500 || status === 429 };
  if (status !== undefined) details.status = status;
  if (hint) details.hint = hint;
  else if (status === 403) details.hint = 'check the AWS credentials and that the role may read and write this bucket';
  return new ExternalError('s3', operation, status ? `${name} (HTTP ${status}): ${message}` : `${name}: ${message}`, details);
}
