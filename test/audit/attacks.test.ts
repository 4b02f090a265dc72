// Every attack on the trail and every fault the issue lists, each on a fresh trail, each found
// by verify with a message that says exactly what is wrong.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { auditSettings } from '../../src/audit/policy.js';
import { canonicalBytes, decodeRecord, envelopeBytes } from '../../src/audit/record.js';
import { ed25519Signer, signEnvelope } from '../../src/audit/sign.js';
import type { AuditStore, StoredObject } from '../../src/audit/store.js';
import { verifyEnvironment } from '../../src/audit/trail.js';
import { buildIndex, trace, viewOf } from '../../src/audit/trace.js';
import { appendPolicy, auditSection, copyTrail, demoKey, mirrorCommit, setPin, standardTrail, type Trail } from './history.js';

const verify = async (tr: Trail, rev = 'main') => verifyEnvironment({ root: tr.h.repo.root, rev, settings: await auditSettings(tr.h.repo.root, rev, 'production'), store: tr.store });
const recordPath = (tr: Trail, seq: number) => join(tr.storeDir, `modelship/production/records/${String(seq).padStart(12, '0')}.dsse.json`);
const short = (c: string) => c.slice(0, 12);
const errors = (r: Awaited<ReturnType<typeof verify>>) => r.findings.filter((f) => f.severity === 'error').map((f) => f.message);
/**
 * The store's files are read-only (write once); an attacker with the disk makes them writable,
 * and puts the file's time back (a folder's clock is its owner's: S3's LastModified is not).
 */
const tamper = (file: string, fn: () => void) => {
  execFileSync('chmod', ['u+w', file, join(file, '..')]);
  const was = existsSync(file) ? statSync(file).mtime : undefined;
  fn();
  if (was && existsSync(file)) utimesSync(file, was, was);
};

t.test('a record edited in place: its signature fails, and the next record\'s prev no longer matches', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const file = recordPath(tr, 1);
  const env = JSON.parse(readFileSync(file, 'utf8'));
  const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
  statement.predicate.change.approvers = [{ login: 'mallory', at: '2026-11-16T09:00:00Z' }];
  env.payload = canonicalBytes(statement).toString('base64');
  tamper(file, () => writeFileSync(file, canonicalBytes(env)));
  const r = await verify(tr);
  t.equal(r.ok, false);
  t.same(errors(r), [
    `record 1 (commit ${short(tr.commits.canary)}): the signature by key "acme-audit-demo-2026" does not verify: the record was changed after it was signed`,
    `record 2 (commit ${short(tr.commits.promote)}): prev is ${decodeRecord(readFileSync(recordPath(tr, 2))).ok && (decodeRecord(readFileSync(recordPath(tr, 2))) as { statement: { predicate: { prev: { sha256: string } } } }).statement.predicate.prev.sha256} but record 1 has sha256 ${decodeRecord(readFileSync(file)).digest}: record 1 was changed or replaced after this one was written`,
  ]);
});

t.test('a record deleted: the gap and the unrecorded commit are named', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  tamper(recordPath(tr, 2), () => unlinkSync(recordPath(tr, 2)));
  const r = await verify(tr);
  t.same(errors(r), [
    'seq 2 is missing: the chain jumps from 1 to 3',
    `commit ${short(tr.commits.promote)} ("Merge pull request #12 from acmerisk/pr-12") changed environments/production.yaml on main but has no record`,
  ]);
});

t.test('the newest record deleted: the unrecorded commit is named', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  tamper(recordPath(tr, 3), () => unlinkSync(recordPath(tr, 3)));
  const r = await verify(tr);
  t.same(errors(r), [`commit ${short(tr.commits.chargeback)} ("Merge pull request #13 from acmerisk/pr-13") changed environments/production.yaml on main but has no record (it is newer than the last record: was it mirrored?)`]);
  t.same(r.findings.filter((f) => f.severity === 'warning' && f.message.startsWith('bundle ')).map((f) => f.message),
    [`bundle modelship/production/bundles/${tr.commits.chargeback}.bundle is named by no record (it holds ${short(tr.commits.chargeback)}, on main): a mirror that stopped before writing its record leaves one; the next mirror records the commit`]);
});

