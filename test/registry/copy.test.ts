// Registering a run that is already in S3: the artifact is copied inside S3, never downloaded,
// and its digest is verified by the checksum S3 computes. The positive paths run against a
// minimal copy stand-in (test/helpers/s3-copy-standin.ts), because s3rver returns no checksums
// and answers UploadPartCopy with 501; the last test runs against s3rver behind the sandbox's checksum layer.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { ExternalError, RefusedError } from '../../src/errors.js';
import { register } from '../../src/registry/register.js';
import { ArtifactStore, s3Client } from '../../src/adapters/s3/store.js';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { ops, startTestS3 } from '../helpers/s3.js';
import { startCopyStandIn, type CopyStandIn } from '../helpers/s3-copy-standin.js';

process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';

const prefix = 'fraud-detector/run-8812/';

// The repository may be a copy of the first one made (makeReleaseRepo's reuse): copying reads and
// writes files and objects, never when a commit was made.
async function stage(t: Test, options: { artifactBytes?: number; claimed?: string; sourceChecksum?: boolean } = {}) {
  const standIn = await startCopyStandIn();
  t.teardown(() => standIn.stop());
  const repo = makeReleaseRepo({ reuse: true });
  t.teardown(repo.cleanup);
  const run = makeRun(options.artifactBytes ? { artifactBytes: options.artifactBytes } : {});
  const meta = run.metadata();
  if (options.claimed) {
    meta.artifact.sha256 = options.claimed;
    run.writeMetadata(meta);
  }
  for (const f of ['metadata.json', 'validation-report.json']) standIn.put('acme-training', prefix + f, readFileSync(join(run.dir, f)));
  standIn.put('acme-training', prefix + meta.artifact.file, readFileSync(join(run.dir, meta.artifact.file)), { checksum: options.sourceChecksum ?? false });
  const client = s3Client({ endpoint: standIn.endpoint, maxAttempts: 1 });
  t.teardown(() => client.destroy());
  const store = new ArtifactStore(client);
  const go = (extra: Partial<Parameters<typeof register>[0]> = {}) =>
    register({ root: repo.root, source: `s3://acme-training/${prefix}`, partSize: 5, concurrency: 2, ...extra }, store);
  return { standIn, repo, run, go };
}

const manifestPath = (root: string) => join(root, 'models/fraud-detector/versions/2026.11.20-1.yaml');
const downloadsOfArtifact = (s: CopyStandIn) => s.requests.filter((r) => r.operation === 'GetObject' && !/\.json$/.test(r.path) && !r.path.includes('/manifests/'));

t.test('one CopyObject; S3 computes the SHA-256 of the copy and it matches', async (t) => {
  const { standIn, repo, run, go } = await stage(t);
  const r = await go();
  t.equal(r.status, 'registered');
  t.equal(r.artifact.transfer, 'copied');
  const copy = standIn.requests.filter((q) => q.operation === 'CopyObject');
  t.equal(copy.length, 1);
  t.equal(copy[0]!.headers['x-amz-copy-source'], `acme-training/${prefix}model.json`);
  t.equal(copy[0]!.headers['x-amz-checksum-algorithm'], 'SHA256', 'S3 is asked to compute the checksum of the copy');
  t.same(downloadsOfArtifact(standIn), [], 'the artifact is never downloaded');
  const manifest = parse(readFileSync(manifestPath(repo.root), 'utf8'));
  t.equal(manifest.artifact.storeChecksum, Buffer.from(run.sha256, 'hex').toString('base64'));
  t.equal(manifest.sourceRun, `s3://acme-training/${prefix}`);
});

