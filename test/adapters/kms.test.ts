// KMS signing through the real @aws-sdk/client-kms against the loopback stand-in: what is sent
// (Sign of SHA-256(PAE) as a DIGEST with ECDSA_SHA_256), and records verified with the public
// key as KMS returns it (DER SPKI), listed in the policy under the key's ARN.
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { kmsSigner, KmsError } from '../../src/adapters/kms.js';
import { auditSettings } from '../../src/audit/policy.js';
import { decodeRecord } from '../../src/audit/record.js';
import { pae } from '../../src/audit/sign.js';
import { verifyEnvironment } from '../../src/audit/trail.js';
import { startKmsStandIn, type KmsStandIn } from '../../tools/sandbox/kms/server.js';
import { mirrorCommit, standardTrail } from '../audit/history.js';

let kms: KmsStandIn;
t.before(async () => {
  kms = await startKmsStandIn({ aliases: ['alias/modelship-audit-production'] });
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI', AWS_REGION: 'us-east-1', MODELSHIP_KMS_ENDPOINT: kms.url });
});
t.teardown(() => kms.stop());

t.test('records signed by KMS verify with the DER SPKI public key GetPublicKey returns', async (t) => {
  const key = kms.keys[0]!;
  const signer = await kmsSigner({ keyId: 'alias/modelship-audit-production' });
  t.equal(signer.keyid, key.arn, 'records name the key by ARN, never by alias');
  t.ok(signer.publicKeyDer.equals(key.publicKeyDer));
  const tr = await standardTrail({
    mirror: false,
    keys: [{ id: key.arn, algorithm: 'ecdsa-p256-sha256', publicKey: signer.publicKeyDer.toString('base64'), validFrom: '2026-11-01T00:00:00Z' }],
  });
  t.teardown(tr.cleanup);
  const before = kms.requests.length;
  for (const c of [tr.commits.policy, tr.commits.canary, tr.commits.promote, tr.commits.chargeback]) await mirrorCommit(tr.h, tr.store, c, { signer });
  const signs = kms.requests.slice(before).filter((r) => r.target === 'TrentService.Sign');
  t.equal(signs.length, 4, 'one Sign per record');
  const record = readFileSync(join(tr.storeDir, 'modelship/production/records/000000000001.dsse.json'));
  const d = decodeRecord(record);
  if (!d.ok) throw new Error(d.reason);
  const digest = createHash('sha256').update(pae(d.envelope.payloadType, d.payload)).digest();
  t.match(signs[1]!.body, { KeyId: key.arn, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256', Message: digest.toString('base64') }, 'KMS gets the digest of the PAE only');
  // An independent check of one signature with node:crypto and nothing but the SPKI.
  const spki = createPublicKey({ key: Buffer.from(signer.publicKeyDer), format: 'der', type: 'spki' });
  t.ok(cryptoVerify('sha256', pae(d.envelope.payloadType, d.payload), { key: spki, dsaEncoding: 'der' }, Buffer.from(d.envelope.signatures[0]!.sig, 'base64')));
  const r = await verifyEnvironment({ root: tr.h.repo.root, rev: 'main', settings: await auditSettings(tr.h.repo.root, 'main', 'production'), store: tr.store });
  t.same(r.findings, []);
  t.same([...new Set(r.records.flatMap((x) => x.keyids))], [key.arn]);
});

t.test('KMS errors name the operation, the KMS error and what to check', async (t) => {
  await t.rejects(kmsSigner({ keyId: 'alias/no-such-key' }), new KmsError('read the public key of alias/no-such-key', "NotFoundException: Key 'alias/no-such-key' does not exist", 'check the key id (MODELSHIP_AUDIT_KMS_KEY) and the region'));
  const key = kms.createKey('alias/disabled');
  const signer = await kmsSigner({ keyId: 'alias/disabled' });
  key.enabled = false;
  await t.rejects(signer.sign(Buffer.from('x')), { name: 'KmsError', exitCode: 3, message: `kms: sign with ${key.arn}: DisabledException: ${key.arn} is disabled.` });
});
