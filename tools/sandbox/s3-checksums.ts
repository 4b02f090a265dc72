// What S3 does with SHA-256 checksums and conditional writes, in front of s3rver (which ignores
// both). Real S3, as documented in "Checking object integrity"
// (docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html) and the
// PutObject / CopyObject / CompleteMultipartUpload / HeadObject API references:
// - a PutObject or UploadPart with x-amz-checksum-sha256 is refused with 400 BadDigest when the
//   body's SHA-256 differs, and otherwise the checksum is kept with the object;
// - a CopyObject with x-amz-checksum-algorithm: SHA256 gets the full-object SHA-256 of the copy,
//   computed by S3 and returned in CopyObjectResult;
// - a multipart object whose parts carry SHA-256 checksums gets the composite checksum
//   base64(sha256(part digests))-N, type COMPOSITE;
// - HeadObject / GetObject with x-amz-checksum-mode: ENABLED return x-amz-checksum-sha256 and
//   x-amz-checksum-type, and nothing when the object was stored without a SHA-256 checksum
//   (since 2025 S3 defaults to CRC64NVME, which is not a SHA-256);
// - a PutObject with If-None-Match: * on a key that exists is refused with 412 PreconditionFailed;
// - a signed payload (x-amz-content-sha256 holding the body's hex SHA-256, "Signature Calculations
//   for the Authorization Header", docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html)
//   that differs from the body is refused with 400 XAmzContentSHA256Mismatch, and a Content-MD5
//   that differs with 400 BadDigest (PutObject / UploadPart API references; error codes in
//   docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). UNSIGNED-PAYLOAD and the
//   STREAMING-* values are not hashes and are left alone. Each digest of a body is computed once,
//   however many headers it is compared with; `stats` counts the bytes hashed, so a benchmark can
//   show what this stand-in's verification cost each client.
// Everything else is forwarded to s3rver unchanged (signatures stay valid: headers and body are
// passed as received). Checksums are kept in memory, for the life of this process.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

interface Checksum { value: string; type: 'FULL_OBJECT' | 'COMPOSITE' }

