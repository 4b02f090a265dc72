// The sandbox's S3 checksum layer does what S3 does and s3rver does not (tools/sandbox/s3-checksums.ts):
// refuses a body whose SHA-256 differs from the one sent, keeps and returns the checksum, computes
// the copy's, refuses If-None-Match: * on an existing key, and refuses a signed payload hash or a
// Content-MD5 that differs from the body.
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

/** A PutObject whose x-amz-content-sha256 / Content-MD5 headers are set after the SDK built the request (signed with them). */
function putWithHeaders(Key: string, body: Buffer, headers: Record<string, string>) {
  const command = new PutObjectCommand({ Bucket: 'b', Key, Body: body });
  command.middlewareStack.add((next) => (args) => {
    Object.assign((args.request as { headers: Record<string, string> }).headers, headers);
    return next(args);
  }, { step: 'build' });
  return client.send(command);
}

t.test('a signed payload hash that differs from the body is refused with XAmzContentSHA256Mismatch; the right one passes and is hashed once with the checksum', async (t) => {
  const body = Buffer.from('signed bytes');
  const hex = createHash('sha256').update(body).digest('hex');
  const other = createHash('sha256').update('other').digest('hex');
  await t.rejects(putWithHeaders('signed-wrong', body, { 'x-amz-content-sha256': other }),
    { name: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." });
  t.equal((await client.send(new HeadObjectCommand({ Bucket: 'b', Key: 'signed-wrong' })).catch((e: Error) => e.name)), 'NotFound', 'nothing stored');
  s3.layerStats.sha256Bytes = 0;
  await putWithHeaders('signed', body, { 'x-amz-content-sha256': hex, 'x-amz-checksum-sha256': b64(body) });
  t.equal(s3.layerStats.sha256Bytes, body.length, 'one SHA-256 of the body checked both headers');
  t.equal((await head('signed')).ChecksumSHA256, b64(body));
  await putWithHeaders('unsigned', body, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
  t.equal((await client.send(new HeadObjectCommand({ Bucket: 'b', Key: 'unsigned' }))).ContentLength, body.length, 'UNSIGNED-PAYLOAD is not a hash to check');
});

t.test('a Content-MD5 that differs from the body is refused with BadDigest; the right one passes', async (t) => {
  const body = Buffer.from('md5 bytes');
  const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');
  await t.rejects(putWithHeaders('md5-wrong', body, { 'content-md5': md5('other') }),
    { name: 'BadDigest', message: 'The Content-MD5 you specified did not match what was received.' });
  s3.layerStats.md5Bytes = 0;
  await putWithHeaders('md5', body, { 'content-md5': md5(body) });
  t.equal(s3.layerStats.md5Bytes, body.length);
  t.equal((await client.send(new HeadObjectCommand({ Bucket: 'b', Key: 'md5' }))).ContentLength, body.length);
});
