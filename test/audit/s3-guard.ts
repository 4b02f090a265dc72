// A recording proxy in front of s3rver for the audit store's tests. It records every request
// with its headers and body digest (so tests assert what s3rver ignores: Object Lock, checksums,
// If-None-Match), and it can do what real S3 does and s3rver does not: refuse a PUT with
// If-None-Match: * on an existing key (412), one key at a time. It also injects faults: answer
// with an error, or forward the write and then drop the answer (a write that landed but whose
// response was lost).
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface GuardedRequest {
  method: string;
  bucket: string;
  key: string;
  query: string;
  headers: IncomingHttpHeaders;
  bodySha256: string;
  status?: number;
}

export type GuardFault = (r: GuardedRequest) => 'pass' | 'drop-answer' | { status: number; code: string };

export interface S3Guard {
  endpoint: string;
  requests: GuardedRequest[];
  fault: GuardFault;
  /** enforce If-None-Match like S3 (default) or ignore it like s3rver */
  enforceIfNoneMatch: boolean;
  puts(): GuardedRequest[];
  stop(): Promise<void>;
}

export async function startGuard(upstream: string, client: S3Client): Promise<S3Guard> {
  const target = new URL(upstream);
  const locks = new Map<string, Promise<void>>();
  const guard: S3Guard = {
    endpoint: '', requests: [], fault: () => 'pass', enforceIfNoneMatch: true,
    puts: () => guard.requests.filter((r) => r.method === 'PUT'),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const record: GuardedRequest = {
        method: req.method ?? 'GET', bucket, key: decodeURIComponent(rest.join('/')), query: url.search, headers: req.headers,
        bodySha256: createHash('sha256').update(body).digest('base64'),
      };
      guard.requests.push(record);
      const answer = (status: number, code: string) => {
        record.status = status;
        res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>from the test's S3 guard</Message></Error>`);
      };
      const forward = (onAnswer?: () => void) => new Promise<void>((done) => {
        const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (u) => {
          record.status = u.statusCode;
          const parts: Buffer[] = [];
          u.on('data', (c: Buffer) => parts.push(c));
          u.on('end', () => {
            if (onAnswer) onAnswer();
            else res.writeHead(u.statusCode ?? 502, u.headers).end(Buffer.concat(parts));
            done();
          });
        });
        up.on('error', () => {
          res.destroy();
          done();
        });
        up.end(body);
      });
      const decision = guard.fault(record);
      if (typeof decision === 'object') return answer(decision.status, decision.code);
      if (decision === 'drop-answer') return void forward(() => res.socket?.destroy());
      if (req.method !== 'PUT' || req.headers['if-none-match'] !== '*' || !guard.enforceIfNoneMatch) return void forward();
      // One conditional write per key at a time, as S3 serialises them.
      const id = `${bucket}/${record.key}`;
      const before = locks.get(id) ?? Promise.resolve();
      const mine = before.then(async () => {
        const exists = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: record.key })).then(() => true, () => false);
        if (exists) answer(412, 'PreconditionFailed');
        else await forward();
      });
      locks.set(id, mine);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  guard.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return guard;
}
