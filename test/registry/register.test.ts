// `modelship register` end to end: the real CLI, the real AWS SDK, s3rver on loopback behind a
// recording proxy, a real git repository.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { runCli, spawnCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { makeRun } from '../helpers/runs.js';
import { ops, startTestS3, type TestS3 } from '../helpers/s3.js';

let s3: TestS3;
t.before(async () => {
  s3 = await startTestS3();
});
t.teardown(() => s3.stop());
t.beforeEach(() => {
  s3.requests.length = 0;
  s3.fault = () => 'pass';
});

const registry = 'acme-model-registry';
const manifestFile = (root: string, version = '2026.11.20-1') => join(root, 'models/fraud-detector/versions', `${version}.yaml`);
const versionFiles = (root: string) => readdirSync(join(root, 'models/fraud-detector/versions')).sort();

// The repositories may be copies of the first one made (makeReleaseRepo's reuse): registering
// reads and writes files and objects, never when a commit was made.
function setup(t: Test, runOptions: Parameters<typeof makeRun>[0] = {}) {
  const repo = makeReleaseRepo({ reuse: true });
  t.teardown(repo.cleanup);
  const run = makeRun(runOptions);
  const register = (...extra: string[]) => runCli(['register', run.dir, '-C', repo.root, ...extra], { env: s3.env });
  return { repo, run, register };
}

t.test('registers a run: content-addressed artifact, verified, manifest written last', async (t) => {
  const { repo, run, register } = setup(t);
  const before = versionFiles(repo.root);
  const r = await register('--json');
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.version, '2026.11.20-1', 'version assigned from createdAt');
  t.equal(out.status, 'registered');
  t.equal(out.artifact.uri, `s3://${registry}/fraud-detector/${run.sha256}/model.json`);
  const written = readFileSync(manifestFile(repo.root));
  const digest = createHash('sha256').update(written).digest('hex');
  t.same(await s3.keys(registry), [
    `fraud-detector/${run.sha256}/model.json`,
    `fraud-detector/${out.validationReport.sha256}/validation-report.json`,
    `fraud-detector/manifests/2026.11.20-1/${digest}.yaml`,
  ].sort());
  t.same(out.registration, { uri: `s3://${registry}/fraud-detector/manifests/2026.11.20-1/${digest}.yaml`, sha256: digest },
    'the registration record: the SHA-256 of the manifest file\'s exact bytes, in its key');
  const record = await s3.client.send(new GetObjectCommand({ Bucket: registry, Key: `fraud-detector/manifests/2026.11.20-1/${digest}.yaml` }));
  t.ok(Buffer.from(await record.Body!.transformToByteArray()).equals(written), 'the record holds the manifest\'s bytes');
  // What s3rver ignores, as sent: write-once (If-None-Match: *) and S3-verified SHA-256.
  const recordPut = ops(s3, 'PutObject').find((p) => p.path.includes('/manifests/'))!;
  t.equal(recordPut.headers['if-none-match'], '*', 'the record is written once: S3 refuses an existing key');
  t.equal(recordPut.headers['x-amz-checksum-sha256'], Buffer.from(digest, 'hex').toString('base64'));
  const artifactPut = ops(s3, 'PutObject').find((p) => p.path.endsWith('/model.json'))!;
  t.equal(artifactPut.headers['x-amz-checksum-sha256'], Buffer.from(run.sha256, 'hex').toString('base64'), 'S3 verifies the artifact\'s SHA-256');
  t.equal(artifactPut.headers['x-amz-content-sha256'], run.sha256, 'the same digest is the signed payload hash: the file is hashed once');

  const manifest = parse(readFileSync(manifestFile(repo.root), 'utf8'));
  t.equal(manifest.artifact.sha256, run.sha256);
  t.equal(manifest.artifact.size, run.size);
  t.equal(manifest.metrics.overall.auc, 0.941, 'metrics come from the validation report');
  t.equal(manifest.lineage.codeCommit, run.metadata().lineage.codeCommit);
  t.same(versionFiles(repo.root), [...before, '2026.11.20-1.yaml'].sort());
  t.match(readFileSync(manifestFile(repo.root), 'utf8'), /^# yaml-language-server: \$schema=\.\.\/\.\.\/\.\.\/src\/config\/schemas\/version\.schema\.json\n/);

  // s3rver ignores checksums, so check what the SDK sent: the artifact's SHA-256, base64.
  const put = ops(s3, 'PutObject').find((p) => p.path.endsWith('/model.json'))!;
  t.equal(put.headers['x-amz-checksum-sha256'], Buffer.from(run.sha256, 'hex').toString('base64'));

  const validate = await runCli(['validate', '-C', repo.root]);
  t.equal(validate.code, 0, `the repository stays valid: ${validate.stderr}`);
});

