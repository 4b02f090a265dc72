// The sandbox's versioning layer behaves as an S3 bucket with versioning enabled, as the real SDK
// sees it (tools/sandbox/s3-versions.ts cites the AWS pages): a version per PUT, a delete marker
// per DELETE without a version id (even over a version under Object Lock), GET by version id,
// 405 for a delete marker's id, 403 for removing a locked version, ListObjectVersions with
// prefix, delimiter and pages; buckets not named stay plain s3rver.
import t from 'tap';
import {
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type ListObjectVersionsCommandOutput,
} from '@aws-sdk/client-s3';
import { startS3rver, type RunningS3 } from '../../../tools/sandbox/s3rver.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
let s3: RunningS3;
let client: S3Client;
t.before(async () => {
  s3 = await startS3rver({ buckets: ['v', 'plain'], versioned: ['v'] });
  client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3.credentials, requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 1 });
});
t.teardown(async () => { client.destroy(); await s3.stop(); });

const put = (Key: string, Body: string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) => client.send(new PutObjectCommand({ Bucket: 'v', Key, Body, ...extra }));
const text = async (Key: string, VersionId?: string) => (await client.send(new GetObjectCommand({ Bucket: 'v', Key, ...(VersionId ? { VersionId } : {}) }))).Body!.transformToString();
const status = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const fail = <T>(p: Promise<T>) => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as Error & { $response?: { headers: Record<string, string> } });
const at = (iso: string) => (s3.versions!.now = () => new Date(iso));

t.test('PUT makes versions, DELETE adds a marker over a locked version, a GET by id still reads it, the marker\'s id is 405', async (t) => {
  t.teardown(() => (s3.versions!.now = () => new Date()));
  at('2026-11-10T09:00:00.000Z');
  const first = await put('k', 'one', { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date('2033-01-01T00:00:00Z'), IfNoneMatch: '*' });
  t.ok(first.VersionId, 'a version id');
  at('2026-11-11T09:00:00.000Z');
  const second = await put('k', 'two'); // no If-None-Match: a new current version over the locked one
  t.not(second.VersionId, first.VersionId);
  t.equal(await text('k'), 'two');
  t.equal(await text('k', first.VersionId), 'one');
  const listed = await client.send(new ListObjectsV2Command({ Bucket: 'v' }));
  t.same(listed.Contents?.map((o) => [o.Key, o.LastModified?.toISOString()]), [['k', '2026-11-11T09:00:00.000Z']], 'ListObjectsV2: the current version, at the layer\'s time');
  at('2026-11-12T09:00:00.000Z');
  const marker = await client.send(new DeleteObjectCommand({ Bucket: 'v', Key: 'k' }));
  t.equal(marker.DeleteMarker, true);
  t.ok(marker.VersionId);
  const gone = await fail(text('k'));
  t.equal(gone.name, 'NoSuchKey');
  t.equal(gone.$response?.headers['x-amz-delete-marker'], 'true');
  t.same((await client.send(new ListObjectsV2Command({ Bucket: 'v' }))).Contents ?? [], [], 'hidden from ListObjectsV2');
  t.equal(await text('k', first.VersionId), 'one', 'the locked version is still there');
  const head = await client.send(new HeadObjectCommand({ Bucket: 'v', Key: 'k', VersionId: first.VersionId }));
  t.equal(head.ContentLength, 3);
  t.equal(head.ObjectLockMode, 'COMPLIANCE');
  const onMarker = await fail(text('k', marker.VersionId));
  t.equal(status(onMarker), 405);
  t.equal((await fail(text('k', 'no-such-version'))).name, 'NoSuchVersion');
  // Removing the locked version is refused; removing the marker brings the current version back.
  t.equal(status(await fail(client.send(new DeleteObjectCommand({ Bucket: 'v', Key: 'k', VersionId: first.VersionId })))), 403);
  const unmark = await client.send(new DeleteObjectCommand({ Bucket: 'v', Key: 'k', VersionId: marker.VersionId }));
  t.equal(unmark.DeleteMarker, true);
  t.equal(await text('k'), 'two');
  // A DELETE of a key that never held anything adds a marker all the same.
  const nothing = await client.send(new DeleteObjectCommand({ Bucket: 'v', Key: 'never' }));
  t.equal(nothing.DeleteMarker, true);
  const v = await client.send(new ListObjectVersionsCommand({ Bucket: 'v' }));
  t.same(v.Versions?.map((x) => [x.Key, x.VersionId, x.IsLatest, x.LastModified?.toISOString(), x.Size]), [
    ['k', second.VersionId, true, '2026-11-11T09:00:00.000Z', 3], ['k', first.VersionId, false, '2026-11-10T09:00:00.000Z', 3],
  ], 'newest first');
  t.same(v.DeleteMarkers?.map((x) => [x.Key, x.VersionId, x.IsLatest]), [['never', nothing.VersionId, true]]);
  t.equal(v.Versions?.[0]?.ETag, second.ETag);
});

