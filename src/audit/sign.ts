// DSSE v1 envelopes: sign = Sign(PAE(payloadType, payload)), verified with trusted public keys.
// Signers sit behind one small interface: Ed25519 (node:crypto, a key from a file or the
// environment) locally, AWS KMS ECDSA P-256 in production (kms.ts). Verification needs only the
// public key (SPKI), the same bytes KMS GetPublicKey returns.

import { createPrivateKey, createPublicKey, hash, sign as edSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';

export const payloadType = 'application/vnd.in-toto+json';

export type SigningAlgorithm = 'ed25519' | 'ecdsa-p256-sha256';

export interface Envelope {
  payload: string;
  payloadType: string;
  signatures: Array<{ keyid: string; sig: string }>;
}

/** Something that signs DSSE pre-authentication encodings. */
export interface Signer {
  keyid: string;
  algorithm: SigningAlgorithm;
  /** signs PAE bytes; ECDSA signers sign SHA-256(PAE) and return DER */
  sign(pae: Buffer): Promise<Buffer>;
}

/** A public key the policy trusts, for records signed within its validity. */
export interface TrustedKey {
  id: string;
  algorithm: SigningAlgorithm;
  key: KeyObject;
  validFrom?: Date;
  validUntil?: Date;
}

/** DSSE's pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function pae(type: string, body: Buffer): Buffer {
  const t = Buffer.from(type, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${body.length} `), body]);
}

export async function signEnvelope(payload: Buffer, signer: Signer, more: readonly Signer[] = []): Promise<Envelope> {
  const data = pae(payloadType, payload);
  const signatures: Envelope['signatures'] = [];
  for (const s of [signer, ...more]) signatures.push({ keyid: s.keyid, sig: (await s.sign(data)).toString('base64') });
  return { payload: payload.toString('base64'), payloadType, signatures };
}

/** Whether `sig` over `data` verifies with `key` for the algorithm. Never throws on malformed signatures. */
export function verifySignature(algorithm: SigningAlgorithm, key: KeyObject, data: Buffer, sig: Buffer): boolean {
  try {
    return algorithm === 'ed25519'
      ? cryptoVerify(null, data, key, sig)
      : cryptoVerify('sha256', data, { key, dsaEncoding: 'der' }, sig);
  } catch {
    return false; // a signature that is not even DER, or a key of another type: it does not verify
  }
}

/** An Ed25519 signer from a PKCS#8 PEM private key. The keyid is the policy's name for its public key. */
export function ed25519Signer(pem: string, keyid: string): Signer {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the key is ${key.asymmetricKeyType}, not ed25519`);
  return { keyid, algorithm: 'ed25519', sign: async (data) => edSign(null, data, key) };
}

/** A public key given as PEM or as base64 DER SPKI (what KMS GetPublicKey returns). */
export function publicKeyFrom(text: string): KeyObject {
  const trimmed = text.trim();
  return trimmed.startsWith('-----BEGIN')
    ? createPublicKey(trimmed)
    : createPublicKey({ key: Buffer.from(trimmed.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
}

/** The algorithm a public key can verify, from its type and curve. */
export function algorithmOf(key: KeyObject): SigningAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256';
  return undefined;
}

export function sha256Hex(bytes: Buffer | string): string {
  // crypto.hash: one call, no Hash object (verify hashes every record and bundle of a trail).
  return hash('sha256', bytes, 'hex');
}