t.test('re-running is a no-op: nothing is uploaded and the manifest is untouched', async (t) => {
  const { repo, register } = setup(t);
  t.equal((await register()).code, 0);
  const manifest = readFileSync(manifestFile(repo.root), 'utf8');
  s3.requests.length = 0;
  const again = await register();
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, /fraud-detector@2026\.11\.20-1 is already registered with this artifact; nothing to do/);
  t.same(s3.requests.filter((r) => r.method !== 'HEAD' && r.method !== 'GET').map((r) => r.operation), [], 'no write request');
  t.equal(readFileSync(manifestFile(repo.root), 'utf8'), manifest);
  t.same(versionFiles(repo.root).filter((f) => f.startsWith('2026.11.20')), ['2026.11.20-1.yaml'], 'no second version minted');
});

t.test('an artifact already in the registry is not uploaded again', async (t) => {
  const first = setup(t);
  t.equal((await first.register()).code, 0);
  // a fresh clone (no manifest yet) registering the same run: the object is reused
  const other = makeReleaseRepo({ reuse: true });
  t.teardown(other.cleanup);
  s3.requests.length = 0;
  const r = await runCli(['register', first.run.dir, '-C', other.root, '--json'], { env: s3.env });
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).artifact.transfer, 'already-stored');
  t.same(ops(s3, 'PutObject').concat(ops(s3, 'UploadPart')).filter((p) => !p.path.includes('/manifests/')), []);
  t.ok(existsSync(manifestFile(other.root)));
});

t.test('a large artifact goes up in parts, each with its own SHA-256 checksum', async (t) => {
  const { repo, run, register } = setup(t, { artifactBytes: 12 * 1024 * 1024 + 123 });
  const r = await register('--part-size', '5', '--concurrency', '2', '--json');
  t.equal(r.code, 0, r.stderr);
  const parts = ops(s3, 'UploadPart');
  t.equal(parts.length, 3, '12 MiB in 5 MiB parts');
  for (const p of parts) {
    t.match(p.headers['x-amz-checksum-sha256'], /^[A-Za-z0-9+/]{43}=$/, `part ${p.query.get('partNumber')} carries its checksum`);
    t.equal(p.headers['x-amz-content-sha256'], Buffer.from(p.headers['x-amz-checksum-sha256'] as string, 'base64').toString('hex'),
      `part ${p.query.get('partNumber')}: its checksum is also its signed payload hash (one SHA-256 per part)`);
  }
  t.equal(ops(s3, 'CreateMultipartUpload')[0]!.headers['x-amz-checksum-algorithm'], 'SHA256');
  t.equal(ops(s3, 'CompleteMultipartUpload').length, 1);
  t.equal(ops(s3, 'AbortMultipartUpload').length, 0);
  const stored = await s3.client.send(new (await import('@aws-sdk/client-s3')).GetObjectCommand({ Bucket: registry, Key: `fraud-detector/${run.sha256}/model.json` }));
  const bytes = Buffer.from(await stored.Body!.transformToByteArray());
  t.equal((await import('node:crypto')).createHash('sha256').update(bytes).digest('hex'), run.sha256, 'the stored object is the artifact, byte for byte');
  t.ok(existsSync(manifestFile(repo.root)));
});