t.test('ListObjectVersions: prefix, delimiter and common prefixes, pages by key-marker and version-id-marker', async (t) => {
  t.teardown(() => (s3.versions!.maxKeys = 1000));
  for (const k of ['p/a', 'p/b', 'p/sub/x', 'p/sub/y', 'p/c']) {
    await put(k, `${k} 1`);
    await put(k, `${k} 2`);
  }
  await client.send(new DeleteObjectCommand({ Bucket: 'v', Key: 'p/b' }));
  const all = await client.send(new ListObjectVersionsCommand({ Bucket: 'v', Prefix: 'p/', Delimiter: '/' }));
  t.same(all.CommonPrefixes?.map((c) => c.Prefix), ['p/sub/']);
  t.same(all.Versions?.map((x) => x.Key), ['p/a', 'p/a', 'p/b', 'p/b', 'p/c', 'p/c']);
  t.same(all.DeleteMarkers?.map((x) => [x.Key, x.IsLatest]), [['p/b', true]]);
  t.equal(all.IsTruncated, false);
  // Pages of 2 by max-keys, then of 2 by the layer's cap (S3's is 1000).
  const pages: ListObjectVersionsCommandOutput[] = [];
  let page: ListObjectVersionsCommandOutput | undefined;
  do {
    page = await client.send(new ListObjectVersionsCommand({
      Bucket: 'v', Prefix: 'p/', Delimiter: '/', MaxKeys: 2,
      ...(page ? { KeyMarker: page.NextKeyMarker, ...(page.NextVersionIdMarker ? { VersionIdMarker: page.NextVersionIdMarker } : {}) } : {}),
    }));
    pages.push(page);
  } while (page.IsTruncated && pages.length < 10);
  t.equal(pages.length, 4, '8 entries (7 versions and markers, 1 common prefix), 2 a page');
  const seen = pages.flatMap((p) => [...(p.Versions ?? []).map((x) => x.VersionId), ...(p.DeleteMarkers ?? []).map((x) => x.VersionId)]);
  t.same(seen.sort(), [...(all.Versions ?? []).map((x) => x.VersionId), ...(all.DeleteMarkers ?? []).map((x) => x.VersionId)].sort(), 'every entry once');
  t.same(pages.flatMap((p) => p.CommonPrefixes?.map((c) => c.Prefix) ?? []), ['p/sub/']);
  t.same([pages[0]!.NextKeyMarker, pages[0]!.NextVersionIdMarker], ['p/a', all.Versions![1]!.VersionId], 'the last entry returned');
  s3.versions!.maxKeys = 2;
  t.equal((await client.send(new ListObjectVersionsCommand({ Bucket: 'v', Prefix: 'p/' }))).IsTruncated, true, 'a page never holds more than the cap');
  const bad = await fail(client.send(new ListObjectVersionsCommand({ Bucket: 'v', VersionIdMarker: 'x' })));
  t.equal(bad.name, 'InvalidArgument');
});

t.test('a bucket not named is plain s3rver: no version ids', async (t) => {
  const r = await client.send(new PutObjectCommand({ Bucket: 'plain', Key: 'k', Body: 'x' }));
  t.equal(r.VersionId, undefined);
});
