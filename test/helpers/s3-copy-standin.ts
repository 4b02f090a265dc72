// A minimal in-memory S3 for the server-side copy path only. s3rver cannot test it: it answers
// UploadPartCopy with 501 and neither computes nor returns SHA-256 checksums, which is exactly
// what modelship's copy verification relies on. This handler implements just the calls that path
// makes, with S3's checksum semantics (full-object SHA-256 for PutObject and CopyObject, composite
// "<b64>-N" for multipart), and records every request. It checks no signatures and keeps no versions.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { classify, type S3Operation } from './s3.js';

interface Obj { body: Buffer; checksum?: string; checksumType?: 'FULL_OBJECT' | 'COMPOSITE'; metadata: Record<string, string> }
interface Upload { bucket: string; key: string; parts: Map<number, { body: Buffer; digest: Buffer }>; metadata: Record<string, string>; checksum: boolean }

export interface CopyStandIn {
  endpoint: string;
  objects: Map<string, Obj>;
  uploads: Map<string, Upload>;
  requests: Array<{ operation: S3Operation; path: string; query: URLSearchParams; headers: Record<string, string | string[] | undefined> }>;
  /** makes the next matching request fail with 500 */
  failNext?: S3Operation;
  put(bucket: string, key: string, body: Buffer, options?: { checksum?: boolean }): void;
  stop(): Promise<void>;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest();
const xml = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>${body}`;

export async function startCopyStandIn(): Promise<CopyStandIn> {
  const objects = new Map<string, Obj>();
  const uploads = new Map<string, Upload>();
  const state: CopyStandIn = {
    endpoint: '', objects, uploads, requests: [],
    put(bucket, key, body, options = { checksum: true }) {
      objects.set(`${bucket}/${key}`, { body, metadata: {}, ...(options.checksum ? { checksum: sha(body).toString('base64'), checksumType: 'FULL_OBJECT' as const } : {}) });
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    const [bucket, ...rest] = decodeURIComponent(url.pathname).slice(1).split('/');
    const key = rest.join('/');
    const q = url.searchParams;
    const operation = classify(req.method ?? 'GET', url.pathname, q, req.headers);
    state.requests.push({ operation, path: url.pathname, query: q, headers: req.headers });
    const send = (status: number, payload = '', headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/xml', ...headers });
      res.end(payload);
    };
    const error = (status: number, code: string) => send(status, xml(`<Error><Code>${code}</Code><Message>${code}</Message></Error>`));
    if (state.failNext === operation) {
      state.failNext = undefined;
      return error(500, 'InternalError');
    }
    const metadata = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-amz-meta-')).map(([k, v]) => [k.slice(11), String(v)]));
    const source = () => {
      const src = decodeURIComponent(String(req.headers['x-amz-copy-source'])).replace(/^\//, '');
      return objects.get(src);
    };
    switch (operation) {
      case 'HeadObject':
      case 'GetObject': {
        const o = objects.get(`${bucket}/${key}`);
        if (!o) return operation === 'HeadObject' ? send(404) : error(404, 'NoSuchKey');
        const headers: Record<string, string> = { 'content-length': String(o.body.length), etag: '"e"', 'last-modified': new Date(0).toUTCString() };
        for (const [k, v] of Object.entries(o.metadata)) headers[`x-amz-meta-${k}`] = v;
        if (o.checksum && req.headers['x-amz-checksum-mode'] === 'ENABLED') {
          headers['x-amz-checksum-sha256'] = o.checksum;
          headers['x-amz-checksum-type'] = o.checksumType!;
        }
        res.writeHead(200, headers);
        return res.end(operation === 'GetObject' ? o.body : undefined);
      }
      case 'PutObject':
        objects.set(`${bucket}/${key}`, { body, metadata, checksum: sha(body).toString('base64'), checksumType: 'FULL_OBJECT' });
        return send(200, '', { etag: '"e"' });
      case 'CopyObject': {
        const o = source();
        if (!o) return error(404, 'NoSuchKey');
        const checksum = sha(o.body).toString('base64');
        objects.set(`${bucket}/${key}`, { body: o.body, metadata, checksum, checksumType: 'FULL_OBJECT' });
        return send(200, xml(`<CopyObjectResult><ETag>"e"</ETag><ChecksumSHA256>${checksum}</ChecksumSHA256><ChecksumType>FULL_OBJECT</ChecksumType></CopyObjectResult>`));
      }
      case 'CreateMultipartUpload': {
        const id = randomUUID();
        uploads.set(id, { bucket: bucket!, key, parts: new Map(), metadata, checksum: req.headers['x-amz-checksum-algorithm'] === 'SHA256' });
        return send(200, xml(`<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`));
      }
      case 'UploadPartCopy': {
        const u = uploads.get(q.get('uploadId')!);
        const o = source();
        if (!u || !o) return error(404, u ? 'NoSuchKey' : 'NoSuchUpload');
        const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers['x-amz-copy-source-range']));
        const part = m ? o.body.subarray(Number(m[1]), Number(m[2]) + 1) : o.body;
        const digest = sha(part);
        u.parts.set(Number(q.get('partNumber')), { body: part, digest });
        return send(200, xml(`<CopyPartResult><ETag>"p${q.get('partNumber')}"</ETag>${u.checksum ? `<ChecksumSHA256>${digest.toString('base64')}</ChecksumSHA256>` : ''}</CopyPartResult>`));
      }
      case 'CompleteMultipartUpload': {
        const u = uploads.get(q.get('uploadId')!);
        if (!u) return error(404, 'NoSuchUpload');
        const numbers = [...u.parts.keys()].sort((a, b) => a - b);
        const parts = numbers.map((n) => u.parts.get(n)!);
        const composite = `${createHash('sha256').update(Buffer.concat(parts.map((p) => p.digest))).digest('base64')}-${parts.length}`;
        objects.set(`${u.bucket}/${u.key}`, { body: Buffer.concat(parts.map((p) => p.body)), metadata: u.metadata, ...(u.checksum ? { checksum: composite, checksumType: 'COMPOSITE' as const } : {}) });
        uploads.delete(q.get('uploadId')!);
        return send(200, xml(`<CompleteMultipartUploadResult><Bucket>${u.bucket}</Bucket><Key>${u.key}</Key><ETag>"c"</ETag></CompleteMultipartUploadResult>`));
      }
      case 'AbortMultipartUpload':
        uploads.delete(q.get('uploadId')!);
        return send(204);
      case 'DeleteObject':
        objects.delete(`${bucket}/${key}`);
        return send(204);
      default:
        return error(501, 'NotImplemented');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
