// `modelship audit mirror|verify|trace|keygen` through the built CLI: a local write-once store
// and an Ed25519 key (the demo), S3 + KMS stand-ins (production's shape), a real sync's
// deployment record, and bad input refused with a clear message and nothing written.
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runCli } from '../helpers/cli.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';
import { startKmsStandIn, type KmsStandIn } from '../../tools/sandbox/kms/server.js';
import { demoKey, setPin, standardTrail, writtenAt, type Trail } from '../audit/history.js';

const mirrorArgs = (tr: Trail, commit: string, store = tr.storeDir) => ['audit', 'mirror', '--env', 'production', '--rev', commit, '--record-dir', tr.h.recordDir, '--store', store, '--key-file', demoKey.file, '-C', tr.h.repo.root];
const fixed = (at: string) => ({ SOURCE_DATE_EPOCH: String(Date.parse(at) / 1000) });

t.test('the demo: mirror each synced merge, verify, trace', async (t) => {
  const tr = await standardTrail({ mirror: false });
  t.teardown(tr.cleanup);
  const c = tr.commits;
  const first = await writtenAt(tr.storeDir, '2026-11-10T09:05:00Z', () => runCli(mirrorArgs(tr, c.policy), { env: fixed('2026-11-10T09:05:00Z') }));
  t.equal(first.code, 0, first.stderr);
  t.equal(first.stdout, `production: 1 record written to ${tr.storeDir} (seq 0)\n`);
  t.match(first.stderr, `production: recorded seq 0 for ${c.policy.slice(0, 12)} (PR #10)`);
  for (const [commit, at] of [[c.canary, '2026-11-16T10:05:00Z'], [c.promote, '2026-11-18T10:05:00Z'], [c.chargeback, '2026-11-19T14:05:00Z']] as const) {
    const r = await writtenAt(tr.storeDir, at, () => runCli(mirrorArgs(tr, commit), { env: fixed(at) }));
    t.equal(r.code, 0, r.stderr);
  }
  const again = await runCli(mirrorArgs(tr, c.chargeback));
  t.equal(again.stdout, `production: nothing to record: ${c.chargeback.slice(0, 12)} is already recorded (seq 3)\n`);
  const files = readdirSync(join(tr.storeDir, 'modelship/production/records'));
  t.equal(files.length, 4);
  t.equal(statSync(join(tr.storeDir, 'modelship/production/records', files[0]!)).mode & 0o222, 0, 'records are read-only files');

  const v = await runCli(['audit', 'verify', '--store', tr.storeDir, '-C', tr.h.repo.root]);
  t.equal(v.code, 0, v.stderr);
  t.match(v.stdout, /^production: OK: 4 records verified \(seq 0 to 3, head sha256 [0-9a-f]{12}\)\n  signatures by acme-audit-demo-2026; chain unbroken;/);

  const tc = await runCli(['audit', 'trace', '--model', 'fraud-detector', '--env', 'production', '--at', '2026-11-17T12:00:00Z', '--store', tr.storeDir, '-C', tr.h.repo.root]);
  t.equal(tc.code, 0, tc.stderr);
  t.match(tc.stdout, 'fraud-detector in production at 2026-11-17T12:00:00.000Z');
  t.match(tc.stdout, 'serving 2026.11.06-1, 90% of online traffic');
  t.match(tc.stdout, 'canary 2026.11.13-1, 10% of online traffic\n  live          2026-11-16T10:03:00Z until 2026-11-18T10:03:00Z');
  t.match(tc.stdout, 'promoted by   PR #11 "Canary fraud-detector@2026.11.13-1 in production at 10%"');
  t.match(tc.stdout, 'approved by   grace at 2026-11-16T09:20:00Z, linus at 2026-11-16T09:40:00Z');
  const j = await runCli(['audit', 'trace', '--model', 'fraud-detector', '--env', 'production', '--at', '2026-11-20T00:00:00Z', '--store', tr.storeDir, '--json', '-C', tr.h.repo.root]);
  t.equal(j.code, 0, j.stderr);
  t.match(JSON.parse(j.stdout), { ok: true, found: true, stable: { version: '2026.11.13-1', traffic: 100, promotedBy: { pr: { number: 12 }, author: 'ada' }, lineage: { codeCommit: /^[0-9a-f]{40}$/ } } });
  t.equal(j.stderr, '', 'the index verify built is current: no rebuild');

});