t.test('two records swapped: each is stored under the other\'s seq', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  tamper(recordPath(tr, 1), () => {
    renameSync(recordPath(tr, 1), `${recordPath(tr, 1)}.x`);
    renameSync(recordPath(tr, 2), recordPath(tr, 1));
    renameSync(`${recordPath(tr, 1)}.x`, recordPath(tr, 2));
  });
  const r = await verify(tr);
  const e = errors(r);
  t.ok(e.includes(`record 1 (commit ${short(tr.commits.promote)}): stored as seq 1 but signed as seq 2: records were moved or swapped`), e.join('\n'));
  t.ok(e.includes(`record 2 (commit ${short(tr.commits.canary)}): stored as seq 2 but signed as seq 1: records were moved or swapped`));
  t.ok(e.includes(`record 2 (commit ${short(tr.commits.canary)}): its commit comes before record 1's on main: records are out of order`));
  t.ok(e.some((m) => m.startsWith(`record 1 (commit ${short(tr.commits.promote)}): prev is`)));
});

t.test('a record signed by a key the policy does not trust', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const file = recordPath(tr, 3);
  const d = decodeRecord(readFileSync(file));
  if (!d.ok) throw new Error(d.reason);
  const mallory = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const forged = envelopeBytes(await signEnvelope(d.payload, ed25519Signer(mallory, 'mallory-laptop')));
  tamper(file, () => writeFileSync(file, forged));
  t.same(errors(await verify(tr)), [`record 3 (commit ${short(tr.commits.chargeback)}): signed by unknown key "mallory-laptop" (not among policies/production.yaml audit.keys)`]);
  // The same forgery naming the trusted key's id does not verify either.
  const impostor = envelopeBytes(await signEnvelope(d.payload, ed25519Signer(mallory, demoKey.id)));
  tamper(file, () => writeFileSync(file, impostor));
  t.same(errors(await verify(tr)), [`record 3 (commit ${short(tr.commits.chargeback)}): the signature by key "acme-audit-demo-2026" does not verify: the record was changed after it was signed`]);
});

t.test('main force-pushed to drop a promotion: the record\'s commit is off main, or gone from git', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const { h } = tr;
  h.git('2026-11-20T09:00:00Z', 'reset', '-q', '--hard', tr.commits.promote);
  const rewritten = h.direct({ message: 'tidy production', at: '2026-11-20T09:00:00Z', push: false, edit: (root) => setPin(root, 'production', 'chargeback-risk', { version: '2026.11.01-1' }) });
  h.git('2026-11-20T09:00:00Z', 'push', '-q', '--force', 'origin', 'main');
  let e = errors(await verify(tr));
  t.same(e, [
    `record 3 (commit ${short(tr.commits.chargeback)}): commit ${tr.commits.chargeback} is not on main's first-parent line: main was rewritten (force-pushed) after it was recorded`,
    `commit ${short(rewritten)} ("tidy production") changed environments/production.yaml on main but has no record (it is newer than the last record: was it mirrored?)`,
  ]);
  // A fresh clone of the rewritten origin has never seen the dropped commit.
  const clone = join(h.work, 'fresh');
  execFileSync('git', ['clone', '-q', '--no-local', h.repo.origin, clone]);
  e = errors(await verifyEnvironment({ root: clone, rev: 'origin/main', settings: await auditSettings(clone, 'origin/main', 'production'), store: tr.store }));
  t.equal(e[0], `record 3 (commit ${short(tr.commits.chargeback)}): commit ${tr.commits.chargeback} does not exist in the repository (main was rewritten and the commit is gone?)`);
  // and mirroring on top of the rewritten main is refused, nothing written
  h.deploy('production', rewritten, '2026-11-20T09:01:00Z', ['chargeback-risk']);
  await t.rejects(mirrorCommit(h, tr.store, rewritten), { message: `production: the last record's commit ${short(tr.commits.chargeback)} (seq 3) is not on the first-parent line of ${short(rewritten)}: main was rewritten (force-pushed) since` });
});