t.test('an interrupted part upload is retried and the registration succeeds', async (t) => {
  const { repo, register } = setup(t, { artifactBytes: 11 * 1024 * 1024 });
  let dropped = 0;
  s3.fault = (r) => (r.operation === 'UploadPart' && r.query.get('partNumber') === '2' && dropped++ === 0 ? 'reset' : 'pass');
  const r = await register('--part-size', '5');
  t.equal(r.code, 0, r.stderr);
  t.equal(dropped, 2, 'part 2 was sent twice: dropped once, then retried');
  t.equal(ops(s3, 'AbortMultipartUpload').length, 0);
  t.ok(existsSync(manifestFile(repo.root)));
});

t.test('when an upload keeps failing it is aborted: no object, no manifest, exit 3', async (t) => {
  const { repo, run, register } = setup(t, { artifactBytes: 11 * 1024 * 1024 });
  s3.fault = (r) => (r.operation === 'UploadPart' && r.query.get('partNumber') === '2' ? { status: 503, code: 'SlowDown' } : 'pass');
  const r = await register('--part-size', '5');
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /error: s3: upload s3:\/\/acme-model-registry\/fraud-detector\/[0-9a-f]{64}\/model\.json: .*503/);
  t.match(r.stderr, /the partial upload was aborted; nothing was stored/);
  t.ok(ops(s3, 'UploadPart').filter((p) => p.query.get('partNumber') === '2').length > 1, 'the failing part was retried before giving up');
  const abort = ops(s3, 'AbortMultipartUpload');
  t.equal(abort.length, 1, 'the multipart upload was aborted');
  t.equal(abort[0]!.query.get('uploadId'), ops(s3, 'UploadPart')[0]!.query.get('uploadId'));
  t.notOk((await s3.keys(registry)).some((k) => k.includes(run.sha256)), 'no object at the content address');
  t.notOk(existsSync(manifestFile(repo.root)), 'no manifest');
});

t.test('a registration record that cannot be written takes the manifest back: no unregistered manifest, exit 3', async (t) => {
  const { repo, register } = setup(t);
  s3.fault = (r) => (r.operation === 'PutObject' && r.path.includes('/manifests/') ? { status: 403, code: 'AccessDenied' } : 'pass');
  const r = await register();
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /error: s3: write s3:\/\/acme-model-registry\/fraud-detector\/manifests\/2026\.11\.20-1\/[0-9a-f]{64}\.yaml: AccessDenied \(HTTP 403\)/);
  t.notOk(existsSync(manifestFile(repo.root)), 'no manifest without its record');
  s3.fault = () => 'pass';
  const again = await register('--json');
  t.equal(again.code, 0, `a re-run registers it: ${again.stderr}`);
  t.equal(JSON.parse(again.stdout).registration.sha256, createHash('sha256').update(readFileSync(manifestFile(repo.root))).digest('hex'));
});

t.test('re-running on a manifest without a registration record warns that the checker will block it (no record is made up)', async (t) => {
  const { repo, register } = setup(t);
  t.equal((await register()).code, 0);
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  const digest = createHash('sha256').update(readFileSync(manifestFile(repo.root))).digest('hex');
  const key = `fraud-detector/manifests/2026.11.20-1/${digest}.yaml`;
  await s3.client.send(new DeleteObjectCommand({ Bucket: registry, Key: key }));
  const again = await register();
  t.equal(again.code, 0, again.stderr);
  t.equal(again.stderr, `warning: no registration record for models/fraud-detector/versions/2026.11.20-1.yaml (expected s3://${registry}/${key}): it is not the manifest register wrote, and the checker's integrity gate will block it\n`);
  t.notOk((await s3.keys(registry)).includes(key), 'register does not vouch for a manifest after the fact');
});

