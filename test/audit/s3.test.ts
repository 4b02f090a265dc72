// The audit store on S3 through the real AWS SDK against s3rver, its bucket versioned as Object
// Lock requires (tools/sandbox/s3-versions.ts; versions and delete markers: s3-versions.test.ts).
// s3rver ignores Object Lock, checksums and If-None-Match, so every write is also checked as sent (tests/audit/s3-guard.ts),
// and the store's own rule (look before writing, read back after) is tested with the condition
// ignored. Faults: writes failing half-way, answers lost after the write landed, racing mirrors.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import t, { type Test } from 'tap';
import { auditSettings } from '../../src/audit/policy.js';
import { S3Store } from '../../src/adapters/s3/audit-store.js';
import { verifyEnvironment } from '../../src/audit/trail.js';
import { s3Client } from '../../src/adapters/s3/store.js';
import { ExternalError } from '../../src/errors.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';
import { mirrorCommit, standardTrail, type Trail } from './history.js';
import { startGuard, type S3Guard } from './s3-guard.js';

let s3: TestS3;
let guard: S3Guard;
t.before(async () => {
  s3 = await startTestS3(['acme-audit'], { versioned: ['acme-audit'] });
  guard = await startGuard(s3.server.endpoint, s3.client);
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' });
});
t.teardown(async () => {
  await guard.stop();
  await s3.stop();
});

let prefixes = 0;
/** A store on the guarded S3 with its own prefix, so tests do not see each other's records. */
function s3Store(settings: { retentionDays: number }, prefix = `modelship-${++prefixes}`): S3Store {
  return new S3Store({ client: s3Client({ endpoint: guard.endpoint, maxAttempts: 1 }), bucket: 'acme-audit', prefix, retentionDays: settings.retentionDays, backoffMs: 5 });
}
const day = 86_400_000;

async function trailOnS3(t: Test): Promise<{ tr: Trail; store: S3Store; prefix: string }> {
  const tr = await standardTrail({ mirror: false });
  t.teardown(tr.cleanup);
  const prefix = `modelship-${++prefixes}`;
  const settings = await auditSettings(tr.h.repo.root, 'main', 'production');
  return { tr, store: s3Store(settings, prefix), prefix };
}
const verify = async (tr: Trail, store: S3Store, prefix: string, rev = 'main') => {
  const settings = { ...(await auditSettings(tr.h.repo.root, rev, 'production')), prefix };
  return verifyEnvironment({ root: tr.h.repo.root, rev, settings, store });
};
const puts = (prefix: string, kind: 'records' | 'bundles') => guard.puts().filter((r) => r.key.startsWith(`${prefix}/production/${kind}/`));

t.test('every audit write carries Object Lock COMPLIANCE, retain-until, a correct SHA-256 checksum and If-None-Match, after a look', async (t) => {
  const { tr, store, prefix } = await trailOnS3(t);
  const before = guard.requests.length;
  const started = Date.now();
  for (const c of [tr.commits.policy, tr.commits.canary, tr.commits.promote, tr.commits.chargeback]) await mirrorCommit(tr.h, store, c, { prefix });
  const writes = guard.requests.slice(before).filter((r) => r.method === 'PUT');
  t.equal(writes.length, 8, 'four records and four bundles');
  for (const w of writes) {
    t.equal(w.headers['x-amz-object-lock-mode'], 'COMPLIANCE', `${w.key}: lock mode`);
    const until = Date.parse(String(w.headers['x-amz-object-lock-retain-until-date']));
    t.ok(until >= started + 2555 * day - 60_000 && until <= Date.now() + 2555 * day + 60_000, `${w.key}: retained 2555 days (policy), until ${new Date(until).toISOString()}`);
    t.equal(w.headers['x-amz-checksum-sha256'], w.bodySha256, `${w.key}: the SHA-256 checksum is the body's`);
    t.equal(w.headers['if-none-match'], '*', `${w.key}: never overwrites`);
    const i = guard.requests.indexOf(w);
    t.ok(guard.requests.slice(before, i).some((r) => r.method === 'HEAD' && r.key === w.key), `${w.key}: looked for before writing`);
  }
  t.same((await s3.keys('acme-audit')).filter((k) => k.startsWith(`${prefix}/production/records/`)), [0, 1, 2, 3].map((n) => `${prefix}/production/records/${String(n).padStart(12, '0')}.dsse.json`));
  const r = await verify(tr, store, prefix);
  t.same(r.findings, []);
  // mirroring the same commit again sends no write
  const count = guard.puts().length;
  t.match(await mirrorCommit(tr.h, store, tr.commits.chargeback, { prefix }), { written: [], nothing: /already recorded \(seq 3\)/ });
  t.equal(guard.puts().length, count);
});