t.test('a commit on main with no record', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const unrecorded = tr.h.merge({
    number: 14, title: 'Roll back chargeback-risk', author: 'sam', at: '2026-11-21T08:00:00Z', approvers: [['grace', '2026-11-21T07:50:00Z']],
    edit: (root) => setPin(root, 'production', 'chargeback-risk', { version: '2026.10.15-1' }),
  });
  t.same(errors(await verify(tr)), [`commit ${short(unrecorded)} ("Merge pull request #14 from acmerisk/pr-14") changed environments/production.yaml on main but has no record (it is newer than the last record: was it mirrored?)`]);
  // The next mirror records it (as superseded: it was never synced on its own) before the synced commit.
  const next = tr.h.merge({
    number: 15, title: 'Roll back fraud-detector to 2026.11.06-1', author: 'ada', at: '2026-11-21T09:00:00Z', approvers: [['linus', '2026-11-21T08:50:00Z']],
    edit: (root) => setPin(root, 'production', 'fraud-detector', { version: '2026.11.06-1' }),
  });
  tr.h.deploy('production', next, '2026-11-21T09:01:00Z', ['chargeback-risk', 'fraud-detector']);
  const m = await mirrorCommit(tr.h, tr.store, next);
  t.same(m.written.map((w) => [w.seq, w.commit, w.result]), [[4, unrecorded, 'superseded'], [5, next, 'converged']]);
  t.same(errors(await verify(tr)), []);
});

t.test('a policy change on main with no record: the loosened policy is named; the next mirror records it', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const loosened = tr.h.merge({
    number: 16, title: 'policies: production needs one approval', author: 'mallory', at: '2026-11-21T08:00:00Z', approvers: [['sam', '2026-11-21T07:50:00Z']],
    edit: (root) => writeFileSync(join(root, 'policies/production.yaml'), readFileSync(join(root, 'policies/production.yaml'), 'utf8').replace(/^approvals:\n {2}count: 2$/m, 'approvals:\n  count: 1')),
  });
  t.equal(tr.h.git('2026-11-21T08:00:01Z', 'diff', '--name-only', `${loosened}^`, loosened).trim(), 'policies/production.yaml', 'the merge changed the policy only');
  t.same(errors(await verify(tr)), [`commit ${short(loosened)} ("Merge pull request #16 from acmerisk/pr-16") changed policies/production.yaml on main but has no record (it is newer than the last record: was it mirrored?)`]);
  tr.h.deploy('production', loosened, '2026-11-21T08:01:00Z', []);
  const m = await mirrorCommit(tr.h, tr.store, loosened);
  t.same(m.written.map((w) => w.commit), [loosened]);
  t.same(errors(await verify(tr)), []);
});

t.test('a truncated bundle', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const file = join(tr.storeDir, `modelship/production/bundles/${tr.commits.canary}.bundle`);
  const whole = readFileSync(file);
  tamper(file, () => writeFileSync(file, whole.subarray(0, whole.length - 100)));
  const d = decodeRecord(readFileSync(recordPath(tr, 1)));
  if (!d.ok) throw new Error(d.reason);
  const { createHash } = await import('node:crypto');
  t.same(errors(await verify(tr)), [
    `record 1 (commit ${short(tr.commits.canary)}): bundle modelship/production/bundles/${tr.commits.canary}.bundle has sha256 ${createHash('sha256').update(whole.subarray(0, whole.length - 100)).digest('hex')} (${whole.length - 100} bytes), the record says ${d.statement.predicate.git.bundle.sha256} (${whole.length} bytes): the bundle was truncated or altered`,
  ]);
  tamper(file, () => unlinkSync(file));
  t.same(errors(await verify(tr)), [`record 1 (commit ${short(tr.commits.canary)}): bundle modelship/production/bundles/${tr.commits.canary}.bundle is missing from the store`]);
});

t.test('the bundles restore main up to the last record into an empty repository', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const empty = join(tr.h.work, 'restored');
  execFileSync('git', ['init', '-q', '--bare', empty]);
  for (const c of [tr.commits.policy, tr.commits.canary, tr.commits.promote, tr.commits.chargeback]) {
    const bundle = join(tr.storeDir, `modelship/production/bundles/${c}.bundle`);
    execFileSync('git', ['fetch', '-q', bundle, `refs/modelship-audit/*:refs/restored/*`], { cwd: empty });
  }
  t.equal(execFileSync('git', ['rev-parse', `${tr.commits.chargeback}^{tree}`], { cwd: empty, encoding: 'utf8' }).trim(), tr.h.git('2026-11-20T00:00:00Z', 'rev-parse', `${tr.commits.chargeback}^{tree}`));
  t.equal(execFileSync('git', ['fsck', '--connectivity-only', '--no-dangling'], { cwd: empty, encoding: 'utf8' }), '');
});