export interface ChecksumLayer {
  endpoint: string;
  /** bytes this layer hashed to verify request bodies, by algorithm (reset by the caller at will) */
  stats: { sha256Bytes: number; md5Bytes: number };
  stop(): Promise<void>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const md5 = (b: Buffer) => createHash('md5').update(b).digest();

export async function startChecksumLayer(upstream: string, dir: string): Promise<ChecksumLayer> {
  const target = new URL(upstream);
  const checksums = new Map<string, Checksum>();
  /** uploadId -> whether the upload was created with ChecksumAlgorithm SHA256 */
  const uploads = new Map<string, boolean>();
  const stats = { sha256Bytes: 0, md5Bytes: 0 };
  // s3rver's file-system layout (lib/stores/filesystem.js getResourcePath): <dir>/<bucket>/<key>._S3rver_object
  const objectFile = (bucket: string, key: string) => join(dir, bucket, `${key}._S3rver_object`);

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch(() => res.destroy());
    });
  });

  function error(res: ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/xml' })
      .end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  }

  const forward = (req: IncomingMessage, body: Buffer) => forwardRequest(target, req, body);

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const id = `${bucket}/${key}`;
    const method = req.method ?? 'GET';
    const q = url.searchParams;
    const sent = req.headers['x-amz-checksum-sha256'] as string | undefined;
    const copySource = req.headers['x-amz-copy-source'] as string | undefined;
    const isObjectPut = method === 'PUT' && key !== '' && !q.has('partNumber') && !q.has('uploadId') && !copySource;

    const signedPayload = req.headers['x-amz-content-sha256'] as string | undefined;
    const contentMd5 = req.headers['content-md5'] as string | undefined;
    let bodySha256: Buffer | undefined;
    const bodyDigest = () => {
      if (!bodySha256) {
        stats.sha256Bytes += body.length;
        bodySha256 = sha256(body);
      }
      return bodySha256;
    };
    if (signedPayload && /^[0-9a-f]{64}$/i.test(signedPayload) && bodyDigest().toString('hex') !== signedPayload.toLowerCase()) {
      return error(res, 400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    if (contentMd5 !== undefined) {
      stats.md5Bytes += body.length;
      if (md5(body).toString('base64') !== contentMd5) return error(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what was received.');
    }
    if ((isObjectPut || (method === 'PUT' && q.has('partNumber') && !copySource)) && sent && bodyDigest().toString('base64') !== sent) {
      return error(res, 400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
    }
    if (method === 'PUT' && key !== '' && !q.has('partNumber') && req.headers['if-none-match'] === '*' && existsSync(objectFile(bucket, key))) {
      return error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
    }

    const up = await forward(req, body);
    let answer = up.body;
    const headers = { ...up.headers };
    const ok = up.status >= 200 && up.status < 300;
    if (ok && isObjectPut) {
      if (sent) checksums.set(id, { value: sent, type: 'FULL_OBJECT' });
      else checksums.delete(id);
    } else if (ok && method === 'PUT' && copySource && !q.has('partNumber')) {
      if (req.headers['x-amz-checksum-algorithm'] === 'SHA256') {
        const value = sha256(readFileSync(objectFile(bucket, key))).toString('base64');
        checksums.set(id, { value, type: 'FULL_OBJECT' });
        answer = Buffer.from(answer.toString('utf8').replace('</CopyObjectResult>', `<ChecksumSHA256>${value}</ChecksumSHA256><ChecksumType>FULL_OBJECT</ChecksumType></CopyObjectResult>`));
      } else checksums.delete(id);
    } else if (ok && method === 'POST' && q.has('uploads')) {
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(answer.toString('utf8'))?.[1];
      if (uploadId) uploads.set(uploadId, req.headers['x-amz-checksum-algorithm'] === 'SHA256');
    } else if (ok && method === 'POST' && q.has('uploadId')) {
      const digests = [...body.toString('utf8').matchAll(/<ChecksumSHA256>([^<]+)<\/ChecksumSHA256>/g)].map((m) => Buffer.from(m[1]!, 'base64'));
      const parts = [...body.toString('utf8').matchAll(/<Part>/g)].length;
      if (uploads.get(q.get('uploadId')!) && digests.length === parts && parts > 0) {
        checksums.set(id, { value: `${sha256(Buffer.concat(digests)).toString('base64')}-${parts}`, type: 'COMPOSITE' });
      } else checksums.delete(id);
      uploads.delete(q.get('uploadId')!);
    } else if (ok && method === 'DELETE' && !q.has('uploadId')) {
      checksums.delete(id);
    } else if (ok && (method === 'HEAD' || method === 'GET') && req.headers['x-amz-checksum-mode'] === 'ENABLED') {
      const c = checksums.get(id);
      if (c) {
        headers['x-amz-checksum-sha256'] = c.value;
        headers['x-amz-checksum-type'] = c.type;
      }
    }
    if (answer !== up.body) {
      delete headers['content-length'];
      delete headers['transfer-encoding'];
      headers['content-length'] = String(answer.length);
    }
    res.writeHead(up.status, headers).end(method === 'HEAD' ? undefined : answer);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** An upstream's answer, whole. */
export interface Upstream { status: number; headers: IncomingMessage['headers']; body: Buffer }

/** Sends a request on to the server behind a layer as it came (method, path, headers, body) and reads the whole answer. */
export function forwardRequest(target: URL, req: IncomingMessage, body: Buffer): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      const parts: Buffer[] = [];
      r.on('data', (c: Buffer) => parts.push(c));
      r.on('end', () => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: Buffer.concat(parts) }));
      r.on('error', reject);
    });
    up.on('error', reject);
    up.end(body);
  });
}