t.test('verify fails with exit 1 and names the problem; trace refuses an unverified trail', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const dir = join(tr.storeDir, 'modelship/production/records');
  const { execFileSync } = await import('node:child_process');
  execFileSync('chmod', ['u+w', dir]);
  rmSync(join(dir, '000000000002.dsse.json'));
  const v = await runCli(['audit', 'verify', '--store', tr.storeDir, '-C', tr.h.repo.root]);
  t.equal(v.code, 1);
  t.match(v.stdout, /^production: FAILED: 2 problems in 3 records\n  error: seq 2 is missing: the chain jumps from 1 to 3\n  error: commit [0-9a-f]{12} \("Merge pull request #12 from acmerisk\/pr-12"\) changed environments\/production.yaml on main but has no record\n  warning: bundle modelship\/production\/bundles\/[0-9a-f]{40}\.bundle is named by no record \(it holds [0-9a-f]{12}, on main\): a mirror that stopped before writing its record leaves one; the next mirror records the commit\n$/);
  const json = await runCli(['audit', 'verify', '--store', tr.storeDir, '--json', '-C', tr.h.repo.root]);
  t.equal(json.code, 1);
  t.match(JSON.parse(json.stdout), { ok: false, environments: [{ environment: 'production', ok: false, findings: [{ severity: 'error', seq: 2, message: 'seq 2 is missing: the chain jumps from 1 to 3' }, { severity: 'error' }] }] });
  const tc = await runCli(['audit', 'trace', '--model', 'fraud-detector', '--env', 'production', '--at', '2026-11-20T00:00:00Z', '--store', tr.storeDir, '-C', tr.h.repo.root]);
  t.equal(tc.code, 1);
  t.equal(tc.stderr, 'error: the audit trail of production does not verify (2 problems): trace answers only from a verified trail\nhint: run modelship audit verify --env production\n');
});