t.test('a registration record is never replaced: a different object at its key is refused', async (t) => {
  const { repo, run, register } = setup(t);
  // Someone with write access to the bucket put other bytes where this manifest's record goes
  // (the key is the digest, so only a collision or tampering gets here): S3 answers 412 to our
  // If-None-Match: * write; s3rver does not, so the layer in front of it (tools/sandbox/s3-checksums.ts) does.
  const first = await register('--json');
  t.equal(first.code, 0, first.stderr);
  const key = `fraud-detector/manifests/2026.11.20-1/${JSON.parse(first.stdout).registration.sha256}.yaml`;
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  await s3.client.send(new PutObjectCommand({ Bucket: registry, Key: key, Body: 'tampered' }));
  const { ArtifactStore } = await import('../../src/adapters/s3/store.js');
  const store = new ArtifactStore(s3.client);
  const bytes = readFileSync(manifestFile(repo.root));
  await t.rejects(store.putOnce({ bucket: registry, key }, bytes, createHash('sha256').update(bytes).digest('hex'), 'application/yaml'),
    /the key already holds a different object; a registration record is written once and never replaced/);
  void run;
});

t.test('an artifact whose digest differs from metadata.json is refused and nothing is stored', async (t) => {
  for (const size of [4096, 11 * 1024 * 1024]) {
    await t.test(`${size > 5e6 ? 'multipart' : 'single'} upload`, async (t) => {
      const { repo, run, register } = setup(t, { artifactBytes: size });
      const meta = run.metadata();
      meta.artifact.sha256 = 'f'.repeat(64);
      run.writeMetadata(meta);
      s3.requests.length = 0;
      const r = await register('--part-size', '5');
      t.equal(r.code, 1, r.stderr);
      t.match(r.stderr, new RegExp(`error: the artifact's sha256 is ${run.sha256}, but metadata.json says f{64}; nothing was stored`));
      t.notOk((await s3.keys(registry)).some((k) => k.includes('f'.repeat(64)) || k.includes(run.sha256)), 'nothing at either address');
      t.equal(ops(s3, 'CompleteMultipartUpload').length, 0);
      t.equal(ops(s3, 'AbortMultipartUpload').length, ops(s3, 'CreateMultipartUpload').length, 'every multipart upload begun was aborted');
      t.notOk(existsSync(manifestFile(repo.root)));
    });
  }
});

t.test('a version already registered with another digest is refused', async (t) => {
  const { repo, run, register } = setup(t);
  const r = await register('--version', '2026.11.13-1');
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /error: fraud-detector@2026\.11\.13-1 is already registered with artifact sha256 [0-9a-f]{64}; this run's artifact is [0-9a-f]{64}\. Registered versions are immutable/);
  t.match(r.stderr, /hint: register this run as a new version/);
  t.same(s3.requests.filter((q) => q.method === 'PUT' || q.method === 'POST'), [], 'nothing uploaded');
  t.equal(readFileSync(manifestFile(repo.root, '2026.11.13-1'), 'utf8').includes(run.sha256), false, 'the registered manifest is untouched');
});