t.test('a copy whose SHA-256 differs from metadata.json is deleted and refused', async (t) => {
  const { standIn, repo, go } = await stage(t, { claimed: 'e'.repeat(64) });
  await t.rejects(go(), RefusedError);
  await t.rejects(go(), /the artifact's sha256 in S3 is [0-9a-f]{64}, but metadata\.json says e{64}; the copy was deleted and nothing was registered/);
  t.notOk(standIn.objects.has(`acme-model-registry/fraud-detector/${'e'.repeat(64)}/model.json`), 'the copy is gone');
  t.ok(standIn.requests.some((q) => q.operation === 'DeleteObject'));
  t.notOk(existsSync(manifestPath(repo.root)));
});

t.test('a large artifact is copied in parts with UploadPartCopy and verified by the source checksum', async (t) => {
  const { standIn, repo, run, go } = await stage(t, { artifactBytes: 3 * 1024 * 1024 + 17, sourceChecksum: true });
  const r = await go({ singleCopyLimit: 1024 * 1024 });
  t.equal(r.artifact.transfer, 'copied');
  const parts = standIn.requests.filter((q) => q.operation === 'UploadPartCopy');
  t.equal(parts.length, 4, '3 MiB + 17 bytes in 1 MiB parts');
  t.same(parts.map((p) => p.headers['x-amz-copy-source-range']).sort(), [
    'bytes=0-1048575', 'bytes=1048576-2097151', 'bytes=2097152-3145727', 'bytes=3145728-3145744',
  ]);
  t.same(downloadsOfArtifact(standIn), []);
  const stored = standIn.objects.get(`acme-model-registry/fraud-detector/${run.sha256}/model.json`)!;
  t.equal(createHash('sha256').update(stored.body).digest('hex'), run.sha256, 'the copy is the artifact');
  t.match(r.warnings.join('\n'), /verified against the source object's SHA-256 checksum/);
  t.match(parse(readFileSync(manifestPath(repo.root), 'utf8')).artifact.storeChecksum, /^[A-Za-z0-9+/]{43}=-4$/, 'the composite checksum S3 reports');
});

t.test('a multipart copy that fails part-way is aborted', async (t) => {
  const { standIn, repo, go } = await stage(t, { artifactBytes: 3 * 1024 * 1024, sourceChecksum: true });
  standIn.failNext = 'CompleteMultipartUpload';
  await t.rejects(go({ singleCopyLimit: 1024 * 1024 }), ExternalError);
  t.equal(standIn.requests.filter((q) => q.operation === 'AbortMultipartUpload').length, 1);
  t.equal(standIn.uploads.size, 0, 'no multipart upload left behind');
  t.notOk(existsSync(manifestPath(repo.root)));
});

t.test('without a full-object checksum from S3, the digest cannot be verified: refused, copy deleted', async (t) => {
  const { standIn, repo, go } = await stage(t, { artifactBytes: 3 * 1024 * 1024, sourceChecksum: false });
  await t.rejects(go({ singleCopyLimit: 1024 * 1024 }), /S3 reported no full-object SHA-256 for the copy or its source, so the artifact's digest cannot be verified without downloading it/);
  t.equal([...standIn.objects.keys()].filter((k) => k.startsWith('acme-model-registry/') && k.endsWith('model.json')).length, 0);
  t.notOk(existsSync(manifestPath(repo.root)));
});

t.test('against s3rver behind the sandbox\'s checksum layer (S3\'s CopyObject checksum), the copy is verified without downloading', async (t) => {
  const s3 = await startTestS3();
  t.teardown(() => s3.stop());
  const repo = makeReleaseRepo({ reuse: true });
  t.teardown(repo.cleanup);
  const run = makeRun();
  for (const f of ['metadata.json', 'validation-report.json', 'model.json']) {
    await s3.client.send(new PutObjectCommand({ Bucket: 'acme-training', Key: prefix + f, Body: readFileSync(join(run.dir, f)) }));
  }
  s3.requests.length = 0;
  const r = await runCli(['register', `s3://acme-training/${prefix}`, '-C', repo.root], { env: s3.env });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /copied within S3, sha256 verified/);
  t.equal(ops(s3, 'CopyObject').length, 1, 'copied inside S3');
  t.equal(ops(s3, 'CopyObject')[0]!.headers['x-amz-checksum-algorithm'], 'SHA256');
  t.equal(ops(s3, 'GetObject').filter((g) => g.path.endsWith('model.json')).length, 0, 'never downloaded');
  t.ok(existsSync(manifestPath(repo.root)));
});

