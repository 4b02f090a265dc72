// The audit store on S3: every object is written with Object Lock in COMPLIANCE mode (nobody,
// root included, can delete or overwrite that version before retain-until), a SHA-256 checksum
// S3 verifies and keeps, and If-None-Match: * so a key that exists is never written again.
// The store does not rely on the server for that last rule alone: it looks before it writes and
// reads back after, so a server that ignores the condition (s3rver) still cannot make it
// report someone else's object as its own.

import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ExternalError, ModelshipError, RefusedError } from '../../errors.js';
import { retry, type RetryOptions } from '../retry.js';
import type { AuditStore, ObjectVersion, StoredObject } from '../../audit/store.js';

export interface S3StoreOptions {
  client: S3Client;
  bucket: string;
  /** key prefix, without leading or trailing '/' ('' for the bucket's root) */
  prefix: string;
  retentionDays: number;
  now?: () => Date;
  attempts?: number;
  backoffMs?: number;
}

const day = 86_400_000;
/** What verify needs beyond reading: the versions of every key, and a version by its id. */
const auditorHint = 'verify needs s3:ListBucketVersions on the audit bucket and s3:GetObjectVersion on its objects (it lists every version and delete marker, and reads a record\'s first version)';

export class S3Store implements AuditStore {
  readonly location: string;
  private readonly attempts: number;
  constructor(private readonly o: S3StoreOptions) {
    this.location = `s3://${o.bucket}${o.prefix ? `/${o.prefix}` : ''}`;
    this.attempts = o.attempts ?? 4;
  }

