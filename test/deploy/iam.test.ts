// deploy/aws/agent-policy.json, the agent's IAM policy (IRSA or EKS Pod Identity): exactly the S3
// and KMS calls the code makes from the cluster, and nothing that could delete an audit record
// or shorten its Object Lock retention. The calls are read from the code itself: every
// `new <X>Command(` of the audit store and the KMS adapter, and the read calls of the S3 store
// (its writes are `register`'s, run by the training role, never by the agent).
// deploy/aws/auditor-policy.json, the auditor's (who runs `audit verify` and `trace`): read-only,
// exactly the read calls of the audit store, versions included (verify lists every version and
// delete marker with ListObjectVersions and reads a record's first version by its id).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from '../helpers/cli.js';

interface Statement { Sid?: string; Effect: string; Action: string | string[]; NotAction?: unknown; Resource: string | string[]; NotResource?: unknown; Condition?: Record<string, Record<string, unknown>> }
interface PolicyDocument { Version: string; Statement: Statement[] }

/** The IAM action each SDK command needs (docs.aws.amazon.com/service-authorization: Amazon S3, AWS KMS). */
const actionOf: Record<string, string[]> = {
  ListObjectsV2Command: ['s3:ListBucket'],
  ListObjectVersionsCommand: ['s3:ListBucketVersions'],
  GetObjectCommand: ['s3:GetObject'],
  HeadObjectCommand: ['s3:GetObject'], // HEAD is authorized as GetObject
  PutObjectCommand: ['s3:PutObject'],
  SignCommand: ['kms:Sign'],
  GetPublicKeyCommand: ['kms:GetPublicKey'],
};
const readCommands = new Set(['ListObjectsV2Command', 'ListObjectVersionsCommand', 'GetObjectCommand', 'HeadObjectCommand']);
/**
 * Calls of the audit store only verify makes (objects(), and read() of a version): the agent
 * mirrors and never verifies, so its role lacks them (the test below checks that only verify's
 * readers call objects()).
 */
const verifyOnly = new Set(['ListObjectVersionsCommand']);
/** Calls an auditor makes with its own role (audit verify), which the agent's code never reaches. */
const auditorOnly = new Set(['DescribeKeyCommand']);

