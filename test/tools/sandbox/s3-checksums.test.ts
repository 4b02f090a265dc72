// The sandbox's S3 checksum layer does what S3 does and s3rver does not (tools/sandbox/s3-checksums.ts):
// refuses a body whose SHA-256 differs from the one sent, keeps and returns the checksum, computes
// the copy's, and refuses If-None-Match: * on an existing key.
import { createHash } from 'node:crypto';
import t from 'tap';
import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3rver, type RunningS3 } from '../../../tools/sandbox/s3rver.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
let s3: RunningS3;
let client: S3Client;
t.before(async () => {
  s3 = await startS3rver({ buckets: ['b'] });
  client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3.credentials, requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 1 });
});
t.teardown(async () => { client.destroy(); await s3.stop(); });

const b64 = (b: Buffer) => createHash('sha256').update(b).digest('base64');
const head = (Key: string) => client.send(new HeadObjectCommand({ Bucket: 'b', Key, ChecksumMode: 'ENABLED' }));

t.test('a PutObject with its SHA-256 keeps it; HEAD with checksum mode returns it; a wrong one is refused with BadDigest', async (t) => {
  const body = Buffer.from('model bytes');
  await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'a', Body: body, ChecksumSHA256: b64(body) }));
  const h = await head('a');
  t.equal(h.ChecksumSHA256, b64(body));
  t.equal(h.ChecksumType, 'FULL_OBJECT');
  await t.rejects(client.send(new PutObjectCommand({ Bucket: 'b', Key: 'wrong', Body: body, ChecksumSHA256: b64(Buffer.from('other')) })), { name: 'BadDigest' });
  await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'none', Body: body }));
  t.equal((await head('none')).ChecksumSHA256, undefined, 'stored without a SHA-256: none reported');
});

t.test('CopyObject with ChecksumAlgorithm SHA256 gets the copy\'s full-object SHA-256', async (t) => {
  const body = Buffer.from('copied bytes');
  await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'src', Body: body }));
  const r = await client.send(new CopyObjectCommand({ Bucket: 'b', Key: 'dst', CopySource: 'b/src', ChecksumAlgorithm: 'SHA256' }));
  t.equal(r.CopyObjectResult?.ChecksumSHA256, b64(body));
  t.equal((await head('dst')).ChecksumSHA256, b64(body));
});

t.test('If-None-Match: * on an existing key is refused with 412 and the object is kept', async (t) => {
  const body = Buffer.from('first');
  await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'once', Body: body, ChecksumSHA256: b64(body), IfNoneMatch: '*' }));
  const second = Buffer.from('second');
  await t.rejects(client.send(new PutObjectCommand({ Bucket: 'b', Key: 'once', Body: second, ChecksumSHA256: b64(second), IfNoneMatch: '*' })),
    { name: 'PreconditionFailed' });
  t.equal((await head('once')).ChecksumSHA256, b64(body));
});
