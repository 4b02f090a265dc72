// The trust root (src/audit/trust-root.ts): store, checkpoints and keys pinned by the auditor,
// not read from main at HEAD. The attack it answers (issue #17): one commit replaces the public
// key under the trusted id, backdates its validity and points audit.store at a new location;
// mirroring with the attacker's key makes a trail of its own there, which verify, trusting HEAD,
// calls OK, and the genuine trail FAILED.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { mirrorTrail, traceModel, trustRootAt, verifyTrails } from '../../src/audit/flows.js';
import { decodeRecord } from '../../src/audit/record.js';
import { ed25519Signer } from '../../src/audit/sign.js';
import { DirectoryStore } from '../../src/audit/store.js';
import { readTrustRoot } from '../../src/audit/trust-root.js';
import { ValidationError } from '../../src/errors.js';
import { demoKey, mirrorCommit, scratchDir, standardTrail } from './history.js';

const short = (c: string) => c.slice(0, 12);

t.test('a key replaced under its id and the store moved: verify from HEAD is fooled; from the pinned trust root it is not', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const dir = scratchDir(t, 'trust-root');
  // The auditor pins the trust root at a revision they reviewed.
  const rootFile = join(dir, 'production.trust-root.json');
  const pinned = await trustRootAt(tr.h.repo.root, 'main', 'production');
  t.same(pinned, {
    format: 'modelship-audit-trust-root/1', environment: 'production', store: 's3://acme-audit/modelship',
    keys: [{ id: demoKey.id, algorithm: 'ed25519', publicKey: demoKey.publicKey, validFrom: '2026-11-01T00:00:00Z' }],
  });
  writeFileSync(rootFile, JSON.stringify(pinned, null, 2));

  // The attack: one commit on main swaps the key under the same id, backdates it, and moves the store.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const theirs = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const attack = tr.h.merge({
    number: 20, title: 'policies: tidy the audit section', author: 'mallory', at: '2026-11-21T08:00:00Z', approvers: [],
    edit: (root) => {
      const file = join(root, 'policies/production.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace(demoKey.publicKey, theirs).replace('validFrom: 2026-11-01T00:00:00Z', 'validFrom: 2020-01-01T00:00:00Z').replace('store: s3://acme-audit/modelship', 'store: s3://mallory-audit/modelship'));
    },
  });
  const elsewhere = join(dir, 'their-store');
  tr.h.deploy('production', attack, '2026-11-21T08:01:00Z', []);
  const forged = await mirrorCommit(tr.h, new DirectoryStore(elsewhere), attack, { signer: ed25519Signer(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), demoKey.id) });
  t.same(forged.written.map((w) => w.seq), [0], 'a one-record trail of their own');

  const verify = async (store: string, trustRoots?: string[]) => {
    const [v] = await verifyTrails({ root: tr.h.repo.root, rev: 'main', environments: ['production'], store, ...(trustRoots ? { trustRoots } : {}), cacheDir: join(dir, 'cache') }, () => undefined);
    const f = v!.result.findings;
    return { ok: v!.result.ok, errors: f.filter((x) => x.severity === 'error').map((x) => x.message), warnings: f.filter((x) => x.severity === 'warning').map((x) => x.message) };
  };
  // Trusting HEAD: their trail verifies, the genuine one does not.
  t.equal((await verify(elsewhere)).ok, true, 'HEAD\'s policy vouches for the forged trail');
  t.equal((await verify(tr.storeDir)).ok, false, 'and fails the genuine one');

  // Trusting the pinned root: the genuine trail is read and verified with the genuine key; the attack is named.
  const genuine = await verify(tr.storeDir, [rootFile]);
  t.same(genuine.errors, [`commit ${short(attack)} ("Merge pull request #20 from acmerisk/pr-20") changed policies/production.yaml on main but has no record (it is newer than the last record: was it mirrored?)`]);
  t.same(genuine.warnings.filter((w) => w.startsWith('policies/')), [
    'policies/production.yaml names the store s3://mallory-audit/modelship; the trust root pins s3://acme-audit/modelship, which is read',
    `policies/production.yaml gives key ${demoKey.id} another public key or validity than the trust root: the trust root's is used`,
  ]);
  // Their trail, checked against the pinned key, is not signed by it.
  const forgedUnderRoot = await verify(elsewhere, [rootFile]);
  t.equal(forgedUnderRoot.ok, false);
  t.match(forgedUnderRoot.errors.join('\n'), new RegExp(`signature by key "${demoKey.id}" does not verify`));

  // trace answers under the root only from a trail that verifies under it: not theirs.
  const ask = (store: string) => traceModel({ root: tr.h.repo.root, rev: 'main', environment: 'production', model: 'fraud-detector', at: new Date('2026-11-19T12:00:00Z'), store, trustRoot: rootFile, cacheDir: join(dir, 'trace-cache'), log: () => undefined });
  await t.rejects(ask(elsewhere), { message: `the audit trail of production does not verify under the trust root ${rootFile} (${forgedUnderRoot.errors.length} problems): trace answers only from a verified trail` });
  await t.rejects(ask(tr.storeDir), { message: /^the audit trail of production does not verify under the trust root .* \(1 problems\)/ }, 'nor the genuine one while the attack is on main unrecorded');
});

