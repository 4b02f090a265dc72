// A bucket with versioning enabled, in front of s3rver (which keeps one copy of each key and has
// no versions). Object Lock requires versioning, so the audit bucket always has it; what real S3
// then does, and what this layer does for the buckets it is given:
// - every PUT of an object makes a new version with its own x-amz-version-id; a PUT over an
//   existing key (without If-None-Match) makes a new current version and keeps the old one, even
//   when the old one is under Object Lock ("Retention periods and legal holds don't prevent new
//   versions of the object from being created, or delete markers from being added on top of the
//   object", docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html);
// - a DELETE without a version id removes nothing: it adds a delete marker, a new version with no
//   data that becomes the current one, and answers 204 with x-amz-delete-marker: true and the
//   marker's x-amz-version-id; the key then is absent from ListObjectsV2 and a GET without a
//   version id is 404 NoSuchKey, with x-amz-delete-marker: true ("Working with delete markers",
//   docs.aws.amazon.com/AmazonS3/latest/userguide/DeleteMarker.html; DeleteObject and GetObject
//   API references);
// - a DELETE with a version id removes that version for good, unless it is under Object Lock
//   retention: then 403 AccessDenied ("In compliance mode, a protected object version can't be
//   overwritten or deleted by any user", object-lock.html); a delete marker is never locked;
// - GET/HEAD ?versionId= return that version (x-amz-version-id), 404 NoSuchVersion for an unknown
//   id, 405 MethodNotAllowed with x-amz-delete-marker: true for a delete marker (GetObject API
//   reference, docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html);
// - GET /bucket?versions is ListObjectVersions (docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html):
//   a ListVersionsResult with Version and DeleteMarker entries (Key, VersionId, IsLatest,
//   LastModified, ETag, Size), keys in UTF-8 binary order and each key's versions "in the order in
//   which they were stored, with the most recently stored returned first"
//   (docs.aws.amazon.com/AmazonS3/latest/userguide/list-obj-version-enabled-bucket.html); Prefix,
//   Delimiter and CommonPrefixes (a common prefix counts as one entry against max-keys); max-keys
//   (default 1000) with key-marker / version-id-marker (continue after that key, or after that
//   version of it) and, when truncated, NextKeyMarker / NextVersionIdMarker naming the last entry
//   returned; version-id-marker without key-marker is 400 InvalidArgument.
// s3rver keeps the bytes of each key's current version (PUTs and plain GETs, HEADs and listings
// are forwarded to it, so its signature checks and this layer's neighbours still apply), this
// layer every version's bytes and times. Its clock is settable (`now`), so a test can write at a
// story time and S3's LastModified agrees with it; the times s3rver reports (ListObjectsV2's
// LastModified, a GET's Last-Modified) are replaced by the layer's. Multipart uploads and copies
// into a versioned bucket are not part of it: 501 NotImplemented, never a silent unversioned write.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { forwardRequest } from './s3-checksums.js';

interface Version {
  versionId: string;
  deleteMarker: boolean;
  lastModified: Date;
  etag?: string;
  body?: Buffer;
  /** what S3 returns with the version: content type, checksum, Object Lock */
  headers: Record<string, string>;
  /** Object Lock retention of this version, when it has one */
  retainUntil?: Date;
}

export interface VersioningLayer {
  endpoint: string;
  /** the layer's clock: the LastModified of every version and delete marker it writes from now on */
  now: () => Date;
  /** the most entries one ListObjectVersions page holds: 1000 in S3 whatever max-keys asks for; tests lower it to see pages */
  maxKeys: number;
  stop(): Promise<void>;
}


const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const unxml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
/** UTF-8 binary order, as S3 sorts keys */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
/** S3's version ids are opaque URL-safe strings of 32 characters */
const newVersionId = () => randomBytes(24).toString('base64url');