t.test('bad input is refused with a clear message, and nothing is written', async (t) => {
  const tr = await standardTrail({ mirror: false });
  t.teardown(tr.cleanup);
  const c = tr.commits;
  const root = tr.h.repo.root;
  const nothingWritten = () => t.notOk(existsSync(join(tr.storeDir, 'modelship')), 'nothing written');
  let r = await runCli(['audit', 'mirror', '--env', 'production', '--store', tr.storeDir, '--key-file', demoKey.file, '-C', root]);
  t.match(r, { code: 2, stderr: 'error: audit mirror needs --record-dir DIR: the folder sync --record-dir wrote the deployment records to\n' });
  r = await runCli(['audit', 'mirror', '--env', 'production', '--rev', c.policy, '--record-dir', tr.h.recordDir, '--store', tr.storeDir, '-C', root]);
  t.match(r, { code: 2, stderr: /^error: audit mirror needs a signing key: --kms-key/ });
  const { generateKeyPairSync } = await import('node:crypto');
  const { writeFileSync } = await import('node:fs');
  const stranger = join(tr.h.work, 'stranger.pem');
  writeFileSync(stranger, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
  r = await runCli([...mirrorArgs(tr, c.policy).slice(0, -4), '--key-file', stranger, '-C', root]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^error: the signing key is not among the keys policies\/production.yaml trusts; nothing was written\nhint: add it to audit.keys in a reviewed change: \{ id: \.\.\., algorithm: ed25519, publicKey: MCowBQYDK2VwAyEA/);
  r = await runCli(mirrorArgs(tr, c.policy).map((a) => (a === c.policy ? `${c.policy}^` : a)));
  t.match(r, { code: 1, stderr: /^policies\/production.yaml  audit  the policy declares no audit trail; expected audit: \{ store: s3:\/\/bucket\/prefix, retentionDays: 365 or more, keys: \[\.\.\.\] \}\nerror: policies\/production.yaml has no audit section/ });
  // a deployment record edited by hand: refused through its schema, with file, line and column
  const edited = join(tr.h.recordDir, 'production', `${c.policy}.json`);
  writeFileSync(edited, readFileSync(edited, 'utf8').replace('"converged": true', '"converged": "yes"'));
  r = await runCli(mirrorArgs(tr, c.policy));
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`^${edited.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:16  converged  .*found the string "yes"\nerror: ${edited.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a deployment record: 1 problem in 1 file\n$`));
  nothingWritten();
  // a deployment record missing for the commit
  rmSync(join(tr.h.recordDir, 'production', `${c.policy}.json`));
  r = await runCli(mirrorArgs(tr, c.policy));
  t.match(r, { code: 2, stderr: `error: no deployment record for ${c.policy.slice(0, 12)} in production: run modelship sync --record-dir DIR first and pass the same --record-dir\n` });
  nothingWritten();
  r = await runCli(['audit', 'trace', '--model', 'fraud-detector', '--env', 'production', '--at', 'yesterday', '--store', tr.storeDir, '-C', root]);
  t.match(r, { code: 2, stderr: 'error: --at expects a time such as 2026-08-14T10:22:00Z, found "yesterday"\n' });
  // a retention under a year, or a key that is not a key, fails the policy's own checks
  tr.h.direct({
    message: 'weaken retention', at: '2026-11-20T09:00:00Z',
    edit: (root) => {
      const file = join(root, 'policies/production.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace('retentionDays: 2555', 'retentionDays: 30').replace(demoKey.publicKey, 'MCowBQYDK2VwAyEAnotakeynotakeynotakeynotakeynotakeynotake='));
    },
  });
  r = await runCli(['audit', 'verify', '--store', tr.storeDir, '-C', root]);
  t.equal(r.code, 1);
  t.match(r.stderr, 'policies/production.yaml:');
  t.match(r.stderr, 'audit.retentionDays');
  t.match(r.stderr, 'expected a number >= 365, found the number 30');
  nothingWritten();
});

t.test('keygen writes a private key once and prints the policy entry that trusts it', async (t) => {
  const tr = await standardTrail({ mirror: false });
  t.teardown(tr.cleanup);
  const file = join(tr.h.work, 'audit-key.pem');
  const r = await runCli(['audit', 'keygen', '--id', 'acme-audit-laptop', '--out', file]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^- id: acme-audit-laptop\n  algorithm: ed25519\n  publicKey: MCowBQYDK2VwAyEA[A-Za-z0-9+/]{43}=\n  validFrom: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
  t.equal(statSync(file).mode & 0o777, 0o600);
  const again = await runCli(['audit', 'keygen', '--id', 'x', '--out', file]);
  t.match(again, { code: 2, stderr: /^error: cannot write .*audit-key\.pem: EEXIST/ });
});

t.test('production shape: S3 with Object Lock and KMS, from the policy, through the CLI', async (t) => {
  let s3: TestS3 | undefined;
  let kms: KmsStandIn | undefined;
  t.teardown(async () => { await s3?.stop(); await kms?.stop(); });
  s3 = await startTestS3(['acme-audit'], { versioned: ['acme-audit'] }); // versioned, as Object Lock requires
  kms = await startKmsStandIn({ aliases: ['alias/modelship-audit'] });
  const key = kms.keys[0]!;
  const tr = await standardTrail({ mirror: false, keys: [{ id: key.arn, algorithm: 'ecdsa-p256-sha256', publicKey: key.publicKeyDer.toString('base64'), validFrom: '2026-11-01T00:00:00Z' }] });
  t.teardown(tr.cleanup);
  const env = { ...s3.env, MODELSHIP_KMS_ENDPOINT: kms.url, MODELSHIP_AUDIT_KMS_KEY: 'alias/modelship-audit' };
  for (const commit of [tr.commits.policy, tr.commits.canary, tr.commits.promote, tr.commits.chargeback]) {
    const r = await runCli(['audit', 'mirror', '--env', 'production', '--rev', commit, '--record-dir', tr.h.recordDir, '-C', tr.h.repo.root], { env });
    t.equal(r.code, 0, r.stderr);
  }
  const keys = (await s3.keys('acme-audit')).filter((k) => k.includes('/records/'));
  t.same(keys, [0, 1, 2, 3].map((n) => `modelship/production/records/${String(n).padStart(12, '0')}.dsse.json`));
  const puts = s3.requests.filter((r) => r.operation === 'PutObject');
  t.equal(puts.length, 8);
  t.ok(puts.every((p) => p.headers['x-amz-object-lock-mode'] === 'COMPLIANCE' && p.headers['x-amz-object-lock-retain-until-date'] && p.headers['x-amz-checksum-sha256'] && p.headers['if-none-match'] === '*'), 'every write locked, checksummed, conditional');
  const v = await runCli(['audit', 'verify', '-C', tr.h.repo.root], { env: s3.env });
  t.equal(v.code, 0, v.stdout + v.stderr);
  t.match(v.stdout, `signatures by ${key.arn}`);
  // S3 down: exit 3, the system named
  const down = await runCli(['audit', 'verify', '-C', tr.h.repo.root], { env: { ...s3.env, MODELSHIP_S3_ENDPOINT: 'http://127.0.0.1:9' } });
  t.equal(down.code, 3);
  t.match(down.stderr, /^error: s3: list s3:\/\/acme-audit\/modelship\/production\/records\/: /);
});

t.test('trust roots outside the repository: a KMS key ARN with the store beside it, an S3 object', async (t) => {
  let s3: TestS3 | undefined;
  let kms: KmsStandIn | undefined;
  t.teardown(async () => { await s3?.stop(); await kms?.stop(); });
  s3 = await startTestS3(['acme-audit', 'acme-audit-roots'], { versioned: ['acme-audit', 'acme-audit-roots'] }); // versioned, as Object Lock requires
  kms = await startKmsStandIn({ aliases: ['alias/modelship-audit'] });
  const key = kms.keys[0]!;
  const tr = await standardTrail({ mirror: false, keys: [{ id: key.arn, algorithm: 'ecdsa-p256-sha256', publicKey: key.publicKeyDer.toString('base64'), validFrom: '2026-11-01T00:00:00Z' }] });
  t.teardown(tr.cleanup);
  const root = tr.h.repo.root;
  const env = { ...s3.env, MODELSHIP_KMS_ENDPOINT: kms.url };
  for (const commit of [tr.commits.policy, tr.commits.canary]) {
    const r = await runCli(['audit', 'mirror', '--env', 'production', '--rev', commit, '--record-dir', tr.h.recordDir, '-C', root], { env: { ...env, MODELSHIP_AUDIT_KMS_KEY: 'alias/modelship-audit' } });
    t.equal(r.code, 0, r.stderr);
  }
  const verify = (...args: string[]) => runCli(['audit', 'verify', ...args, '--rev', tr.commits.canary, '--cache-dir', join(tr.h.work, 'cache'), '-C', root], { env });
  // The key as KMS knows it: its public half, and its creation date as the start of its validity.
  let v = await verify('--trust-root', key.arn, '--env', 'production', '--store', 's3://acme-audit/modelship');
  t.equal(v.code, 0, v.stdout + v.stderr);
  t.match(v.stdout, `signatures by ${key.arn}`);
  t.ok(kms.requests.some((r) => r.target === 'TrentService.DescribeKey'), 'the creation date comes from KMS');
  v = await verify('--trust-root', key.arn, '--env', 'production');
  t.match(v, { code: 2, stderr: `error: the trust root ${key.arn} is a KMS key, which pins no store: pin the trail's location too with --store s3://bucket/prefix\n` });
  // Another key pinned: the records are not its.
  const other = kms.createKey();
  v = await verify('--trust-root', other.arn, '--env', 'production', '--store', 's3://acme-audit/modelship');
  t.equal(v.code, 1);
  t.match(v.stdout, `error: record 0 (commit ${tr.commits.policy.slice(0, 12)}): signed only by ${key.arn}, which the record itself introduces: not trusted`);
  t.match(v.stdout, `error: record 1 (commit ${tr.commits.canary.slice(0, 12)}): signed by unknown key "${key.arn}" (not among the keys the trust root ${other.arn} pins)`);

  // The trust root as an object in the auditor's bucket.
  const pinned = await runCli(['audit', 'trust-root', '--env', 'production', '--rev', tr.commits.canary, '-C', root]);
  await s3.client.send(new PutObjectCommand({ Bucket: 'acme-audit-roots', Key: 'release/production.json', Body: pinned.stdout }));
  v = await verify('--trust-root', 's3://acme-audit-roots/release/production.json');
  t.equal(v.code, 0, v.stdout + v.stderr);
  // Written over (a bucket policy that let someone PutObject there): refused, not read.
  s3.server.versions!.now = () => new Date('2027-01-15T09:00:00Z'); // later than the root's first version (written now)
  await s3.client.send(new PutObjectCommand({ Bucket: 'acme-audit-roots', Key: 'release/production.json', Body: pinned.stdout.replace(key.publicKeyDer.toString('base64'), other.publicKeyDer.toString('base64')) }));
  v = await verify('--trust-root', 's3://acme-audit-roots/release/production.json');
  t.match(v, { code: 1, stderr: 'error: the trust root s3://acme-audit-roots/release/production.json holds 2 versions (the newest written at 2027-01-15T09:00:00.000Z): a pinned trust root is written once, so it is not used\nhint: ask who wrote over it; pin its first version as a file\n' });
  v = await verify('--trust-root', 's3://acme-audit-roots/release/staging.json');
  t.match(v, { code: 2, stderr: 'error: the trust root s3://acme-audit-roots/release/staging.json does not exist\n' });
  v = await verify('--trust-root', 's3://acme-audit-roots/');
  t.match(v, { code: 2, stderr: 'error: the trust root "s3://acme-audit-roots/" names no object: s3://bucket/key\n' });
});

t.test('a real sync\'s deployment record is what the mirror signs', async (t) => {
  const { startKubernetesStandIn } = await import('../../tools/sandbox/kubernetes/server.js');
  const { startSnowflakeStandIn, snowflakeStandInCredentials } = await import('../../tools/sandbox/snowflake/server.js');
  const kube = await startKubernetesStandIn({ namespaces: ['ml-serving', 'ml-staging'], controller: { delayMs: 20 } });
  const snow = await startSnowflakeStandIn();
  t.teardown(async () => { await kube.stop(); await snow.stop(); });
  const env = {
    MODELSHIP_KUBE_SERVER: kube.url, MODELSHIP_KUBE_TOKEN: kube.token!, SNOWFLAKE_ACCOUNT: 'acme',
    SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password, MODELSHIP_SNOWFLAKE_URL: snow.url,
  };
  const tr = await standardTrail({ mirror: false });
  t.teardown(tr.cleanup);
  const root = tr.h.repo.root;
  const records = join(tr.h.work, 'sync-records');
  // the agent syncs main's tip and writes its record; the mirror starts the trail there
  let s = await runCli(['sync', '--env', 'production', '--record-dir', records, '-C', root], { env });
  t.equal(s.code, 0, s.stderr);
  const args = (commit: string) => ['audit', 'mirror', '--env', 'production', '--rev', commit, '--record-dir', records, '--store', tr.storeDir, '--key-file', demoKey.file, '-C', root];
  let m = await runCli(args(tr.commits.chargeback));
  t.equal(m.code, 0, m.stderr);
  const next = tr.h.merge({
    number: 30, title: 'Canary fraud-detector@2026.11.06-1 back at 5%', author: 'ada', at: '2026-11-22T10:00:00Z', approvers: [['grace', '2026-11-22T09:00:00Z']],
    edit: (r) => setPin(r, 'production', 'fraud-detector', { version: '2026.11.13-1', canary: { version: '2026.11.06-1', traffic: 5 } }),
  });
  s = await runCli(['sync', '--env', 'production', '--record-dir', records, '-C', root], { env });
  t.equal(s.code, 0, s.stderr);
  m = await runCli(args(next));
  t.equal(m.code, 0, m.stderr);
  const record = JSON.parse(readFileSync(join(tr.storeDir, 'modelship/production/records/000000000001.dsse.json'), 'utf8'));
  const p = JSON.parse(Buffer.from(record.payload, 'base64').toString('utf8')).predicate;
  const synced = JSON.parse(readFileSync(join(records, 'production', `${next}.json`), 'utf8'));
  t.equal(p.deployed.result, 'converged');
  t.equal(p.deployed.startedAt, synced.startedAt);
  t.same(p.deployed.objects, synced.objects, 'the objects, outcomes and readiness times the agent recorded');
  t.ok(p.deployed.objects.some((o: { readyAt?: string }) => o.readyAt), 'readiness times are there');
  t.same(p.deployed.changes, [{ model: 'fraud-detector', from: { version: '2026.11.13-1' }, to: { version: '2026.11.13-1', canary: { version: '2026.11.06-1', traffic: 5 } } }]);
  const v = await runCli(['audit', 'verify', '--store', tr.storeDir, '-C', root]);
  t.equal(v.code, 0, v.stdout);
});

t.test('verify and trace on the shipped policies (no audit: section) say what to configure; exit 1', async (t) => {
  const expected = 'policies/production.yaml  audit  the policy declares no audit trail; expected audit: { store: s3://bucket/prefix, retentionDays: 365 or more, keys: [...] }\n'
    + 'error: policies/production.yaml has no audit section: the trail\'s store and trusted keys are declared there (see README, "The audit trail")\n';
  for (const args of [['audit', 'verify', '--env', 'production'], ['audit', 'trace', '--env', 'production', '--model', 'fraud-detector', '--at', '2026-12-01T00:00:00Z']]) {
    const r = await runCli(args);
    t.equal(r.code, 1, args.join(' '));
    t.equal(r.stderr, expected, args.join(' '));
    t.equal(r.stdout, '', args.join(' '));
  }
});
