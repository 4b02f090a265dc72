// Who may sign audit records: the signing key (AWS KMS, or a local Ed25519 key) must be one the
// environment's policy trusts, and valid now. A new local key is made by `audit keygen`.

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { RefusedError, UsageError } from '../errors.js';
import type { AuditSettings } from './policy.js';
import { ed25519Signer, type Signer } from './sign.js';

/** Where the signing key comes from: a KMS key id, else a PEM file, else PEM text. */
export interface SigningKeySource {
  kmsKey?: string | undefined;
  keyFile?: string | undefined;
  pem?: string | undefined;
}

/** The signer: KMS when a key is named, else a local Ed25519 key. It must be one the policy trusts now. */
export async function trustedSigner(source: SigningKeySource, settings: AuditSettings): Promise<Signer> {
  let signer: Signer;
  let publicDer: Buffer;
  if (source.kmsKey) {
    const { kmsSigner } = await import('../adapters/kms.js');
    const s = await kmsSigner({ keyId: source.kmsKey });
    signer = s;
    publicDer = s.publicKeyDer;
  } else {
    const pem = source.keyFile ? readKeyFile(source.keyFile) : source.pem;
    if (!pem) throw new UsageError('audit mirror needs a signing key: --kms-key (or MODELSHIP_AUDIT_KMS_KEY) for AWS KMS, or --key-file / MODELSHIP_AUDIT_KEY_FILE / MODELSHIP_AUDIT_KEY for a local Ed25519 key');
    let local: Signer;
    try {
      local = ed25519Signer(pem, '');
    } catch (e) {
      throw new UsageError(`the audit signing key is not an Ed25519 private key: ${(e as Error).message}`);
    }
    publicDer = createPublicKey(createPrivateKey(pem)).export({ format: 'der', type: 'spki' });
    const trusted = settings.keys.find((k) => k.key.export({ format: 'der', type: 'spki' }).equals(publicDer));
    signer = { ...local, keyid: trusted?.id ?? '(untrusted)' };
  }
  const trusted = settings.keys.find((k) => k.id === signer.keyid && k.key.export({ format: 'der', type: 'spki' }).equals(publicDer));
  if (!trusted) {
    throw new RefusedError(`the signing key ${signer.keyid === '(untrusted)' ? '' : `${signer.keyid} `}is not among the keys ${settings.file} trusts; nothing was written`,
      `add it to audit.keys in a reviewed change: { id: ..., algorithm: ${signer.algorithm}, publicKey: ${publicDer.toString('base64')}, validFrom: ... }`);
  }
  const now = Date.now();
  if (trusted.validFrom && now < trusted.validFrom.getTime() - settings.skewMs || trusted.validUntil && now > trusted.validUntil.getTime() + settings.skewMs) {
    throw new RefusedError(`the signing key ${trusted.id} is not valid now (${trusted.validFrom?.toISOString()} to ${trusted.validUntil?.toISOString() ?? 'open'}); nothing was written`, 'sign with the current key');
  }
  return signer;
}

/** Writes a new Ed25519 private key (PKCS#8 PEM, mode 0600, never over an existing file); returns its audit.keys policy entry. */
export function newSigningKey(id: string, file: string, now: Date): string {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  try {
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    throw new UsageError(`cannot write ${file}: ${(e as Error).message}`);
  }
  return `- id: ${id}\n  algorithm: ed25519\n  publicKey: ${spki(publicKey)}\n  validFrom: ${now.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the signing key ${file}: ${(e as Error).message}`);
  }
}

function spki(key: KeyObject): string {
  return key.export({ format: 'der', type: 'spki' }).toString('base64');
}