t.test('trace under a trust root answers from the genuine trail, verified under the pinned keys', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const dir = scratchDir(t, 'trust-root');
  const rootFile = join(dir, 'production.trust-root.json');
  writeFileSync(rootFile, JSON.stringify(await trustRootAt(tr.h.repo.root, 'main', 'production')));
  const lines: string[] = [];
  const ask = () => traceModel({ root: tr.h.repo.root, rev: 'main', environment: 'production', model: 'fraud-detector', at: new Date('2026-11-19T12:00:00Z'), store: tr.storeDir, trustRoot: rootFile, cacheDir: join(dir, 'cache'), log: (l) => lines.push(l) });
  const answer = await ask();
  t.match(answer, { found: true, environment: 'production', model: 'fraud-detector' });
  t.same(lines, ['production: index rebuilt from 4 records verified under the trust root']);
  t.same(await ask(), answer, 'the second answer comes from the index');
  t.equal(lines.length, 1);
  await t.rejects(traceModel({ root: tr.h.repo.root, rev: 'main', environment: 'staging', model: 'fraud-detector', at: new Date(), trustRoot: rootFile, log: () => undefined }), { message: `the trust root ${rootFile} is for production, not staging` });
});

t.test('key rotation under a trust root: a new key is trusted from a record signed by the old key and by itself, and only so', async (t) => {
  const old = ed25519Signer(readFileSync(demoKey.file, 'utf8'), demoKey.id);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const next = ed25519Signer(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'acme-audit-2027');
  const nextPublic = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const { privateKey: p2 } = generateKeyPairSync('ed25519');
  /** The standard trail, pinned; then the rotation merged and mirrored with `signers`, then a promotion mirrored with the new key. */
  const rotate = async (t: Test, signers: { by: typeof old; also?: Array<typeof old> }) => {
    const tr = await standardTrail();
    t.teardown(tr.cleanup);
    const dir = scratchDir(t, 'rotation');
    const rootFile = join(dir, 'production.trust-root.json');
    writeFileSync(rootFile, JSON.stringify(await trustRootAt(tr.h.repo.root, 'main', 'production')));
    const rotation = tr.h.merge({
      number: 30, title: 'policies: rotate the audit key', author: 'priya', at: '2026-11-21T08:00:00Z', approvers: [['omar', '2026-11-21T07:50:00Z']],
      edit: (root) => {
        const file = join(root, 'policies/production.yaml');
        writeFileSync(file, readFileSync(file, 'utf8').replace('      validFrom: 2026-11-01T00:00:00Z\n', `      validFrom: 2026-11-01T00:00:00Z\n      validUntil: 2026-11-22T00:00:00Z\n    - id: acme-audit-2027\n      algorithm: ed25519\n      publicKey: ${nextPublic}\n      validFrom: 2026-11-21T00:00:00Z\n`));
      },
    });
    tr.h.deploy('production', rotation, '2026-11-21T08:01:00Z', []);
    await mirrorCommit(tr.h, tr.store, rotation, { signer: signers.by, ...(signers.also ? { nextSigners: signers.also } : {}), now: '2026-11-21T08:05:00Z' });
    const later = tr.h.merge({
      number: 31, title: 'Promote fraud-detector@2026.11.20-1 to production', author: 'ada', at: '2026-11-23T10:00:00Z', approvers: [['grace', '2026-11-23T09:00:00Z']],
      edit: (root) => writeFileSync(join(root, 'environments/production.yaml'), readFileSync(join(root, 'environments/production.yaml'), 'utf8').replace(/version: 2026\.11\.13-1/, 'version: 2026.11.20-1')),
    });
    tr.h.deploy('production', later, '2026-11-23T10:01:00Z', ['fraud-detector']);
    await mirrorCommit(tr.h, tr.store, later, { signer: next, now: '2026-11-23T10:05:00Z' });
    const [v] = await verifyTrails({ root: tr.h.repo.root, rev: 'main', environments: ['production'], store: tr.storeDir, trustRoots: [rootFile], cacheDir: join(dir, 'cache') }, () => undefined);
    return v!.result.findings.filter((f) => f.severity === 'error').map((f) => `${f.seq}: ${f.message.replace(/^record \d+ \(commit [0-9a-f]{12}\): /, '').replace(rootFile, '<root file>')}`);
  };
  t.same(await rotate(t, { by: old, also: [next] }), [], 'countersigned by the new key: the later record verifies under the old root');
  t.same(await rotate(t, { by: old }), [
    '4: adds key "acme-audit-2027" to the trail\'s keys without a signature by it: not trusted',
    '5: signed by unknown key "acme-audit-2027" (not among the keys the trust root <root file> pins)',
  ], 'signed by the old key alone: the new key is not taken');
  const forger = ed25519Signer(p2.export({ format: 'pem', type: 'pkcs8' }).toString(), demoKey.id);
  t.same((await rotate(t, { by: forger, also: [next] })).filter((e) => e.startsWith('4:')), [
    `4: the signature by key "${demoKey.id}" does not verify: the record was changed after it was signed`,
    '4: signed only by acme-audit-2027, which the record itself introduces: not trusted',
  ], 'not signed by a trusted key: the rotation is refused');
});