t.test('the store never overwrites, even on a server that ignores If-None-Match', async (t) => {
  const store = s3Store({ retentionDays: 365 });
  const key = `${store.location.split('/').pop()}/production/records/000000000000.dsse.json`;
  await s3.client.send(new PutObjectCommand({ Bucket: 'acme-audit', Key: key, Body: 'theirs' }));
  guard.enforceIfNoneMatch = false;
  t.teardown(() => (guard.enforceIfNoneMatch = true));
  const before = guard.puts().length;
  t.equal(await store.writeOnce(key, Buffer.from('mine'), 'application/json'), 'exists');
  t.equal(guard.puts().length, before, 'no PUT was sent for a key that exists');
  t.equal((await store.read(key))?.toString(), 'theirs');
  t.equal(await store.writeOnce(key, Buffer.from('theirs'), 'application/json'), 'written', 'the same bytes there already count as written');
});

t.test('a write failing half-way is retried; one record per seq', async (t) => {
  const { tr, store, prefix } = await trailOnS3(t);
  await mirrorCommit(tr.h, store, tr.commits.policy, { prefix });
  // The bundle lands; the record's first two writes fail with 503.
  let failures = 0;
  guard.fault = (r) => (r.method === 'PUT' && r.key.endsWith('000000000001.dsse.json') && failures++ < 2 ? { status: 503, code: 'SlowDown' } : 'pass');
  t.teardown(() => (guard.fault = () => 'pass'));
  const m = await mirrorCommit(tr.h, store, tr.commits.canary, { prefix });
  t.same(m.written.map((w) => w.seq), [1]);
  t.equal(puts(prefix, 'records').filter((r) => r.key.endsWith('000000000001.dsse.json')).length, 3, 'two failed attempts and one that landed');
  // Now the write lands but its answer is lost: the retry finds the record there, with its bytes, and sends no second PUT.
  let dropped = 0;
  guard.fault = (r) => (r.method === 'PUT' && r.key.endsWith('000000000002.dsse.json') && dropped++ === 0 ? 'drop-answer' : 'pass');
  const m2 = await mirrorCommit(tr.h, store, tr.commits.promote, { prefix });
  t.same(m2.written.map((w) => w.seq), [2]);
  t.equal(puts(prefix, 'records').filter((r) => r.key.endsWith('000000000002.dsse.json')).length, 1, 'the landed write is not repeated');
  // Every attempt of the record fails: the mirror stops with an S3 error, the bundle is there, no record.
  guard.fault = (r) => (r.method === 'PUT' && r.key.endsWith('000000000003.dsse.json') ? { status: 500, code: 'InternalError' } : 'pass');
  const e = await mirrorCommit(tr.h, store, tr.commits.chargeback, { prefix }).catch((x: unknown) => x);
  t.ok(e instanceof ExternalError && e.exitCode === 3, 'an S3 failure: exit 3');
  t.match((e as Error).message, /^s3: write s3:\/\/acme-audit\/.*000000000003\.dsse\.json: InternalError \(HTTP 500\).* after 4 attempts$/);
  t.notOk((await s3.keys('acme-audit')).includes(`${prefix}/production/records/000000000003.dsse.json`));
  // Re-run once S3 is back: exactly one record 3, and the trail verifies.
  guard.fault = () => 'pass';
  t.same((await mirrorCommit(tr.h, store, tr.commits.chargeback, { prefix })).written.map((w) => w.seq), [3]);
  t.same((await verify(tr, store, prefix)).findings, []);
  t.same((await s3.keys('acme-audit')).filter((k) => k.startsWith(`${prefix}/production/records/`)).length, 4);
});

