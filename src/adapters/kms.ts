// The production signer: AWS KMS `Sign` with an asymmetric ECC_NIST_P256 key (KeyUsage
// SIGN_VERIFY), ECDSA_SHA_256 over SHA-256(PAE) sent as MessageType DIGEST, so the record itself
// never leaves the runner and any size is fine. KMS answers with a DER signature that anyone can
// verify offline with the key's public half (GetPublicKey, DER SPKI), which is what the policy lists.

import { createHash } from 'node:crypto';
import { DescribeKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { KmsError } from '../errors.js';
import type { Signer } from '../audit/sign.js';

export { KmsError };

export interface KmsOptions {
  /** key id, ARN or alias/...; the record's keyid is the key's ARN as KMS reports it */
  keyId: string;
  /** a KMS-compatible endpoint (MODELSHIP_KMS_ENDPOINT); default AWS */
  endpoint?: string;
  region?: string;
}

export function kmsClient(o: Omit<KmsOptions, 'keyId'> = {}): KMSClient {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = o.endpoint ?? process.env.MODELSHIP_KMS_ENDPOINT;
  return new KMSClient({
    region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    maxAttempts: 4,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000, throwOnRequestTimeout: true },
  });
}

/** A signer backed by a KMS key. Resolves the key's ARN first: records name keys by ARN, never by alias. */
export async function kmsSigner(o: KmsOptions, client: KMSClient = kmsClient(o)): Promise<Signer & { publicKeyDer: Buffer }> {
  const pub = await send('read the public key of ' + o.keyId, () => client.send(new GetPublicKeyCommand({ KeyId: o.keyId })));
  if (pub.KeySpec !== 'ECC_NIST_P256' || pub.KeyUsage !== 'SIGN_VERIFY' || !pub.SigningAlgorithms?.includes('ECDSA_SHA_256')) {
    throw new KmsError(`use key ${o.keyId}`, `the key is ${pub.KeySpec} for ${pub.KeyUsage}; audit records need an ECC_NIST_P256 key for SIGN_VERIFY`,
      'create it with: aws kms create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY');
  }
  const keyid = pub.KeyId!;
  return {
    keyid, algorithm: 'ecdsa-p256-sha256', publicKeyDer: Buffer.from(pub.PublicKey!),
    async sign(data) {
      const digest = createHash('sha256').update(data).digest();
      const r = await send(`sign with ${keyid}`, () => client.send(new SignCommand({ KeyId: keyid, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })));
      return Buffer.from(r.Signature!);
    },
  };
}

/**
 * A key's public half and creation date as KMS reports them, for a verifier that pins the key
 * (audit verify --trust-root <key ARN>). Needs kms:GetPublicKey and kms:DescribeKey only.
 */
export async function kmsPublicKey(keyId: string, client: KMSClient = kmsClient()): Promise<{ arn: string; publicKeyDer: Buffer; keySpec: string; keyUsage: string; createdAt: Date }> {
  const [pub, described] = await Promise.all([
    send(`read the public key of ${keyId}`, () => client.send(new GetPublicKeyCommand({ KeyId: keyId }))),
    send(`describe ${keyId}`, () => client.send(new DescribeKeyCommand({ KeyId: keyId }))),
  ]);
  const m = described.KeyMetadata;
  if (!m?.CreationDate) throw new KmsError(`describe ${keyId}`, 'KMS gave no creation date for the key');
  return { arn: pub.KeyId!, publicKeyDer: Buffer.from(pub.PublicKey!), keySpec: pub.KeySpec ?? '?', keyUsage: pub.KeyUsage ?? '?', createdAt: m.CreationDate };
}

async function send<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const name = (e as { name?: string }).name ?? 'error';
    const hint = name === 'AccessDeniedException' ? 'the role needs kms:Sign and kms:GetPublicKey on the audit key (a verifier: kms:GetPublicKey and kms:DescribeKey)'
      : name === 'NotFoundException' ? 'check the key id (MODELSHIP_AUDIT_KMS_KEY) and the region' : undefined;
    throw new KmsError(operation, `${name}: ${(e as Error).message}`, hint, { cause: e });
  }
}