  async list(prefix: string, after?: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    // StartAfter: S3 lists only keys after it ("Amazon S3 starts listing after this specified
    // key", ListObjectsV2, docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html), so
    // trace over a current index reads one page, not every record.
    const startAfter = after?.startsWith(prefix) ? { StartAfter: after } : {};
    do {
      const page = await this.call(`list s3://${this.o.bucket}/${prefix}`, () => this.o.client.send(new ListObjectsV2Command({
        Bucket: this.o.bucket, Prefix: prefix, Delimiter: '/', ...startAfter, ...(token ? { ContinuationToken: token } : {}),
      })));
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  /**
   * Every version and delete marker under the prefix, through ListObjectVersions: the audit bucket
   * has versioning (Object Lock requires it), and Object Lock does not stop a DELETE without a
   * version id from adding a delete marker, which hides the record from ListObjectsV2 and plain
   * GETs, nor a PUT from writing a new version over it ("Retention periods and legal holds don't
   * prevent new versions of the object from being created, or delete markers from being added on
   * top of the object": docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html). A key
   * whose newest entry is a delete marker is listed all the same: verify reports it and reads the
   * version under it.
   *
   * S3 lists a key's versions newest first ("Amazon S3 returns object versions in the order in
   * which they were stored, with the most recently stored returned first":
   * docs.aws.amazon.com/AmazonS3/latest/userguide/list-obj-version-enabled-bucket.html); the SDK
   * hands Version and DeleteMarker entries back in two separate lists, so each key's entries are
   * put together again and ordered oldest first by LastModified (equal times: as S3 listed them,
   * the latest last). A key's pages may split anywhere, so the pages are read to the end first.
   * Permissions: s3:ListBucketVersions on the bucket, s3:GetObjectVersion to read a version.
   */
  async objects(prefix: string): Promise<StoredObject[]> {
    interface Entry { v: ObjectVersion; latest: boolean; rank: number }
    const byKey = new Map<string, Entry[]>();
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    let rank = 0;
    for (;;) {
      const page = await this.call(`list s3://${this.o.bucket}/${prefix}`, () => this.o.client.send(new ListObjectVersionsCommand({
        Bucket: this.o.bucket, Prefix: prefix, Delimiter: '/',
        ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}), ...(versionIdMarker !== undefined ? { VersionIdMarker: versionIdMarker } : {}),
      })), auditorHint);
      const add = (key: string | undefined, versionId: string | undefined, at: Date | undefined, latest: boolean | undefined, deleteMarker: boolean) => {
        if (!key || !at) return;
        const list = byKey.get(key) ?? [];
        list.push({ v: { versionId: versionId ?? 'null', storedAt: at, deleteMarker }, latest: latest === true, rank: rank++ });
        byKey.set(key, list);
      };
      for (const v of page.Versions ?? []) add(v.Key, v.VersionId, v.LastModified, v.IsLatest, false);
      for (const m of page.DeleteMarkers ?? []) add(m.Key, m.VersionId, m.LastModified, m.IsLatest, true);
      if (!page.IsTruncated) break;
      // NextKeyMarker and NextVersionIdMarker say where the next page starts (ListObjectVersions,
      // docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html). A truncated page
      // without them would make this loop ask for the same page for ever: an error instead.
      if (!page.NextKeyMarker || (page.NextKeyMarker === keyMarker && page.NextVersionIdMarker === versionIdMarker)) {
        throw new ExternalError('s3', `list s3://${this.o.bucket}/${prefix}`, `a truncated page without a new NextKeyMarker (after key ${JSON.stringify(keyMarker ?? '')}, version ${JSON.stringify(versionIdMarker ?? '')})`);
      }
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
    const out: StoredObject[] = [];
    for (const [key, entries] of byKey) {
      // Oldest first: by time; at equal times the latest goes last, and otherwise the one S3 listed later (older) first.
      entries.sort((a, b) => a.v.storedAt.getTime() - b.v.storedAt.getTime() || Number(a.latest) - Number(b.latest) || b.rank - a.rank);
      const versions = entries.map((e) => e.v);
      // The key's time is that of its first written version (what Object Lock protects); a key that holds only delete markers has the first marker's.
      const first = versions.find((v) => !v.deleteMarker) ?? versions[0]!;
      out.push({ key, storedAt: first.storedAt, versions });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async read(key: string, versionId?: string): Promise<Buffer | undefined> {
    try {
      const r = await this.o.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      if (status(e) === 404 || name(e) === 'NoSuchKey') return undefined;
      throw this.error(`read s3://${this.o.bucket}/${key}${versionId ? ` (version ${versionId})` : ''}`, e, undefined, versionId ? auditorHint : undefined);
    }
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.o.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: key }));
      return true;
    } catch (e) {
      if (status(e) === 404 || name(e) === 'NotFound' || name(e) === 'NoSuchKey') {
        // A 404 carrying x-amz-delete-marker: true is a key whose current version is a delete
        // marker ("Working with delete markers", docs.aws.amazon.com/AmazonS3/latest/userguide/
        // DeleteMarker.html): a record or bundle was there and was deleted. Writing the key again
        // would bury the evidence under a new version; the writer stops and says so instead.
        if (deleteMarker(e)) {
          throw new RefusedError(`s3://${this.o.bucket}/${key} is hidden by a delete marker: what was written there was deleted (a DELETE without a version id); nothing is written over it`,
            'run modelship audit verify: it reads the version under the marker and names the marker');
        }
        return false;
      }
      throw this.error(`look for s3://${this.o.bucket}/${key}`, e);
    }
  }

  async writeOnce(key: string, body: Buffer, contentType: string): Promise<'written' | 'exists'> {
    const checksum = createHash('sha256').update(body).digest('base64');
    // Errors of the write itself are reported as such; those of the look and the read back already say what failed.
    const ofTheWrite = new WeakSet<object>();
    let attempt = 0;
    try {
      return await retry(async () => {
        attempt++;
        // Look first: a key that is there (from an earlier attempt whose answer was lost, or from
        // another writer) is never written again, whatever the server would allow.
        if (await this.retrying(`look for s3://${this.o.bucket}/${key}`, () => this.exists(key))) return this.compare(key, body);
        try {
          const retainUntil = new Date((this.o.now ?? (() => new Date()))().getTime() + this.o.retentionDays * day);
          await this.o.client.send(new PutObjectCommand({
            Bucket: this.o.bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.length,
            ChecksumAlgorithm: 'SHA256', ChecksumSHA256: checksum,
            ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: retainUntil,
            IfNoneMatch: '*',
          }));
          // Read back: on a server that ignores If-None-Match a racing writer may have won.
          return await this.compare(key, body);
        } catch (e) {
          // 412: someone wrote the key first: read what is there.
          if (status(e) === 412) return this.compare(key, body);
          // 409 ConditionalRequestConflict: a conflicting write of the key is in flight and nothing
          // may be there yet; AWS: "On a 409 failure you should retry the upload" (PutObject,
          // If-None-Match: docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html). The retry
          // looks first, so it finds the other writer's object once that one lands.
          if (typeof e === 'object' && e !== null) ofTheWrite.add(e);
          throw e;
        }
      }, this.retryOptions((e) => retryable(e) || conditionalConflict(e)));
    } catch (e) {
      throw typeof e === 'object' && e !== null && ofTheWrite.has(e) ? this.error(`write s3://${this.o.bucket}/${key}`, e, attempt) : e;
    }
  }

  private async compare(key: string, body: Buffer): Promise<'written' | 'exists'> {
    const there = await this.retrying(`read back s3://${this.o.bucket}/${key}`, () => this.read(key));
    if (!there) throw new ExternalError('s3', `read back s3://${this.o.bucket}/${key}`, 'the object is not there although the write was accepted or refused as existing', { retryable: true });
    return there.equals(body) ? 'written' : 'exists';
  }

  private async retrying<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    let attempt = 0;
    try {
      return await retry(() => (attempt++, fn()), this.retryOptions((e) => retryable(e instanceof ExternalError ? e.cause : e)));
    } catch (e) {
      throw e instanceof ModelshipError ? e : this.error(operation, e, attempt);
    }
  }

  private retryOptions(isRetryable: (e: unknown) => boolean): RetryOptions {
    return { attempts: this.attempts, baseDelayMs: this.o.backoffMs ?? 200, retryable: isRetryable };
  }

  private async call<T>(operation: string, fn: () => Promise<T>, forbiddenHint?: string): Promise<T> {
    return this.retrying(operation, async () => {
      try {
        return await fn();
      } catch (e) {
        throw this.error(operation, e, undefined, forbiddenHint);
      }
    });
  }

  /** `forbiddenHint`: what to say on a 403 instead of the writer's permissions */
  private error(operation: string, e: unknown, attempts?: number, forbiddenHint?: string): ExternalError {
    const s = status(e);
    const message = `${name(e) ?? 'error'}${s ? ` (HTTP ${s})` : ''}: ${(e as Error).message}${attempts && attempts > 1 ? ` after ${attempts} attempts` : ''}`;
    const hint = s === 403 ? forbiddenHint ?? 'the role needs s3:PutObject, s3:PutObjectRetention, s3:GetObject and s3:ListBucket on the audit bucket'
      : name(e) === 'InvalidRequest' ? 'the audit bucket must have Object Lock enabled (it needs versioning)' : undefined;
    return new ExternalError('s3', operation, message, { cause: e, retryable: retryable(e), ...(s ? { status: s } : {}), ...(hint ? { hint } : {}) });
  }
}

function status(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function name(e: unknown): string | undefined {
  return (e as { name?: string })?.name;
}

function conditionalConflict(e: unknown): boolean {
  return status(e) === 409 && (name(e) === 'ConditionalRequestConflict' || (e as { Code?: string })?.Code === 'ConditionalRequestConflict');
}

function retryable(e: unknown): boolean {
  const s = status(e);
  if (s !== undefined) return s >= 500 || s === 429 || name(e) === 'SlowDown';
  return e instanceof Error && !(e instanceof ModelshipError); // no HTTP answer: a network failure
}

/** Whether an S3 error answer says the key's current version is a delete marker. */
function deleteMarker(e: unknown): boolean {
  const headers = (e as { $response?: { headers?: Record<string, string | undefined> } })?.$response?.headers;
  return headers?.['x-amz-delete-marker'] === 'true';
}