const source = (file: string) => readFileSync(join(projectRoot, file), 'utf8');
const commandsIn = (text: string) => [...new Set([...text.matchAll(/new (\w+Command)\(/g)].map((m) => m[1]!))].sort();

/** Every action the agent's code needs, with the reason. */
function needed(): Map<string, string> {
  const out = new Map<string, string>();
  const add = (commands: string[], file: string) => {
    for (const c of commands) {
      const actions = actionOf[c];
      if (!actions) throw new Error(`${file} sends ${c}: add its IAM action to actionOf in test/deploy/iam.test.ts and decide whether deploy/aws/agent-policy.json grants it`);
      for (const a of actions) out.set(a, `${c} in ${file}`);
    }
  };
  const audit = source('src/adapters/s3/audit-store.ts');
  add(commandsIn(audit).filter((c) => !verifyOnly.has(c)), 'src/adapters/s3/audit-store.ts');
  // A PutObject with Object Lock headers also needs s3:PutObjectRetention (S3 API reference, PutObject, x-amz-object-lock-mode).
  if (/ObjectLockMode/.test(audit)) out.set('s3:PutObjectRetention', 'PutObjectCommand with ObjectLockMode in src/adapters/s3/audit-store.ts');
  // DescribeKey is the auditor's (kmsPublicKey: a KMS key as verify's trust root), never the agent's.
  add(commandsIn(source('src/adapters/kms.ts')).filter((c) => !auditorOnly.has(c)), 'src/adapters/kms.ts');
  add(commandsIn(source('src/adapters/s3/store.ts')).filter((c) => readCommands.has(c)), 'src/adapters/s3/store.ts (reads)');
  return out;
}

const forbidden = /^(s3:Delete|s3:BypassGovernanceRetention$|s3:PutBucketObjectLockConfiguration$|s3:PutObjectLegalHold$|s3:PutBucketVersioning$|s3:PutLifecycleConfiguration$|s3:PutBucketPolicy$|s3:DeleteBucketPolicy$|kms:ScheduleKeyDeletion$|kms:DisableKey$|kms:PutKeyPolicy$)|\*/;

/** What is wrong with the policy: missing or extra actions, deletes or retention changes, wildcards. */
/** What the auditor's code reads: every read call of the audit store, and s3:GetObjectVersion where it reads a version by its id. */
export function auditorNeeds(): Map<string, string> {
  const out = new Map<string, string>();
  const audit = source('src/adapters/s3/audit-store.ts');
  for (const c of commandsIn(audit).filter((x) => readCommands.has(x))) for (const a of actionOf[c]!) out.set(a, `${c} in src/adapters/s3/audit-store.ts`);
  // A GetObject with a VersionId is authorized as s3:GetObjectVersion (Service Authorization Reference, Amazon S3 actions).
  if (/GetObjectCommand\(\{[^}]*VersionId/.test(audit)) out.set('s3:GetObjectVersion', 'GetObjectCommand with VersionId in src/adapters/s3/audit-store.ts');
  return out;
}

export function review(policy: PolicyDocument, need: Map<string, string> = needed(), whose = 'the agent'): string[] {
  const problems: string[] = [];
  if (policy.Version !== '2012-10-17') problems.push(`Version must be "2012-10-17", found ${JSON.stringify(policy.Version)}`);
  const granted = new Set<string>();
  for (const s of policy.Statement) {
    const where = `statement ${s.Sid ?? '(no Sid)'}`;
    if (s.Effect !== 'Allow') problems.push(`${where}: only Allow statements are expected, found ${s.Effect}`);
    if (s.NotAction !== undefined || s.NotResource !== undefined) problems.push(`${where}: NotAction/NotResource grant everything else`);
    const actions = [s.Action].flat();
    const resources = [s.Resource].flat();
    for (const r of resources) if (r.includes('*') && !/^arn:aws:s3:::[a-z0-9.-]+\/[^*]*\*$/.test(r)) problems.push(`${where}: resource ${r} is too wide (only object prefixes may end in *)`);
    for (const a of actions) {
      if (forbidden.test(a)) problems.push(`${where}: ${a} could delete or unlock audit records, or is a wildcard`);
      granted.add(a);
    }
  }
  for (const [a, why] of need) if (!granted.has(a)) problems.push(`missing ${a} (${why})`);
  for (const a of granted) if (!need.has(a)) problems.push(`extra ${a}: no call in ${whose}'s code needs it`);
  return problems;
}

const policy = JSON.parse(source('deploy/aws/agent-policy.json')) as PolicyDocument;
const statement = (sid: string) => policy.Statement.find((s) => s.Sid === sid)!;

t.test('the agent\'s IAM policy grants exactly the S3 and KMS calls its code makes, and nothing that deletes or unlocks', async (t) => {
  t.same([...needed().keys()].sort(), ['kms:GetPublicKey', 'kms:Sign', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 's3:PutObjectRetention']);
  t.same(review(policy), []);
});

t.test('registry read-only; the audit prefix write-once; the signing key only to sign', async (t) => {
  t.same(statement('RegistryRead'), { Sid: 'RegistryRead', Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::acme-model-registry/*'] });
  t.same(statement('RegistryList').Resource, ['arn:aws:s3:::acme-model-registry']);
  t.same(statement('AuditTrailWriteOnce').Action, ['s3:GetObject', 's3:PutObject', 's3:PutObjectRetention']);
  t.same(statement('AuditTrailWriteOnce').Resource, ['arn:aws:s3:::acme-audit-trail/modelship/*'], 'only under the policy\'s audit.store prefix');
  t.same(statement('AuditTrailList').Condition, { StringLike: { 's3:prefix': ['modelship/*'] } });
  t.same(statement('AuditCheckpointsWriteOnce').Resource, ['arn:aws:s3:::acme-audit-checkpoints/modelship/*'], 'the checkpoints (policy audit.checkpoints) in a bucket of their own, write-once too');
  t.same(statement('AuditSign').Condition, { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'DIGEST' } }, 'as src/adapters/kms.ts signs');
  t.match(source('src/adapters/kms.ts'), /MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256'/);
  const trust = JSON.parse(source('deploy/aws/agent-trust-policy.json')) as PolicyDocument;
  t.same(Object.values(trust.Statement[0]!.Condition!.StringEquals!).sort(), ['sts.amazonaws.com', 'system:serviceaccount:modelship:modelship'], 'only the agent\'s ServiceAccount may assume it');
});

t.test('a policy that deletes, unlocks, uses a wildcard or lacks a call fails, saying which', async (t) => {
  const broken = structuredClone(policy);
  broken.Statement.push({ Sid: 'Cleanup', Effect: 'Allow', Action: ['s3:DeleteObjectVersion', 's3:BypassGovernanceRetention', 's3:*'], Resource: ['*'] });
  broken.Statement = broken.Statement.filter((s) => s.Sid !== 'AuditPublicKey');
  t.same(review(broken), [
    'statement Cleanup: resource * is too wide (only object prefixes may end in *)',
    'statement Cleanup: s3:DeleteObjectVersion could delete or unlock audit records, or is a wildcard',
    'statement Cleanup: s3:BypassGovernanceRetention could delete or unlock audit records, or is a wildcard',
    'statement Cleanup: s3:* could delete or unlock audit records, or is a wildcard',
    'missing kms:GetPublicKey (GetPublicKeyCommand in src/adapters/kms.ts)',
    'extra s3:DeleteObjectVersion: no call in the agent\'s code needs it',
    'extra s3:BypassGovernanceRetention: no call in the agent\'s code needs it',
    'extra s3:*: no call in the agent\'s code needs it',
  ]);
});

t.test('the auditor\'s IAM policy: read-only, the versions included, exactly what verify and trace read', async (t) => {
  const auditor = JSON.parse(source('deploy/aws/auditor-policy.json')) as PolicyDocument;
  t.same([...auditorNeeds().keys()].sort(), ['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions']);
  t.same(review(auditor, auditorNeeds(), 'the auditor'), []);
  t.same(auditor.Statement.find((s) => s.Sid === 'AuditTrailList')!.Action, ['s3:ListBucket', 's3:ListBucketVersions']);
  t.same(auditor.Statement.find((s) => s.Sid === 'AuditTrailRead')!.Resource, ['arn:aws:s3:::acme-audit-trail/modelship/*']);
  // Without the versions, verify could not see a delete marker or a version over a record.
  const blind = structuredClone(auditor);
  for (const s of blind.Statement) s.Action = [s.Action].flat().filter((a) => a !== 's3:ListBucketVersions' && a !== 's3:GetObjectVersion');
  t.same(review(blind, auditorNeeds(), 'the auditor'), [
    'missing s3:ListBucketVersions (ListObjectVersionsCommand in src/adapters/s3/audit-store.ts)',
    'missing s3:GetObjectVersion (GetObjectCommand with VersionId in src/adapters/s3/audit-store.ts)',
  ]);
  // The agent's role lacks them: only verify's readers list versions — the trail's records and
  // bundles (trail.ts), the newest checkpoint as verify reads it (checkpoints.ts; mirror's
  // publishCheckpoint lists without versions: test/audit/checkpoints.test.ts runs it on a store
  // whose objects() throws), and a trust root kept in S3 (flows.ts loadTrustRoot).
  const callers = execFileSync('git', ['grep', '-l', '-E', '\\.objects\\(', '--', 'src'], { cwd: projectRoot, encoding: 'utf8' }).trim().split('\n');
  t.same(callers, ['src/audit/checkpoints.ts', 'src/audit/flows.ts', 'src/audit/trail.ts'], 'objects() (ListObjectVersions) is called by verify\'s readers only');
  t.notMatch(source('deploy/aws/agent-policy.json'), /ListBucketVersions|GetObjectVersion/);
});
