// The audit store on a versioned S3 bucket (Object Lock requires versioning), through the real
// AWS SDK against s3rver behind the versioning layer (tools/sandbox/s3-versions.ts): objects()
// lists every version and delete marker through ListObjectVersions, page by page, and reads a
// version by its id; its failures name what is wrong. `audit verify` on it: s3-verify.test.ts.
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { S3Store } from '../../src/adapters/s3/audit-store.js';
import { s3Client } from '../../src/adapters/s3/store.js';
import { ExternalError } from '../../src/errors.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';

let s3: TestS3;
t.before(async () => {
  s3 = await startTestS3(['acme-audit'], { versioned: ['acme-audit'] });
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' });
});
t.teardown(() => s3.stop());

const layer = () => s3.server.versions!;
/** The stand-in's clock at a story time (S3's LastModified of what is written next). */
const at = (iso: string) => (layer().now = () => new Date(iso));
/** Each test leaves the stand-in as it found it. */
const restore = (t: { teardown(fn: () => void): void }) => t.teardown(() => {
  layer().now = () => new Date();
  layer().maxKeys = 1000;
  s3.fault = () => 'pass';
});

let prefixes = 0;
const store = (prefix = `versions-${++prefixes}`) => new S3Store({ client: s3Client({ endpoint: s3.endpoint, maxAttempts: 1 }), bucket: 'acme-audit', prefix, retentionDays: 2555, backoffMs: 5 });
const folderOf = (st: S3Store) => `${st.location.replace('s3://acme-audit/', '')}/production/records/`;
const put = async (key: string, body: string) => (await s3.client.send(new PutObjectCommand({ Bucket: 'acme-audit', Key: key, Body: body }))).VersionId!;
const del = async (key: string) => (await s3.client.send(new DeleteObjectCommand({ Bucket: 'acme-audit', Key: key }))).VersionId!;
const listings = () => s3.requests.filter((r) => r.operation === 'ListObjects' && r.query.has('versions'));

t.test('objects() lists every version and delete marker of each key, oldest first, with the first version\'s time; read() takes a version id', async (t) => {
  restore(t);
  const st = store();
  const folder = folderOf(st);
  const [a, b, c] = ['000000000000.dsse.json', '000000000001.dsse.json', '000000000002.dsse.json'].map((n) => folder + n) as [string, string, string];
  at('2026-11-10T09:05:00.000Z');
  t.equal(await st.writeOnce(a, Buffer.from('record 0'), 'application/json'), 'written');
  at('2026-11-10T09:06:00.000Z');
  t.equal(await st.writeOnce(b, Buffer.from('record 1'), 'application/json'), 'written');
  at('2026-11-11T12:00:00.000Z');
  const over = await put(a, 'record 0, rewritten'); // a new version over it: s3:PutObject without If-None-Match
  at('2026-11-12T12:00:00.000Z');
  const marker = await del(a); // a delete marker over both
  at('2026-11-13T12:00:00.000Z');
  const only = await del(c); // a DELETE of a key that held nothing still adds a marker
  await put(`${folder}deeper/x.json`, 'not directly under the folder');
  const before = listings().length;
  const objects = await st.objects(folder);
  t.equal(listings().length - before, 1, 'one ListObjectVersions page');
  t.same(objects.map((o) => o.key), [a, b, c], 'sorted by key; the deeper key is a common prefix, not listed');
  const [oa, ob, oc] = objects as [typeof objects[0], typeof objects[0], typeof objects[0]];
  t.same(oa.storedAt?.toISOString(), '2026-11-10T09:05:00.000Z', 'the time of the first written version');
  t.same(oa.versions!.map((v) => [v.storedAt.toISOString(), v.deleteMarker]), [
    ['2026-11-10T09:05:00.000Z', false], ['2026-11-11T12:00:00.000Z', false], ['2026-11-12T12:00:00.000Z', true],
  ]);
  t.same(oa.versions!.slice(1).map((v) => v.versionId), [over, marker]);
  t.same(ob.versions!.map((v) => [v.storedAt.toISOString(), v.deleteMarker]), [['2026-11-10T09:06:00.000Z', false]]);
  t.same([oc.storedAt?.toISOString(), oc.versions!.map((v) => [v.versionId, v.deleteMarker])], ['2026-11-13T12:00:00.000Z', [[only, true]]], 'only a marker: listed, with the marker\'s time');
  t.same(await st.list(folder), [b], 'ListObjectsV2 does not show a key under a delete marker');
  t.equal(await st.read(a), undefined, 'a plain GET of a key under a delete marker finds nothing');
  t.equal((await st.read(a, oa.versions![0]!.versionId))?.toString(), 'record 0', 'the first version, by its id');
  t.equal((await st.read(a, over))?.toString(), 'record 0, rewritten');
  t.equal(await st.read(c), undefined);
});