t.test('audit mirror --next-key-file countersigns the rotation record; a next key the policy does not trust is refused', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const dir = scratchDir(t, 'rotation-cli');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const nextFile = join(dir, 'next.pem');
  writeFileSync(nextFile, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 });
  const nextPublic = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const rotation = tr.h.merge({
    number: 30, title: 'policies: rotate the audit key', author: 'priya', at: '2026-11-21T08:00:00Z', approvers: [['omar', '2026-11-21T07:50:00Z']],
    edit: (root) => {
      const file = join(root, 'policies/production.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace('      validFrom: 2026-11-01T00:00:00Z\n', `      validFrom: 2026-11-01T00:00:00Z\n    - id: acme-audit-2027\n      algorithm: ed25519\n      publicKey: ${nextPublic}\n      validFrom: 2026-11-21T00:00:00Z\n`));
    },
  });
  tr.h.deploy('production', rotation, '2026-11-21T08:01:00Z', []);
  const lines: string[] = [];
  const request = { root: tr.h.repo.root, environment: 'production', rev: rotation, recordDir: tr.h.recordDir, store: tr.storeDir, github: false, recorderVersion: '0.1.0', key: { keyFile: demoKey.file }, log: (l: string) => lines.push(l) };
  const strangerFile = join(dir, 'stranger.pem');
  writeFileSync(strangerFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 });
  await t.rejects(mirrorTrail({ ...request, nextKey: { keyFile: strangerFile } }), { message: /^the signing key is not among the keys policies\/production\.yaml trusts; nothing was written$/ });
  const result = await mirrorTrail({ ...request, nextKey: { keyFile: nextFile } });
  t.same(result.written.map((w) => w.seq), [4]);
  const envelope = JSON.parse(readFileSync(join(tr.storeDir, result.written[0]!.key), 'utf8')) as { signatures: Array<{ keyid: string }> };
  t.same(envelope.signatures.map((x) => x.keyid), [demoKey.id, 'acme-audit-2027'], 'signed by the current key and the new one');
  t.same(lines.filter((l) => /without (its|their) signature/.test(l)), [], 'nothing left unsigned');
});

t.test('the genesis names the keys the trail starts with, even when the trail starts after the policy did', async (t) => {
  const tr = await standardTrail({ mirror: false });
  t.teardown(tr.cleanup);
  // Switched on at the canary: the policy's keys were already there, so the commit changed no key.
  await mirrorCommit(tr.h, tr.store, tr.commits.canary, { now: '2026-11-16T10:05:00Z' });
  await mirrorCommit(tr.h, tr.store, tr.commits.promote, { now: '2026-11-18T10:05:00Z' });
  const statement = (seq: number) => {
    const d = decodeRecord(readFileSync(join(tr.storeDir, `modelship/production/records/${String(seq).padStart(12, '0')}.dsse.json`)));
    if (!d.ok) throw new Error(d.reason);
    return d.statement;
  };
  t.same(statement(0).predicate.trust, { keys: [{ id: demoKey.id, algorithm: 'ed25519', publicKey: demoKey.publicKey, validFrom: '2026-11-01T00:00:00Z' }] });
  t.equal(statement(1).predicate.trust, undefined, 'later records list keys only when they change');
});

t.test('a trust root that is not one is refused with the line, column, field, what was expected and what was found', async (t) => {
  const dir = scratchDir(t, 'trust-root-bad');
  const file = join(dir, 'production.trust-root.json');
  writeFileSync(file, JSON.stringify({
    format: 'modelship-audit-trust-root/2', environment: 'production', store: 'https://acme-audit/modelship',
    keys: [{ id: demoKey.id, algorithm: 'rsa', publicKey: demoKey.publicKey, validFrom: 'yesterday' }],
  }, null, 2));
  const e = (() => { try { readTrustRoot(file); } catch (x) { return x as ValidationError; } return undefined; })();
  t.ok(e instanceof ValidationError);
  t.same(e!.problems.map((p) => `${p.file}:${p.line}:${p.col}  ${p.path}  ${p.message}`), [
    `${file}:2:13  format  expected "modelship-audit-trust-root/1", found the string "modelship-audit-trust-root/2"`,
    `${file}:4:12  store  expected an S3 URI (s3://bucket/key), found the string "https://acme-audit/modelship"`,
    `${file}:8:20  keys[0].algorithm  expected one of "ecdsa-p256-sha256", "ed25519"; found the string "rsa"`,
    `${file}:10:20  keys[0].validFrom  expected an RFC 3339 timestamp such as 2026-11-20T14:02:11Z, found the string "yesterday"`,
  ]);
  writeFileSync(file, '{"format": "modelship-audit-trust-root/1",');
  t.throws(() => readTrustRoot(file), { name: 'ValidationError', problems: [{ file, line: 1, message: /JSON/ }] });
});
