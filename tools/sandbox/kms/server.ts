// A loopback stand-in for AWS KMS's asymmetric signing, for the demo and the tests: it speaks the
// KMS JSON 1.1 protocol (POST /, X-Amz-Target: TrentService.<Operation>, blobs as base64) for
// GetPublicKey, DescribeKey and Sign with ECC_NIST_P256 keys, and answers errors the way KMS does
// ({"__type": "NotFoundException", "message": ...}). GetPublicKey returns the DER SPKI, as KMS does.
// What it does not do: check SigV4 signatures (it only requires an AWS4-HMAC-SHA256
// Authorization header), key policies, grants, other key specs or algorithms, CloudTrail.

import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signDigest } from './ecdsa.js';

export interface KmsKey {
  keyId: string;
  arn: string;
  aliases: string[];
  publicKeyDer: Buffer;
  enabled: boolean;
  private: KeyObject;
  /** KeyMetadata.CreationDate */
  createdAt: Date;
}

export interface KmsRequest {
  target: string;
  body: Record<string, unknown>;
  status: number;
  /** the access key id the request was signed with (its SigV4 Credential scope) and its session token, if any */
  signedBy?: { accessKeyId: string; sessionToken?: string };
}

export interface KmsStandIn {
  url: string;
  keys: KmsKey[];
  requests: KmsRequest[];
  /** adds a P-256 signing key, optionally with an alias (alias/name) and a creation date (default now) */
  createKey(alias?: string, createdAt?: Date): KmsKey;
  stop(): Promise<void>;
}

const account = '111122223333';
const region = 'us-east-1';

export async function startKmsStandIn(options: { aliases?: string[]; port?: number } = {}): Promise<KmsStandIn> {
  const keys: KmsKey[] = [];
  const requests: KmsRequest[] = [];
  const createKey = (alias?: string, createdAt = new Date()): KmsKey => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyId = randomUUID();
    const key: KmsKey = {
      keyId, arn: `arn:aws:kms:${region}:${account}:key/${keyId}`, aliases: alias ? [alias] : [],
      publicKeyDer: publicKey.export({ format: 'der', type: 'spki' }), enabled: true, private: privateKey, createdAt,
    };
    keys.push(key);
    return key;
  };
  for (const a of options.aliases ?? []) createKey(a);

  const find = (id: unknown): KmsKey | undefined => {
    if (typeof id !== 'string') return undefined;
    const alias = id.replace(/^arn:aws:kms:[^:]+:\d+:/, '');
    return keys.find((k) => k.keyId === id || k.arn === id || k.aliases.includes(alias));
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      let body: Record<string, unknown> = {};
      const reply = (status: number, payload: unknown) => {
        const credential = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
        const token = req.headers['x-amz-security-token'];
        requests.push({ target, body, status, ...(credential ? { signedBy: { accessKeyId: credential, ...(typeof token === 'string' ? { sessionToken: token } : {}) } } : {}) });
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(payload));
      };
      const fail = (status: number, type: string, message: string) => reply(status, { __type: type, message });
      if (req.method !== 'POST' || !/^AWS4-HMAC-SHA256 /.test(String(req.headers.authorization ?? ''))) return fail(400, 'MissingAuthenticationTokenException', 'Request is missing Authentication Token');
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        return fail(400, 'SerializationException', 'the body is not JSON');
      }
      const key = find(body.KeyId);
      if (target === 'TrentService.GetPublicKey' || target === 'TrentService.Sign') {
        if (!key) return fail(400, 'NotFoundException', `Key '${String(body.KeyId)}' does not exist`);
        if (!key.enabled) return fail(400, 'DisabledException', `${key.arn} is disabled.`);
      }
      if (target === 'TrentService.GetPublicKey') {
        return reply(200, {
          KeyId: key!.arn, PublicKey: key!.publicKeyDer.toString('base64'), KeySpec: 'ECC_NIST_P256', CustomerMasterKeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ECDSA_SHA_256'],
        });
      }
      if (target === 'TrentService.DescribeKey') {
        // DescribeKey works on disabled keys too (Enabled false, KeyState Disabled) and returns
        // KeyMetadata with CreationDate as epoch seconds in the JSON protocol
        // (docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html, API_KeyMetadata.html).
        if (!key) return fail(400, 'NotFoundException', `Key '${String(body.KeyId)}' does not exist`);
        return reply(200, {
          KeyMetadata: {
            AWSAccountId: account, KeyId: key.keyId, Arn: key.arn, CreationDate: key.createdAt.getTime() / 1000, Enabled: key.enabled,
            KeyState: key.enabled ? 'Enabled' : 'Disabled', KeyManager: 'CUSTOMER', Origin: 'AWS_KMS', KeyUsage: 'SIGN_VERIFY',
            KeySpec: 'ECC_NIST_P256', CustomerMasterKeySpec: 'ECC_NIST_P256', SigningAlgorithms: ['ECDSA_SHA_256'], MultiRegion: false, Description: '',
          },
        });
      }
      if (target === 'TrentService.Sign') {
        if (body.SigningAlgorithm !== 'ECDSA_SHA_256') return fail(400, 'InvalidKeyUsageException', `Signing algorithm ${String(body.SigningAlgorithm)} is not valid for ${key!.arn}`);
        const message = Buffer.from(String(body.Message ?? ''), 'base64');
        const type = body.MessageType ?? 'RAW';
        if (type === 'DIGEST' && message.length !== 32) return fail(400, 'ValidationException', 'Digest is invalid length for algorithm ECDSA_SHA_256.');
        if (type === 'RAW' && (message.length < 1 || message.length > 4096)) return fail(400, 'ValidationException', 'Message length must be between 1 and 4096 bytes');
        if (type !== 'RAW' && type !== 'DIGEST') return fail(400, 'ValidationException', `MessageType ${String(type)} is not valid`);
        const digest = type === 'DIGEST' ? message : createHash('sha256').update(message).digest();
        const d = Buffer.from(key!.private.export({ format: 'jwk' }).d!, 'base64url');
        return reply(200, { KeyId: key!.arn, Signature: signDigest(d, digest).toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' });
      }
      return fail(400, 'UnknownOperationException', `${target} is not supported by the KMS stand-in`);
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keys, requests, createKey,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