t.test('409 ConditionalRequestConflict (a concurrent write of the key in flight) is retried, as AWS advises', async (t) => {
  const { tr, store, prefix } = await trailOnS3(t);
  await mirrorCommit(tr.h, store, tr.commits.policy, { prefix });
  // S3 answers 409 when a conflicting write of the same key is in progress; nothing was written
  // ("On a 409 failure you should retry the upload": PutObject If-None-Match, S3 API reference).
  let conflicts = 0;
  guard.fault = (r) => (r.method === 'PUT' && r.key.endsWith('000000000001.dsse.json') && conflicts++ === 0 ? { status: 409, code: 'ConditionalRequestConflict' } : 'pass');
  t.teardown(() => (guard.fault = () => 'pass'));
  const m = await mirrorCommit(tr.h, store, tr.commits.canary, { prefix });
  t.same(m.written.map((w) => w.seq), [1]);
  const attempts = puts(prefix, 'records').filter((r) => r.key.endsWith('000000000001.dsse.json'));
  t.same(attempts.map((r) => r.status), [409, 200], 'the conflicted write, then one that landed');
});

t.test('two mirrors racing leave one record per seq', async (t) => {
  const { tr, store, prefix } = await trailOnS3(t);
  // S3's clock (the versioning layer's) at the story's times, so LastModified agrees with each record's recordedAt.
  const versions = s3.server.versions!;
  t.teardown(() => (versions.now = () => new Date()));
  versions.now = () => new Date('2026-11-10T09:05:00Z');
  await mirrorCommit(tr.h, store, tr.commits.policy, { now: '2026-11-10T09:05:00Z', prefix });
  // Same commit, different clocks (so different bytes): one record.
  versions.now = () => new Date('2026-11-16T10:05:00Z');
  const [a, b] = await Promise.all([
    mirrorCommit(tr.h, store, tr.commits.canary, { now: '2026-11-16T10:05:00Z', prefix }),
    mirrorCommit(tr.h, s3Store({ retentionDays: 2555 }, prefix), tr.commits.canary, { now: '2026-11-16T10:05:01Z', prefix }),
  ]);
  t.equal(a.written.length + b.written.length, 1, 'one of them wrote seq 1, the other found it');
  versions.now = () => new Date();
  // Different commits racing from the same head: the later one also covers the earlier, and they agree on one chain.
  const [c, d] = await Promise.all([
    mirrorCommit(tr.h, store, tr.commits.promote, { prefix }),
    mirrorCommit(tr.h, s3Store({ retentionDays: 2555 }, prefix), tr.commits.chargeback, { prefix }),
  ]);
  t.ok(c.written.length + d.written.length >= 2);
  const keys = (await s3.keys('acme-audit')).filter((k) => k.startsWith(`${prefix}/production/records/`));
  t.same(keys.map((k) => k.slice(-22)), ['000000000000.dsse.json', '000000000001.dsse.json', '000000000002.dsse.json', '000000000003.dsse.json']);
  t.ok(guard.requests.some((r) => r.key.startsWith(prefix) && r.status === 412) || a.written.length + b.written.length === 1, 'S3 refused a conditional write, or the look-first found the key');
  t.same((await verify(tr, store, prefix)).findings, []);
});

t.test('listing after a key asks S3 for the keys after it (StartAfter), as trace does over a current index', async (t) => {
  const { tr, store, prefix } = await trailOnS3(t);
  await mirrorCommit(tr.h, store, tr.commits.policy, { now: '2026-11-10T09:05:00Z', prefix });
  await mirrorCommit(tr.h, store, tr.commits.canary, { now: '2026-11-16T10:05:00Z', prefix });
  const folder = `${prefix}/production/records/`;
  const all = await store.list(folder);
  t.equal(all.length, 2);
  const before = guard.requests.length;
  t.same(await store.list(folder, all[0]), [all[1]], 'only the keys after it');
  const sent = guard.requests.slice(before).filter((r) => r.method === 'GET');
  t.ok(sent.length === 1 && new URLSearchParams(sent[0]!.query).get('start-after') === all[0], `one ListObjectsV2 with start-after=${all[0]}: ${sent.map((r) => r.query).join(', ')}`);
  t.same(await store.list(folder, all[1]), [], 'none after the newest');
});
