// S3 for tests: s3rver on loopback (the real server), behind a small recording proxy that can
// inject faults, so tests can assert what the SDK sent (including what s3rver ignores, such as
// checksums) and simulate interrupted uploads.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3rver, type RunningS3 } from '../../tools/sandbox/s3rver.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export type S3Operation =
  | 'CreateMultipartUpload' | 'UploadPart' | 'UploadPartCopy' | 'CompleteMultipartUpload' | 'AbortMultipartUpload'
  | 'PutObject' | 'CopyObject' | 'HeadObject' | 'GetObject' | 'DeleteObject' | 'ListObjects' | 'Other';

export interface RecordedS3Request {
  operation: S3Operation;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  status?: number;
}

/** Decides what happens to a request: forward it, fail it with a status, or drop the connection. */
export type Fault = (r: RecordedS3Request) => 'pass' | 'reset' | { status: number; code: string } | { delayMs: number };

export function classify(method: string, path: string, query: URLSearchParams, headers: IncomingMessage['headers']): S3Operation {
  if (method === 'POST' && query.has('uploads')) return 'CreateMultipartUpload';
  if (method === 'PUT' && query.has('partNumber')) return headers['x-amz-copy-source'] ? 'UploadPartCopy' : 'UploadPart';
  if (method === 'POST' && query.has('uploadId')) return 'CompleteMultipartUpload';
  if (method === 'DELETE' && query.has('uploadId')) return 'AbortMultipartUpload';
  if (method === 'PUT' && headers['x-amz-copy-source']) return 'CopyObject';
  if (method === 'PUT' && path.split('/').filter(Boolean).length > 1) return 'PutObject';
  if (method === 'HEAD') return 'HeadObject';
  if (method === 'GET' && (query.has('list-type') || path.split('/').filter(Boolean).length === 1)) return 'ListObjects';
  if (method === 'GET') return 'GetObject';
  if (method === 'DELETE') return 'DeleteObject';
  return 'Other';
}

export interface TestS3 {
  /** the proxy's address: give this to the code under test */
  endpoint: string;
  server: RunningS3;
  requests: RecordedS3Request[];
  fault: Fault;
  client: S3Client;
  /** keys in a bucket */
  keys(bucket: string): Promise<string[]>;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** `versioned`: the buckets with versioning enabled, as an audit bucket under Object Lock has (tools/sandbox/s3-versions.ts). */
export async function startTestS3(buckets = ['acme-model-registry', 'acme-training'], options: { versioned?: string[] } = {}): Promise<TestS3> {
  const server = await startS3rver({ buckets, ...(options.versioned ? { versioned: options.versioned } : {}) });
  const target = new URL(server.endpoint);
  const requests: RecordedS3Request[] = [];
  const state: TestS3 = {
    endpoint: '', server, requests, fault: () => 'pass',
    client: undefined as unknown as S3Client,
    keys: async (bucket) => {
      const r = await state.client.send(new ListObjectsV2Command({ Bucket: bucket }));
      return (r.Contents ?? []).map((o) => o.Key!).sort();
    },
    env: {},
    stop: async () => {
      state.client.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await server.stop();
    },
  };
  const proxy: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const record: RecordedS3Request = {
      operation: classify(req.method ?? 'GET', url.pathname, url.searchParams, req.headers),
      method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers,
    };
    requests.push(record);
    const decision = state.fault(record);
    if (decision === 'reset') {
      req.resume();
      req.socket.destroy();
      return;
    }
    if (typeof decision === 'object' && 'status' in decision) {
      // like S3, read the whole request before answering, so the client sees the status, not EPIPE
      req.resume();
      req.on('end', () => {
        record.status = decision.status;
        res.writeHead(decision.status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${decision.code}</Code><Message>injected by the test</Message></Error>`);
      });
      return;
    }
    const forward = () => {
      const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        record.status = up.statusCode;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    };
    if (typeof decision === 'object' && 'delayMs' in decision) setTimeout(forward, decision.delayMs);
    else forward();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  state.endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  state.client = new S3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, credentials: server.credentials });
  state.env = {
    MODELSHIP_S3_ENDPOINT: state.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  return state;
}

/** The requests of one kind, in order. */
export function ops(s3: TestS3, operation: S3Operation): RecordedS3Request[] {
  return s3.requests.filter((r) => r.operation === operation);
}

/**
 * s3rver holding what the checker reads: the example versions' artifacts in the registry and
 * the production dbt manifest where the policies name it (s3://acme-dbt-artifacts/prod/).
 */
export async function startCheckerS3(options: { seedArtifacts?: boolean } = {}): Promise<TestS3> {
  const s3 = await startTestS3(['acme-model-registry', 'acme-training', 'acme-dbt-artifacts']);
  if (options.seedArtifacts !== false) {
    const { seedExampleArtifacts } = await import('./runs.js');
    await seedExampleArtifacts(s3.env);
  }
  await s3.client.send(new PutObjectCommand({
    Bucket: 'acme-dbt-artifacts', Key: 'prod/manifest.json', Body: readFileSync(new URL('../fixtures/dbt/manifest-v12.json', import.meta.url)),
  }));
  return s3;
}
