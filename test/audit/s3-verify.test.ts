// `audit verify` on S3, end to end through the CLI, against the attacks Object Lock does not stop:
// a DELETE without a version id (a delete marker over a record or a bundle) and a PUT of other
// bytes over a record (a new version over it); each trail on a versioned S3 of its own (s3rver
// behind tools/sandbox/s3-versions.ts), written at its story times so S3's LastModified agrees
// with each record's recordedAt. The store's listing itself: s3-versions.test.ts.
import { DeleteObjectCommand, GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import t, { type Test } from 'tap';
import { S3Store } from '../../src/adapters/s3/audit-store.js';
import { s3Client } from '../../src/adapters/s3/store.js';
import { runCli } from '../helpers/cli.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';
import { mirrorCommit, standardTrail, type Trail } from './history.js';

Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' });

/** The standard trail's four records mirrored to a versioned S3 of its own, each at its story time (S3's LastModified agrees with the record's recordedAt). */
async function trailOnVersionedS3(t: Test): Promise<{ s3: TestS3; tr: Trail; key: (seq: number) => string }> {
  const own = await startTestS3(['acme-audit'], { versioned: ['acme-audit'] });
  t.teardown(() => own.stop());
  const tr = await standardTrail({ mirror: false });
  t.teardown(tr.cleanup);
  const st = new S3Store({ client: s3Client({ endpoint: own.endpoint, maxAttempts: 1 }), bucket: 'acme-audit', prefix: 'modelship', retentionDays: 2555, backoffMs: 5 });
  const { policy, canary, promote, chargeback } = tr.commits;
  for (const [commit, when] of [[policy, '2026-11-10T09:04:20Z'], [canary, '2026-11-16T10:04:20Z'], [promote, '2026-11-18T10:04:20Z'], [chargeback, '2026-11-19T14:04:20Z']] as const) {
    own.server.versions!.now = () => new Date(when);
    t.same((await mirrorCommit(tr.h, st, commit, { now: when, prefix: 'modelship' })).written.length, 1);
  }
  return { s3: own, tr, key: (seq) => `modelship/production/records/${String(seq).padStart(12, '0')}.dsse.json` };
}
const verifyCli = (s3: TestS3, tr: Trail) => runCli(['audit', 'verify', '-C', tr.h.repo.root], { env: s3.env });

t.test('audit verify on S3: a clean trail verifies through ListObjectVersions, S3\'s times agreeing with the records\'', async (t) => {
  const { s3: own, tr } = await trailOnVersionedS3(t);
  const before = own.requests.length;
  const v = await verifyCli(own, tr);
  t.equal(v.code, 0, v.stdout + v.stderr);
  t.match(v.stdout, /^production: OK: 4 records verified \(seq 0 to 3, head sha256 [0-9a-f]{12}\)\n/);
  const lists = own.requests.slice(before).filter((r) => r.operation === 'ListObjects');
  t.same(lists.map((r) => [r.query.has('versions'), r.query.get('prefix')]).sort(), [[true, 'modelship/production/bundles/'], [true, 'modelship/production/records/']], 'records and bundles listed with their versions, nothing else listed');
  // Without s3:ListBucketVersions: exit 3, and the hint says what the auditor needs.
  own.fault = (r) => (r.query.has('versions') ? { status: 403, code: 'AccessDenied' } : 'pass');
  const denied = await verifyCli(own, tr);
  t.equal(denied.code, 3);
  t.match(denied.stderr, /^error: s3: list s3:\/\/acme-audit\/modelship\/production\/(records|bundles)\/: AccessDenied \(HTTP 403\): injected by the test/);
  t.match(denied.stderr, "\nhint: verify needs s3:ListBucketVersions on the audit bucket and s3:GetObjectVersion on its objects (it lists every version and delete marker, and reads a record's first version)\n");
});

t.test('audit verify on S3: a delete marker over the newest record (a DELETE without a version id, which Object Lock allows) is tampering; the record under it is still read', async (t) => {
  const { s3: own, tr, key } = await trailOnVersionedS3(t);
  own.server.versions!.now = () => new Date('2026-11-25T08:00:00Z');
  await own.client.send(new DeleteObjectCommand({ Bucket: 'acme-audit', Key: key(3) }));
  t.notOk((await own.keys('acme-audit')).includes(key(3)), 'the record is gone from ListObjectsV2');
  const before = own.requests.length;
  const v = await verifyCli(own, tr);
  t.equal(v.code, 1, v.stderr);
  t.equal(v.stdout, 'production: FAILED: 1 problem in 4 records\n' +
    `  error: record 3 (${key(3)}) is hidden by a delete marker written at 2026-11-25T08:00:00.000Z (a DELETE without a version id): it was deleted; verify read the version under it\n`);
  const reads = own.requests.slice(before).filter((r) => r.operation === 'GetObject' && r.path.endsWith(key(3)));
  t.same(reads.map((r) => r.query.has('versionId')), [true], 'read once, by the version id of the record under the marker');
  const json = JSON.parse((await runCli(['audit', 'verify', '--json', '-C', tr.h.repo.root], { env: own.env })).stdout);
  t.match(json, { ok: false, environments: [{ environment: 'production', findings: [{ severity: 'error', seq: 3 }] }] });
});

t.test('after a delete marker over the newest record the next mirror does not write over it: it stops and says why; verify names the marker and still reads the record', async (t) => {
  const { s3: own, tr, key } = await trailOnVersionedS3(t);
  own.server.versions!.now = () => new Date('2026-11-25T08:00:00Z');
  await own.client.send(new DeleteObjectCommand({ Bucket: 'acme-audit', Key: key(3) }));
  const st = new S3Store({ client: s3Client({ endpoint: own.endpoint, maxAttempts: 1 }), bucket: 'acme-audit', prefix: 'modelship', retentionDays: 2555, backoffMs: 5 });
  own.server.versions!.now = () => new Date('2026-11-25T09:00:00Z');
  // ListObjectsV2 no longer shows seq 3, so mirror takes it for free; the look before the write (HeadObject: 404 with x-amz-delete-marker) stops it.
  await t.rejects(mirrorCommit(tr.h, st, tr.commits.chargeback, { now: '2026-11-25T09:00:00Z', prefix: 'modelship' }), {
    name: 'RefusedError',
    message: `s3://acme-audit/${key(3)} is hidden by a delete marker: what was written there was deleted (a DELETE without a version id); nothing is written over it`,
  });
  t.same((await own.client.send(new ListObjectVersionsCommand({ Bucket: 'acme-audit', Prefix: key(3) }))).Versions?.length, 1, 'no version written over the record');
  const v = await verifyCli(own, tr);
  t.equal(v.code, 1, v.stderr);
  t.equal(v.stdout, 'production: FAILED: 1 problem in 4 records\n' +
    `  error: record 3 (${key(3)}) is hidden by a delete marker written at 2026-11-25T08:00:00.000Z (a DELETE without a version id): it was deleted; verify read the version under it\n`);
});

t.test('audit verify on S3: a version written over a record (PUT without If-None-Match) is tampering; the chain verifies from the first version', async (t) => {
  const { s3: own, tr, key } = await trailOnVersionedS3(t);
  const original = (await own.client.send(new GetObjectCommand({ Bucket: 'acme-audit', Key: key(1) }))).Body!;
  const forged = Buffer.from((await original.transformToString()).replace(/"payload":"/, '"payload":"x'));
  own.server.versions!.now = () => new Date('2026-11-21T12:00:00Z');
  await own.client.send(new PutObjectCommand({ Bucket: 'acme-audit', Key: key(1), Body: forged }));
  const v = await verifyCli(own, tr);
  t.equal(v.code, 1, v.stderr);
  t.equal(v.stdout, 'production: FAILED: 1 problem in 4 records\n' +
    `  error: record 1 (${key(1)}) was overwritten: 2 versions, the first written at 2026-11-16T10:04:20.000Z, the newest at 2026-11-21T12:00:00.000Z; verify read the first\n`,
  'no broken signature or chain: the first version was read, and record 2\'s prev matches it');
});

t.test('audit verify on S3: a delete marker over a record\'s git bundle is tampering too; the bundle under it is read', async (t) => {
  const { s3: own, tr } = await trailOnVersionedS3(t);
  const bundle = `modelship/production/bundles/${tr.commits.promote}.bundle`; // record 2's
  t.ok((await own.keys('acme-audit')).includes(bundle));
  own.server.versions!.now = () => new Date('2026-11-27T08:00:00Z');
  await own.client.send(new DeleteObjectCommand({ Bucket: 'acme-audit', Key: bundle }));
  const v = await verifyCli(own, tr);
  t.equal(v.code, 1, v.stderr);
  t.equal(v.stdout, 'production: FAILED: 1 problem in 4 records\n' +
    `  error: record 2 (commit ${tr.commits.promote.slice(0, 12)}): bundle ${bundle} is hidden by a delete marker written at 2026-11-27T08:00:00.000Z (a DELETE without a version id): it was deleted; verify read the version under it\n`);
});

t.test('audit verify on S3: a record key holding only a delete marker says there is nothing to read', async (t) => {
  const { s3: own, tr, key } = await trailOnVersionedS3(t);
  own.server.versions!.now = () => new Date('2026-11-26T08:00:00Z');
  await own.client.send(new DeleteObjectCommand({ Bucket: 'acme-audit', Key: key(4) }));
  const v = await verifyCli(own, tr);
  t.equal(v.code, 1, v.stderr);
  t.equal(v.stdout, 'production: FAILED: 1 problem in 4 records\n' +
    `  error: record 4 (${key(4)}) has no version to read, only a delete marker written at 2026-11-26T08:00:00.000Z (a DELETE without a version id)\n`);
});