t.test('bad runs are refused with one clear message and nothing written', async (t) => {
  const cases: Array<[string, (run: ReturnType<typeof makeRun>) => void, RegExp]> = [
    ['missing metadata.json', (run) => rmSync(join(run.dir, 'metadata.json')),
      /metadata\.json\s+missing: a training run needs metadata\.json; expected metadata\.json, found no such file/],
    ['invalid JSON', (run) => run.writeReport('{\n  "model": "fraud-detector",\n  "generatedAt": "2026-11-20T03:11:02Z"\n  "dataset": {}\n}\n'),
      /validation-report\.json:4:3  invalid JSON: .*; expected valid JSON, found "\\"dataset\\": {"/],
    ['a metric that is not a number', (run) => {
      const report = JSON.parse(readFileSync(join(run.dir, 'validation-report.json'), 'utf8'));
      report.metrics.overall.auc = '0.941';
      run.writeReport(JSON.stringify(report, null, 2));
    }, /validation-report\.json:\d+:\d+  metrics\.overall\.auc  expected a number, found the string "0\.941"/],
    ['model name ../etc', (run) => run.writeMetadata({ ...run.metadata(), model: '../etc' }),
      /metadata\.json:2:12  model  expected a model name \(lower-case letters, digits and single hyphens, starting with a letter, at most 40 characters\), found the string "\.\.\/etc"/],
    ['a model the repository does not define', (run) => {
      run.writeMetadata({ ...run.metadata(), model: 'card-testing' });
      run.writeReport(readFileSync(join(run.dir, 'validation-report.json'), 'utf8').replace('"fraud-detector"', '"card-testing"'));
    }, /error: model "card-testing" is not defined in this repository \(no models\/card-testing\/model\.yaml\)/],
    ['the artifact is missing', (run) => rmSync(join(run.dir, 'model.json')),
      /missing: metadata\.json names the artifact "model\.json", which is not in the run/],
    ['the artifact has another size', (run) => run.writeMetadata({ ...run.metadata(), artifact: { ...run.metadata().artifact, size: 1 } }),
      /model\.json is 24666 bytes, but metadata\.json says 1; nothing was stored/],
  ];
  for (const [name, breakIt, message] of cases) {
    await t.test(name, async (t) => {
      const { repo, run, register } = setup(t);
      breakIt(run);
      const before = versionFiles(repo.root);
      const keysBefore = await s3.keys(registry);
      s3.requests.length = 0;
      const r = await register();
      t.equal(r.code, 1, `exit 1: ${r.stderr}`);
      t.match(r.stderr, message);
      t.notMatch(r.stderr, /internal error|at .*\.js:\d+/, 'no stack trace');
      t.same(versionFiles(repo.root), before, 'no manifest written');
      t.same(await s3.keys(registry), keysBefore, 'nothing uploaded');
      t.same(s3.requests.filter((q) => q.method === 'PUT' || q.method === 'POST'), []);
      t.equal(repo.git('status', '--porcelain'), '', 'the repository is untouched');
    });
  }
});

t.test('usage errors exit 2', async (t) => {
  const { register } = setup(t);
  const r = await register('--concurrency', 'zero');
  t.equal(r.code, 2);
  t.match(r.stderr, /option '--concurrency <n>' argument 'zero' is invalid\. expected a positive whole number/);
  const v = await register('--version', '../x');
  t.equal(v.code, 2);
  t.match(v.stderr, /--version "\.\.\/x" is not a valid version/);
});

t.test('Ctrl-C during an upload aborts it, exits 130 and writes nothing', async (t) => {
  const { repo, run } = setup(t, { artifactBytes: 30 * 1024 * 1024 });
  let child = 0;
  let interrupted = false;
  s3.fault = (r) => {
    if (r.operation === 'UploadPart' && r.query.get('partNumber') === '2' && !interrupted) {
      interrupted = true;
      process.kill(child, 'SIGINT');
    }
    return r.operation === 'UploadPart' ? { delayMs: 200 } : 'pass';
  };
  const r = await spawnCli(['register', run.dir, '-C', repo.root, '--part-size', '5', '--concurrency', '1'], { env: s3.env, onSpawn: (pid) => (child = pid) });
  t.equal(r.code, 130, r.stderr);
  t.match(r.stderr, /interrupted: aborting the upload/);
  t.match(r.stderr, /error: interrupted; the partial upload was aborted and nothing was stored/);
  t.equal(ops(s3, 'AbortMultipartUpload').length, 1);
  t.ok(ops(s3, 'UploadPart').length < 6, 'stopped before sending every part');
  t.notOk(existsSync(manifestFile(repo.root)));
  t.notOk((await s3.keys(registry)).some((k) => k.includes(run.sha256)));
});
