// The packed signature batches verify's workers and its own thread check (src/audit/signature-batch.ts):
// each answer must be exactly verifySignature over pae(type, payload), whichever record it sits
// beside in the buffer, for both algorithms, and a key the batch's checker does not know never verifies.
import { generateKeyPairSync, sign } from 'node:crypto';
import t from 'tap';
import { BatchBuilder, checkBatch, type BatchKeys } from '../../src/audit/signature-batch.js';
import { pae, payloadType, verifySignature } from '../../src/audit/sign.js';

const ed = generateKeyPairSync('ed25519');
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const keys: BatchKeys = new Map([
  ['ed', { algorithm: 'ed25519', key: ed.publicKey }],
  ['ec', { algorithm: 'ecdsa-p256-sha256', key: ec.publicKey }],
]);
const signEd = (payload: Buffer) => sign(null, pae(payloadType, payload), ed.privateKey).toString('base64');
const signEc = (payload: Buffer) => sign('sha256', pae(payloadType, payload), { key: ec.privateKey, dsaEncoding: 'der' }).toString('base64');

t.test('each signature is answered as verifySignature answers it, in order', async (t) => {
  const payloads = Array.from({ length: 6 }, (_, i) => Buffer.from(JSON.stringify({ seq: i, text: 'é'.repeat(i * 50) })));
  const b = new BatchBuilder();
  b.add('0:0', 'ed', payloadType, payloads[0]!, signEd(payloads[0]!));
  b.add('1:0', 'ec', payloadType, payloads[1]!, signEc(payloads[1]!));
  b.add('2:0', 'ed', payloadType, payloads[2]!, signEd(payloads[3]!)); // a signature over another payload
  b.add('3:0', 'mallory', payloadType, payloads[3]!, signEd(payloads[3]!)); // a key the checker does not know
  b.add('4:0', 'ed', payloadType, payloads[4]!, '!!not base64!!');
  b.add('4:1', 'ec', payloadType, payloads[4]!, signEd(payloads[4]!)); // an Ed25519 signature under an ECDSA key id
  b.add('5:0', 'ed', 'text/plain', payloads[5]!, signEd(payloads[5]!)); // signed under another payload type
  t.equal(b.size, 7);
  t.same(b.ids, ['0:0', '1:0', '2:0', '3:0', '4:0', '4:1', '5:0']);
  t.same([...checkBatch(keys, b.build(1))], [1, 1, 0, 0, 0, 0, 0]);
  // The reference: the same checks one by one, as verify.ts makes them without workers.
  const one = (keyid: string, type: string, payload: Buffer, sig: string) => {
    const k = keys.get(keyid);
    return k ? Number(verifySignature(k.algorithm, k.key, pae(type, payload), Buffer.from(sig, 'base64'))) : 0;
  };
  t.same([one('ed', payloadType, payloads[0]!, signEd(payloads[0]!)), one('ed', 'text/plain', payloads[5]!, signEd(payloads[5]!))], [1, 0]);
});

t.test('a batch larger than its first buffer grows without losing what it holds', async (t) => {
  const b = new BatchBuilder();
  const big = Buffer.alloc(300 * 1024, 'x');
  for (let i = 0; i < 4; i++) b.add(`${i}:0`, 'ed', payloadType, big, signEd(big));
  const small = Buffer.from('{"seq":9}');
  b.add('9:0', 'ed', payloadType, small, signEd(small));
  const batch = b.build(7);
  t.ok(batch.bytes.byteLength >= 4 * big.length, 'one buffer holds every PAE');
  t.same([...checkBatch(keys, batch)], [1, 1, 1, 1, 1]);
});