export async function startVersioningLayer(options: {
  upstream: string;
  /** the buckets with versioning enabled; requests for others pass through unchanged */
  buckets: string[];
  /** s3rver's credentials: the layer writes a key's bytes back to s3rver when the version over it is removed */
  credentials: { accessKeyId: string; secretAccessKey: string };
}): Promise<VersioningLayer> {
  const target = new URL(options.upstream);
  const versioned = new Set(options.buckets);
  /** `${bucket}/${key}` -> versions, oldest first */
  const store = new Map<string, Version[]>();
  const upstreamClient = new S3Client({ region: 'us-east-1', endpoint: options.upstream, forcePathStyle: true, credentials: options.credentials, maxAttempts: 1 });
  const layer: VersioningLayer = { endpoint: '', now: () => new Date(), maxKeys: 1000, stop: async () => undefined };

  const forward = (req: IncomingMessage, body: Buffer) => forwardRequest(target, req, body);

  function send(res: ServerResponse, method: string, status: number, headers: OutgoingHttpHeaders, body: Buffer = Buffer.alloc(0)): void {
    const h: OutgoingHttpHeaders = { ...headers };
    delete h['transfer-encoding'];
    // A HEAD forwarded from s3rver has no body but the object's length: kept.
    if (method !== 'HEAD' || body.length > 0 || h['content-length'] === undefined) h['content-length'] = String(body.length);
    res.writeHead(status, h).end(method === 'HEAD' ? undefined : body);
  }

  function error(res: ServerResponse, method: string, status: number, code: string, message: string, headers: OutgoingHttpHeaders = {}): void {
    send(res, method, status, { ...headers, 'content-type': 'application/xml' },
      Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`));
  }

  const current = (versions: Version[] | undefined) => versions?.[versions.length - 1];

  /** The key's bytes in s3rver follow its current version (none when that is a delete marker). */
  async function syncUpstream(bucket: string, key: string): Promise<void> {
    const latest = current(store.get(`${bucket}/${key}`));
    if (latest && !latest.deleteMarker) {
      await upstreamClient.send(new PutObjectCommand({
        Bucket: bucket, Key: key, Body: latest.body, ...(latest.headers['content-type'] ? { ContentType: latest.headers['content-type'] } : {}),
        ...(latest.headers['x-amz-checksum-sha256'] ? { ChecksumSHA256: latest.headers['x-amz-checksum-sha256'] } : {}),
      }));
    } else {
      await upstreamClient.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
  }

  function listVersions(res: ServerResponse, bucket: string, q: URLSearchParams): void {
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const keyMarker = q.get('key-marker') ?? '';
    const versionIdMarker = q.get('version-id-marker') ?? '';
    const url = q.get('encoding-type') === 'url';
    const maxKeys = q.has('max-keys') ? Number(q.get('max-keys')) : 1000;
    if (!Number.isInteger(maxKeys) || maxKeys < 0) return error(res, 'GET', 400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range');
    if (versionIdMarker && !keyMarker) return error(res, 'GET', 400, 'InvalidArgument', 'A version-id marker cannot be specified without a key marker.');
    const enc = (s: string) => xml(url ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
    type Item = { kind: 'prefix'; key: string } | { kind: 'version'; key: string; v: Version; latest: boolean };
    const items: Item[] = [];
    const keys = [...store.keys()].filter((id) => id.startsWith(`${bucket}/`)).map((id) => id.slice(bucket.length + 1))
      .filter((k) => k.startsWith(prefix) && store.get(`${bucket}/${k}`)!.length > 0).sort(byBytes);
    for (const key of keys) {
      const rest = key.slice(prefix.length);
      const at = delimiter ? rest.indexOf(delimiter) : -1;
      if (at >= 0) {
        const common = prefix + rest.slice(0, at + delimiter.length);
        // after a key marker: a common prefix at or before it was listed already
        if (keyMarker && byBytes(common, keyMarker) <= 0) continue;
        if (items[items.length - 1]?.key !== common || items[items.length - 1]?.kind !== 'prefix') items.push({ kind: 'prefix', key: common });
        continue;
      }
      const order = byBytes(key, keyMarker);
      if (keyMarker && order < 0) continue;
      if (keyMarker && order === 0 && !versionIdMarker) continue;
      const versions = [...store.get(`${bucket}/${key}`)!].reverse(); // newest first
      let from = 0;
      if (keyMarker && order === 0) {
        const i = versions.findIndex((v) => v.versionId === versionIdMarker);
        from = i < 0 ? versions.length : i + 1;
      }
      versions.forEach((v, i) => {
        if (i >= from) items.push({ kind: 'version', key, v, latest: i === 0 });
      });
    }
    const page = items.slice(0, Math.min(maxKeys, layer.maxKeys));
    const truncated = items.length > page.length;
    const last = page[page.length - 1];
    const parts = [
      `<Name>${xml(bucket)}</Name>`, `<Prefix>${enc(prefix)}</Prefix>`, `<KeyMarker>${enc(keyMarker)}</KeyMarker>`, `<VersionIdMarker>${xml(versionIdMarker)}</VersionIdMarker>`,
      ...(truncated && last ? [`<NextKeyMarker>${enc(last.key)}</NextKeyMarker>`, ...(last.kind === 'version' ? [`<NextVersionIdMarker>${xml(last.v.versionId)}</NextVersionIdMarker>`] : [])] : []),
      `<MaxKeys>${maxKeys}</MaxKeys>`, ...(delimiter ? [`<Delimiter>${enc(delimiter)}</Delimiter>`] : []), ...(url ? ['<EncodingType>url</EncodingType>'] : []),
      `<IsTruncated>${truncated}</IsTruncated>`,
    ];
    const owner = '<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>S3rver</DisplayName></Owner>';
    for (const it of page) {
      if (it.kind === 'prefix') parts.push(`<CommonPrefixes><Prefix>${enc(it.key)}</Prefix></CommonPrefixes>`);
      else if (it.v.deleteMarker) {
        parts.push(`<DeleteMarker><Key>${enc(it.key)}</Key><VersionId>${xml(it.v.versionId)}</VersionId><IsLatest>${it.latest}</IsLatest><LastModified>${it.v.lastModified.toISOString()}</LastModified>${owner}</DeleteMarker>`);
      } else {
        parts.push(`<Version><Key>${enc(it.key)}</Key><VersionId>${xml(it.v.versionId)}</VersionId><IsLatest>${it.latest}</IsLatest><LastModified>${it.v.lastModified.toISOString()}</LastModified><ETag>${xml(it.v.etag ?? '')}</ETag><Size>${it.v.body?.length ?? 0}</Size>${owner}<StorageClass>STANDARD</StorageClass></Version>`);
      }
    }
    send(res, 'GET', 200, { 'content-type': 'application/xml' },
      Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts.join('')}</ListVersionsResult>`));
  }

  function versionHeaders(v: Version): OutgoingHttpHeaders {
    return { ...v.headers, 'x-amz-version-id': v.versionId, 'last-modified': v.lastModified.toUTCString(), ...(v.etag ? { etag: v.etag } : {}), 'accept-ranges': 'bytes' };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const method = req.method ?? 'GET';
    const q = url.searchParams;
    const pass = async () => {
      const up = await forward(req, body);
      send(res, method, up.status, up.headers, up.body);
    };
    if (!versioned.has(bucket)) return pass();
    const id = `${bucket}/${key}`;
    const versions = store.get(id);
    const latest = current(versions);

    if (key === '') {
      if (method === 'GET' && q.has('versions')) return listVersions(res, bucket, q);
      const up = await forward(req, body);
      if (method === 'GET' && up.status === 200 && !q.has('uploads') && !q.has('location')) {
        // ListObjects(V2): the time of each key is its current version's, on this layer's clock.
        const text = up.body.toString('utf8').replace(/<Key>([^<]*)<\/Key><LastModified>[^<]*<\/LastModified>/g, (whole, k: string) => {
          const v = current(store.get(`${bucket}/${unxml(k)}`));
          return v ? `<Key>${k}</Key><LastModified>${v.lastModified.toISOString()}</LastModified>` : whole;
        });
        return send(res, method, up.status, up.headers, Buffer.from(text, 'utf8'));
      }
      return send(res, method, up.status, up.headers, up.body);
    }

    if (method === 'POST' || (method === 'PUT' && (q.has('partNumber') || q.has('uploadId') || req.headers['x-amz-copy-source']))) {
      return error(res, method, 501, 'NotImplemented', 'multipart uploads and copies into a versioned bucket are not part of the test stand-in\'s versioning layer');
    }

    if (method === 'PUT') {
      if (q.has('retention') || q.has('legal-hold') || q.has('tagging') || q.has('acl')) return pass();
      const up = await forward(req, body);
      if (up.status < 200 || up.status >= 300) return send(res, method, up.status, up.headers, up.body);
      const kept: Record<string, string> = {};
      for (const h of ['content-type', 'x-amz-checksum-sha256', 'x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date', 'x-amz-object-lock-legal-hold']) {
        const value = req.headers[h];
        if (typeof value === 'string') kept[h] = value;
      }
      if (kept['x-amz-checksum-sha256']) kept['x-amz-checksum-type'] = 'FULL_OBJECT';
      const until = kept['x-amz-object-lock-retain-until-date'];
      const v: Version = {
        versionId: newVersionId(), deleteMarker: false, lastModified: layer.now(), body, headers: kept,
        ...(typeof up.headers.etag === 'string' ? { etag: up.headers.etag } : {}), ...(until ? { retainUntil: new Date(until) } : {}),
      };
      store.set(id, [...(versions ?? []), v]);
      return send(res, method, up.status, { ...up.headers, 'x-amz-version-id': v.versionId }, up.body);
    }

    const versionId = q.get('versionId');
    if ((method === 'GET' || method === 'HEAD') && !q.has('retention') && !q.has('legal-hold') && !q.has('tagging') && !q.has('acl')) {
      if (versionId !== null) {
        const v = versions?.find((x) => x.versionId === versionId);
        if (!v) return error(res, method, 404, 'NoSuchVersion', 'The specified version does not exist.');
        if (v.deleteMarker) {
          return error(res, method, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.',
            { 'x-amz-delete-marker': 'true', 'x-amz-version-id': v.versionId, 'last-modified': v.lastModified.toUTCString() });
        }
        const headers = versionHeaders(v);
        if (req.headers['x-amz-checksum-mode'] !== 'ENABLED') {
          delete headers['x-amz-checksum-sha256'];
          delete headers['x-amz-checksum-type'];
        }
        return send(res, method, 200, headers, v.body ?? Buffer.alloc(0));
      }
      if (latest?.deleteMarker) {
        return error(res, method, 404, 'NoSuchKey', 'The specified key does not exist.', { 'x-amz-delete-marker': 'true', 'x-amz-version-id': latest.versionId });
      }
      const up = await forward(req, body);
      const headers = { ...up.headers };
      if (latest && up.status >= 200 && up.status < 300) {
        headers['x-amz-version-id'] = latest.versionId;
        headers['last-modified'] = latest.lastModified.toUTCString();
      }
      return send(res, method, up.status, headers, up.body);
    }

    if (method === 'DELETE') {
      if (versionId === null) {
        const up = await forward(req, body);
        if (up.status < 200 || up.status >= 300) return send(res, method, up.status, up.headers, up.body);
        const marker: Version = { versionId: newVersionId(), deleteMarker: true, lastModified: layer.now(), headers: {} };
        store.set(id, [...(versions ?? []), marker]);
        return send(res, method, 204, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId });
      }
      const i = versions?.findIndex((x) => x.versionId === versionId) ?? -1;
      if (i < 0) return send(res, method, 204, { 'x-amz-version-id': versionId });
      const v = versions![i]!;
      if (!v.deleteMarker && v.retainUntil && v.retainUntil.getTime() > layer.now().getTime()) {
        return error(res, method, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
      }
      const wasCurrent = i === versions!.length - 1;
      versions!.splice(i, 1);
      if (wasCurrent) await syncUpstream(bucket, key);
      return send(res, method, 204, { 'x-amz-version-id': v.versionId, ...(v.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}) });
    }
    return pass();
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  layer.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  layer.stop = () => new Promise<void>((resolve) => {
    upstreamClient.destroy();
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return layer;
}