t.test('objects() reads every page (key-marker and version-id-marker), a key\'s versions split across pages', async (t) => {
  restore(t);
  const st = store();
  const folder = folderOf(st);
  const keys = [0, 1, 2, 3, 4].map((n) => `${folder}${String(n).padStart(12, '0')}.dsse.json`);
  for (const [i, k] of keys.entries()) {
    at(`2026-11-1${i}T10:00:00.000Z`);
    await st.writeOnce(k, Buffer.from(`record ${i}`), 'application/json');
    if (i % 2 === 0) {
      at(`2026-11-1${i}T11:00:00.000Z`);
      await put(k, `over ${i}`);
      at(`2026-11-1${i}T12:00:00.000Z`);
      await del(k);
    }
  }
  const whole = await st.objects(folder);
  layer().maxKeys = 2;
  const before = listings().length;
  const paged = await st.objects(folder);
  const pages = listings().slice(before);
  t.equal(pages.length, 6, '11 entries, 2 a page');
  t.same(pages.map((p) => [p.query.get('key-marker'), p.query.has('version-id-marker')]).slice(0, 3), [[null, false], [keys[0], true], [keys[1], true]],
    'each page continues after the last entry of the one before, by key and version id');
  t.same(paged, whole, 'the same objects, versions and times as in one page');
  t.same(paged.map((o) => o.versions!.length), [3, 1, 3, 1, 3]);
  t.same(paged[2]!.versions!.map((v) => v.storedAt.toISOString()), ['2026-11-12T10:00:00.000Z', '2026-11-12T11:00:00.000Z', '2026-11-12T12:00:00.000Z']);
});

t.test('listing versions refused (403): the error says what verify needs', async (t) => {
  restore(t);
  const st = store();
  s3.fault = (r) => (r.query.has('versions') ? { status: 403, code: 'AccessDenied' } : 'pass');
  const e = await st.objects(folderOf(st)).catch((x: unknown) => x);
  t.ok(e instanceof ExternalError && e.exitCode === 3);
  t.equal((e as ExternalError).message, `s3: list s3://acme-audit/${folderOf(st)}: AccessDenied (HTTP 403): injected by the test`);
  t.equal((e as ExternalError).details.hint, 'verify needs s3:ListBucketVersions on the audit bucket and s3:GetObjectVersion on its objects (it lists every version and delete marker, and reads a record\'s first version)');
});

t.test('reading a version refused (403): the error names the version and says what verify needs', async (t) => {
  restore(t);
  const st = store();
  const key = `${folderOf(st)}000000000000.dsse.json`;
  await st.writeOnce(key, Buffer.from('record 0'), 'application/json');
  const [o] = await st.objects(folderOf(st));
  const id = o!.versions![0]!.versionId;
  s3.fault = (r) => (r.operation === 'GetObject' && r.query.has('versionId') ? { status: 403, code: 'AccessDenied' } : 'pass');
  const e = await st.read(key, id).catch((x: unknown) => x);
  t.ok(e instanceof ExternalError && e.exitCode === 3);
  t.equal((e as ExternalError).message, `s3: read s3://acme-audit/${key} (version ${id}): AccessDenied (HTTP 403): injected by the test`);
  t.equal((e as ExternalError).details.hint, 'verify needs s3:ListBucketVersions on the audit bucket and s3:GetObjectVersion on its objects (it lists every version and delete marker, and reads a record\'s first version)');
  t.equal((await st.read(key))?.toString(), 'record 0', 'a plain read is not refused');
});

t.test('a truncated ListObjectVersions page that names no next marker is an error, not an endless loop', async (t) => {
  // An S3-compatible server that says "more" but not where from: answered by a few lines here.
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      '<Name>acme-audit</Name><Prefix>m/</Prefix><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>' +
      '<Version><Key>m/a</Key><VersionId>v1</VersionId><IsLatest>true</IsLatest><LastModified>2026-11-10T09:05:00.000Z</LastModified><ETag>"x"</ETag><Size>1</Size></Version></ListVersionsResult>'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const st = new S3Store({ client: s3Client({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, maxAttempts: 1 }), bucket: 'acme-audit', prefix: 'm', retentionDays: 2555, backoffMs: 5 });
  const e = await st.objects('m/').catch((x: unknown) => x);
  t.ok(e instanceof ExternalError && e.exitCode === 3);
  t.equal((e as Error).message, 's3: list s3://acme-audit/m/: a truncated page without a new NextKeyMarker (after key "", version "")');
});

