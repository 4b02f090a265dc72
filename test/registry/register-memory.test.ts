// `modelship register` keeps the parts it holds in memory within 96 MiB, whatever --part-size and
// --concurrency say: a part size over the limit is refused before anything is sent, and more
// parts at once than fit are lowered, with a note before the upload starts. The real CLI, s3rver
// behind the sandbox's checksum layer and a recording proxy.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { ops, startTestS3, type TestS3 } from '../helpers/s3.js';

let s3: TestS3;
t.before(async () => {
  s3 = await startTestS3();
});
t.teardown(() => s3.stop());

const registry = 'acme-model-registry';
const MiB = 1024 * 1024;

t.test('a --part-size over 96 MiB is refused with exit 2 before anything is sent', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const run = makeRun();
  s3.requests.length = 0;
  const r = await runCli(['register', run.dir, '-C', repo.root, '--part-size', '200'], { env: s3.env });
  t.equal(r.code, 2, r.stderr);
  t.equal(r.stderr.trim(), 'error: --part-size 200 is over the limit of 96 MiB: register holds the parts it is sending in memory, at most 96 MiB');
  t.equal(s3.requests.length, 0, 'no request reached S3');
  t.equal(repo.git('status', '--porcelain'), '', 'the repository is untouched');
});

t.test('more parts at once than fit in 96 MiB are lowered, with a note first; the upload is complete and verified', async (t) => {
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const run = makeRun({ artifactBytes: 100 * MiB + 7 });
  s3.requests.length = 0;
  // Each part is held a moment at the proxy, so parts sent together overlap there.
  let inFlight = 0;
  let most = 0;
  s3.fault = (r) => {
    if (r.operation !== 'UploadPart') return 'pass';
    inFlight = ops(s3, 'UploadPart').filter((p) => p.status === undefined).length;
    most = Math.max(most, inFlight);
    return { delayMs: 300 };
  };
  t.teardown(() => { s3.fault = () => 'pass'; });
  const r = await runCli(['register', run.dir, '-C', repo.root, '--part-size', '48', '--concurrency', '4', '--json'], { env: s3.env });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /^note: uploading 2 parts of 48 MiB at a time, not 4: register holds the parts in flight in memory, at most 96 MiB\n/);
  const parts = ops(s3, 'UploadPart');
  t.equal(parts.length, 3, '100 MiB in 48 MiB parts');
  t.equal(most, 2, 'never more than 2 parts in flight');
  for (const p of parts) {
    t.equal(p.headers['x-amz-content-sha256'], Buffer.from(p.headers['x-amz-checksum-sha256'] as string, 'base64').toString('hex'),
      `part ${p.query.get('partNumber')}: one SHA-256, sent as its checksum and its signed payload hash`);
  }
  t.equal(ops(s3, 'AbortMultipartUpload').length, 0);
  const out = JSON.parse(r.stdout);
  t.equal(out.artifact.sha256, run.sha256);
  const stored = await s3.client.send(new GetObjectCommand({ Bucket: registry, Key: `fraud-detector/${run.sha256}/model.json` }));
  const hash = createHash('sha256');
  for await (const chunk of stored.Body as AsyncIterable<Buffer>) hash.update(chunk);
  t.equal(hash.digest('hex'), run.sha256, 'the stored object is the artifact, byte for byte (the reused part buffers did not mix parts)');
  t.ok(existsSync(join(repo.root, out.manifest)));
});