t.test('time comes from the store: a writer\'s clock within the skew is tolerated, a claim beyond it and a store written out of order are errors', async (t) => {
  const tr = await standardTrail({ mirror: false });
  t.teardown(tr.cleanup);
  const { h, store, commits } = tr;
  // The first writer's clock is right; the second runs 4 minutes fast (tolerated); the third 3 hours fast.
  await mirrorCommit(h, store, commits.policy, { now: '2026-11-10T09:05:00Z' });
  await mirrorCommit(h, store, commits.canary, { now: '2026-11-16T10:09:00Z', storedAt: '2026-11-16T10:05:00Z' });
  t.same(errors(await verify(tr, commits.canary)), [], 'a writer 4 minutes off the store\'s clock is within the allowed skew (5m)');
  await mirrorCommit(h, store, commits.promote, { now: '2026-11-18T13:01:00Z', storedAt: '2026-11-18T10:01:00Z' });
  t.same(errors(await verify(tr, commits.promote)), [
    `record 2 (commit ${short(commits.promote)}): claims it was recorded at 2026-11-18T13:01:00.000Z, but the store wrote it at 2026-11-18T10:01:00.000Z, 3 h earlier: more than the allowed skew (300 s)`,
  ]);
  // A folder's owner can set a file's time; S3 cannot be made to: verify still says when the store's own order contradicts seq.
  await mirrorCommit(h, store, commits.chargeback, { now: '2026-11-18T09:00:00Z' });
  t.same(errors(await verify(tr)).slice(1), [
    `record 3 (commit ${short(commits.chargeback)}): the store wrote it at 2026-11-18T09:00:00.000Z, before record 2 (2026-11-18T10:01:00.000Z): records were not written in seq order`,
  ]);
  // trace orders by seq; readiness times from skewed writers never make time run backwards
  const r = await verify(tr, commits.promote);
  const index = viewOf(buildIndex('production', r.records));
  const a = trace(index, 'fraud-detector', new Date('2026-11-19T00:00:00Z'));
  t.match(a, { found: true, stable: { version: '2026.11.13-1', promotedBy: { seq: 2 } } });
});

t.test('without a store clock (a store that gives no write time), a writer\'s step back beyond the skew is a warning', async (t) => {
  const tr = await standardTrail({ mirror: false });
  t.teardown(tr.cleanup);
  await mirrorCommit(tr.h, tr.store, tr.commits.policy, { now: '2026-11-10T09:05:00Z' });
  await mirrorCommit(tr.h, tr.store, tr.commits.canary, { now: '2026-11-16T10:05:00Z' });
  await mirrorCommit(tr.h, tr.store, tr.commits.promote, { now: '2026-11-16T09:55:00Z' });
  const settings = await auditSettings(tr.h.repo.root, tr.commits.promote, 'production');
  const timeless: AuditStore = { location: tr.store.location, list: (p, a) => tr.store.list(p, a), read: (k) => tr.store.read(k), writeOnce: (k, b) => tr.store.writeOnce(k, b),
    objects: async (p) => (await tr.store.objects(p)).map(({ key }): StoredObject => ({ key })) };
  const r2 = await verifyEnvironment({ root: tr.h.repo.root, rev: tr.commits.promote, settings, store: timeless });
  t.equal(r2.ok, true);
  t.same(r2.findings.map((f) => `${f.severity}: ${f.message}`), [
    `warning: record 2 (commit ${short(tr.commits.promote)}): recorded at 2026-11-16T09:55:00.000Z, 600 s before record 1: the writers' clocks disagree by more than the allowed skew (300 s); order follows seq`,
  ]);
});

