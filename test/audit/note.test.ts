// C2SP signed notes (src/audit/note.ts) against the Go reference's own test vectors and cases
// (golang.org/x/mod/sumdb/note, note_test.go): the same keys, the same signed bytes, the same
// error texts.

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import t from 'tap';
import { ed25519NoteVerifier, ed25519VerifierKey, noteSignerFor, noteVerifierFor, openNote, parseVerifierKey, signNote, type NoteSigner } from '../../src/audit/note.js';
import { ed25519Signer, type Signer } from '../../src/audit/sign.js';

// Go's TestSign/TestOpen keys
const peterKey = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const peterPrivate = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const enochKey = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const text = 'If you think cryptography is the answer to your problem,\nthen you don\'t know what your problem is.\n';
const peterSig = '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const enochSig = '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

/** Go's signer key string as a note signer (the seed after the type byte). */
function goSigner(skey: string): NoteSigner {
  // PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || seed)>; the base64 may hold '+'
  const rest = skey.slice('PRIVATE+KEY+'.length);
  const name = rest.slice(0, rest.indexOf('+'));
  const b64 = rest.slice(rest.indexOf('+', name.length + 1) + 1);
  const pem = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(b64, 'base64').subarray(1)]), format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' }).toString();
  return noteSignerFor(name, ed25519Signer(pem, name), createPublicKey(pem));
}
/** Go slices messages by bytes: so do these. */
const bytes = (s: string) => Buffer.from(s, 'utf8');
const splice = (s: string, at: number, insert: string) => Buffer.concat([bytes(s).subarray(0, at), bytes(insert), bytes(s).subarray(at)]).toString('utf8');

t.test('signing: the bytes Go signs (TestSign)', async (t) => {
  const signer = goSigner(peterPrivate);
  t.equal(signer.keyId, 0xc74f20a3);
  t.equal(await signNote(text, [signer]), `${text}\n${peterSig}`);
  await t.rejects(signNote('abc', [signer]), { message: 'malformed note' }, 'text without a final newline');
  await t.rejects(signNote('a\tb\n', [signer]), { message: 'malformed note' }, 'a control character');
  await t.rejects(signNote(text, [{ ...signer, name: 'bad name' }]), { message: 'invalid signer' });
});

t.test('verifier keys: Go\'s accepted, every mangling refused (TestNewVerifier)', async (t) => {
  t.equal(parseVerifierKey(peterKey).keyId, 0xc74f20a3);
  let refused = 0;
  const b = [...bytes(peterKey)];
  const tryBad = (k: string) => {
    try {
      parseVerifierKey(k);
      t.fail(`accepted ${JSON.stringify(k)}`);
    } catch (e) {
      if ((e as Error).message.startsWith('malformed verifier key')) refused++;
    }
  };
  for (let i = 0; i <= b.length; i++) for (let j = i + 1; j <= b.length; j++) if (i !== 0 || j !== b.length) tryBad(Buffer.from(b.slice(i, j)).toString('latin1'));
  for (let i = 0; i < b.length; i++) tryBad(Buffer.from(b.map((c, k) => (k === i ? c + 1 : c))).toString('latin1'));
  tryBad('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='); // wrong length key, with adjusted key hash
  tryBad('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'); // unknown algorithm, with adjusted key hash
  t.equal(refused, (b.length * (b.length + 1)) / 2 - 1 + b.length + 2, 'each with the malformed-key message');
  const { publicKey } = generateKeyPairSync('ed25519');
  const vkey = ed25519VerifierKey('example.com/audit', publicKey);
  t.equal(parseVerifierKey(vkey).keyId, ed25519NoteVerifier('example.com/audit', publicKey).keyId, 'a key written is read back');
});

t.test('opening: Go\'s cases and messages (TestOpen)', async (t) => {
  const peter = parseVerifierKey(peterKey);
  const enoch = parseVerifierKey(enochKey);
  const one = openNote(`${text}\n${peterSig}${enochSig}`, [peter]);
  t.equal(one.text, text);
  t.same(one.verified.map((s) => s.name), ['PeterNeumann']);
  t.same(one.unverified.map((s) => [s.name, s.keyId]), [['EnochRoot', 0xaf0cfe78]], 'an unknown key is ignored, not trusted');
  t.same(openNote(`${text}\n${peterSig}${enochSig}`, [peter, enoch]).verified.map((s) => s.name), ['PeterNeumann', 'EnochRoot']);
  t.throws(() => openNote(`${text}\n${peterSig}${enochSig}`, []), { message: 'note has no verifiable signatures' });
  t.throws(() => openNote(`${text}\n${enochSig}`, [enoch, peter, enoch]), { message: 'ambiguous key EnochRoot+af0cfe78' });
  t.equal(openNote(`${text}\n${peterSig}`, [enoch, peter, enoch]).verified.length, 1, 'an unused duplicate verifier is harmless');
  t.throws(() => openNote(`${text}\n${peterSig.repeat(101)}`, [peter]), { message: 'malformed note' }, 'over 100 signatures');
  t.throws(() => openNote(`${text}\n${peterSig.repeat(101)}`, []), { message: 'malformed note' });
  t.throws(() => openNote(`${text}\n${splice(peterSig, 60, 'ABCD')}`, [peter]), { message: 'invalid signature for key PeterNeumann+c74f20a3' });
  const dup = openNote(`${text}\n${peterSig}${peterSig}${enochSig}${enochSig}${splice(enochSig, 60, 'ABCD')}`, [peter]);
  t.same(dup.verified.length, 1, 'a known key\'s repeated signature is dropped');
  const b64 = (line: string) => line.trim().split(' ')[2];
  t.same(dup.unverified.map((s) => s.base64), [b64(enochSig), b64(splice(enochSig, 60, 'ABCD'))], 'an unknown key\'s lines once each');
  for (const bad of [text, `${text}\n`, `${text}\n${peterSig.slice(0, -1)}`, `\u0001${text}\n${peterSig}`, `${text}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`, `${text}\n${peterSig}Unexpected line.\n`]) {
    t.throws(() => openNote(bad, [peter]), { message: 'malformed note' }, JSON.stringify(bad.slice(-40)));
  }
  t.throws(() => openNote(Buffer.concat([Buffer.from([0xff]), bytes(`${text}\n${peterSig}`)]), [peter]), { message: 'malformed note' }, 'not UTF-8');
});

t.test('ECDSA P-256 (type 0x02, AWS KMS keys): signed and verified, key ID from the SPKI', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const kmsLike: Signer = { keyid: 'kms', algorithm: 'ecdsa-p256-sha256', sign: async (data) => sign('sha256', data, { key: privateKey, dsaEncoding: 'der' }) };
  const signer = noteSignerFor('acme.example/audit', kmsLike, publicKey);
  const note = await signNote('acme.example/audit\n3\nAAAA\n', [signer]);
  const verifier = noteVerifierFor('acme.example/audit', 'ecdsa-p256-sha256', publicKey);
  t.equal(verifier.keyId, signer.keyId);
  t.equal(openNote(note, [verifier]).text, 'acme.example/audit\n3\nAAAA\n');
  const other = noteVerifierFor('acme.example/audit', 'ecdsa-p256-sha256', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
  t.throws(() => openNote(note, [other]), { message: 'note has no verifiable signatures' }, 'another key of the same name has another ID: unknown, so nothing verifies');
  t.throws(() => openNote(note.replace('\n3\n', '\n4\n'), [verifier]), { message: /^invalid signature for key acme\.example\/audit\+[0-9a-f]{8}$/ });
});
