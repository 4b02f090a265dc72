// Credentials stay in the cluster (#15): S3 and KMS take the pod's IAM role through the AWS SDK's
// default credential chain, never from anything modelship configures. Here the chain meets an
// EKS Pod Identity agent on loopback: the SDK reads AWS_CONTAINER_CREDENTIALS_FULL_URI and sends
// the token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (the variables EKS injects into the pod,
// https://docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html), and the S3 and KMS
// requests are signed with the session it answers. IRSA (AWS_WEB_IDENTITY_TOKEN_FILE +
// AWS_ROLE_ARN) goes through the same chain; no access key is read from modelship's settings.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import t from 'tap';
import { kmsSigner } from '../../src/adapters/kms.js';
import { s3Client } from '../../src/adapters/s3/store.js';
import { startKmsStandIn } from '../../tools/sandbox/kms/server.js';
import { ops, startTestS3 } from '../helpers/s3.js';

const credentialVariables = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'HOME'];

t.test('S3 and KMS sign with the session the pod\'s identity agent hands out; modelship configures no key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-pod-'));
  const s3 = await startTestS3(['acme-audit']);
  const kms = await startKmsStandIn({ aliases: ['alias/modelship-audit-production'] });
  // The Pod Identity agent: answers the SDK's GET with the role's temporary credentials, if it brings the pod's token.
  const asked: IncomingMessage['headers'][] = [];
  const agent = createServer((req, res) => {
    asked.push(req.headers);
    if (req.headers.authorization !== 'pod-service-account-token') return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      // s3rver checks signatures against its fixed key pair; a real agent hands out an ASIA… key
      AccessKeyId: 'S3RVER', SecretAccessKey: 'S3RVER', Token: 'session-token-of-the-pod-role',
      Expiration: new Date(Date.now() + 3_600_000).toISOString(), AccountId: '111122223333',
    }));
  });
  await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
  const saved = Object.fromEntries(credentialVariables.map((k) => [k, process.env[k]]));
  t.teardown(async () => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    await new Promise<void>((resolve) => agent.close(() => resolve()));
    await kms.stop();
    await s3.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const k of credentialVariables) delete process.env[k];
  writeFileSync(join(dir, 'token'), 'pod-service-account-token');
  Object.assign(process.env, {
    HOME: dir, // no ~/.aws to fall back on
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(agent.address() as AddressInfo).port}/v1/credentials`,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(dir, 'token'),
    AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true',
    MODELSHIP_S3_ENDPOINT: s3.endpoint, MODELSHIP_KMS_ENDPOINT: kms.url,
  });

  const client = s3Client();
  t.teardown(() => client.destroy());
  await client.send(new PutObjectCommand({ Bucket: 'acme-audit', Key: 'probe', Body: Buffer.from('x') }));
  const put = ops(s3, 'PutObject')[0]!;
  t.equal(put.status, 200, 's3rver verified the signature');
  t.match(put.headers.authorization, /Credential=S3RVER\//, 'signed with the key the agent handed out');
  t.equal(put.headers['x-amz-security-token'], 'session-token-of-the-pod-role', 'with its session token');

  const signer = await kmsSigner({ keyId: 'alias/modelship-audit-production' });
  t.equal(signer.keyid, kms.keys[0]!.arn);
  t.same(kms.requests.map((r) => r.signedBy), [{ accessKeyId: 'S3RVER', sessionToken: 'session-token-of-the-pod-role' }], 'KMS too');
  t.ok(asked.length >= 1 && asked.every((h) => h.authorization === 'pod-service-account-token'), 'the agent was asked with the pod\'s token');
});