t.test('a signing key outside its validity, beyond the allowed skew, is reported; within it, not', async (t) => {
  const keys = [{ id: demoKey.id, algorithm: 'ed25519' as const, publicKey: demoKey.publicKey, validFrom: '2026-11-10T09:10:00Z' }];
  const tr = await standardTrail({ keys, mirror: false });
  t.teardown(tr.cleanup);
  await mirrorCommit(tr.h, tr.store, tr.commits.policy, { now: '2026-11-10T09:06:00Z' }); // writer 4 minutes behind: tolerated
  await mirrorCommit(tr.h, tr.store, tr.commits.canary, { now: '2026-11-16T10:05:00Z' });
  t.same(errors(await verify(tr, tr.commits.canary)), []);
  const tr2 = await standardTrail({ keys, mirror: false });
  t.teardown(tr2.cleanup);
  await mirrorCommit(tr2.h, tr2.store, tr2.commits.policy, { now: '2026-11-10T09:00:00Z' }); // 10 minutes before the key's validity
  t.same(errors(await verify(tr2, tr2.commits.policy)), [`record 0 (commit ${short(tr2.commits.policy)}): signed by key "acme-audit-demo-2026", valid 2026-11-10T09:10:00.000Z to now, but the store wrote the record at 2026-11-10T09:00:00.000Z: outside the key's validity`]);
});

t.test('key rotation: records signed by the old key stay valid; the old key cannot sign after its end', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const next = generateKeyPairSync('ed25519');
  const nextPem = next.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const nextPublic = next.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  // A reviewed change: the old key ends, the new one begins.
  const rotate = tr.h.merge({
    number: 20, title: 'policies: rotate production\'s audit key', author: 'priya', at: '2026-11-25T09:00:00Z', approvers: [['omar', '2026-11-25T08:30:00Z']],
    edit: (root) => {
      const file = join(root, 'policies/production.yaml');
      const text = readFileSync(file, 'utf8').replace(/audit:[\s\S]*$/, '');
      writeFileSync(file, text);
      appendPolicy(root, 'production', auditSection([
        { id: demoKey.id, algorithm: 'ed25519', publicKey: demoKey.publicKey, validFrom: '2026-11-01T00:00:00Z', validUntil: '2026-11-25T09:00:00Z' },
        { id: 'acme-audit-2026-11-25', algorithm: 'ed25519', publicKey: nextPublic, validFrom: '2026-11-25T08:55:00Z' },
      ]));
    },
  });
  tr.h.deploy('production', rotate, '2026-11-25T09:01:00Z', []);
  await mirrorCommit(tr.h, tr.store, rotate, { now: '2026-11-25T09:02:00Z', signer: ed25519Signer(nextPem, 'acme-audit-2026-11-25') });
  const r = await verify(tr);
  t.same(errors(r), []);
  t.same(r.records.map((x) => x.keyids[0]), [demoKey.id, demoKey.id, demoKey.id, demoKey.id, 'acme-audit-2026-11-25']);
  // the retired key signing a later record (a stolen key) is refused by verify
  const late = tr.h.merge({
    number: 21, title: 'Promote fraud-detector@2026.11.06-1 to production', author: 'ada', at: '2026-12-01T09:00:00Z', approvers: [['grace', '2026-12-01T08:00:00Z']],
    edit: (root) => setPin(root, 'production', 'fraud-detector', { version: '2026.11.06-1' }),
  });
  tr.h.deploy('production', late, '2026-12-01T09:01:00Z', ['fraud-detector']);
  // The stolen key backdating its record into its validity: the store's clock says when it was written.
  const backdated = copyTrail(tr);
  t.teardown(backdated.cleanup);
  await mirrorCommit(backdated.h, backdated.store, late, { now: '2026-11-24T09:02:00Z', storedAt: '2026-12-01T09:02:00Z' });
  t.same(errors(await verify(backdated)), [
    `record 5 (commit ${short(late)}): signed by key "acme-audit-demo-2026", valid 2026-11-01T00:00:00.000Z to 2026-11-25T09:00:00.000Z, but the store wrote the record at 2026-12-01T09:02:00.000Z: outside the key's validity`,
    `record 5 (commit ${short(late)}): claims it was recorded at 2026-11-24T09:02:00.000Z, but the store wrote it at 2026-12-01T09:02:00.000Z, 7 days later: more than the allowed skew (300 s): backdated?`,
  ]);
  await mirrorCommit(tr.h, tr.store, late, { now: '2026-12-01T09:02:00Z' });
  t.same(errors(await verify(tr)), [`record 5 (commit ${short(late)}): signed by key "acme-audit-demo-2026", valid 2026-11-01T00:00:00.000Z to 2026-11-25T09:00:00.000Z, but the store wrote the record at 2026-12-01T09:02:00.000Z: outside the key's validity`]);
});
