// The agent's audit duty, in-process, right after a sync: the deployment record handed over (no
// record folder), the release repository read from the agent's bare mirror, who asked and
// approved from GitHub through the App's installation (the GitHub stand-in in App mode), the
// record signed with the demo's local Ed25519 key and written once to the policy's store
// (s3rver, through the AWS SDK). The trail is then checked by `modelship audit verify`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import t, { type Test } from 'tap';
import { auditDuty, type DutyContext } from '../../src/agent/duties.js';
import { connectApp } from '../../src/adapters/github/app.js';
import { decodeRecord } from '../../src/audit/record.js';
import { startGitHub } from '../../tools/sandbox/github/server.js';
import { auditSection, appendPolicy, demoKey, History, setPin } from '../audit/history.js';
import { runCli } from '../helpers/cli.js';
import { makeReleaseRepo } from '../helpers/repo.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';
import { appKeys } from '../helpers/webhooks.js';

const app = { id: 4242, slug: 'modelship-acme', installationId: 9000 };
const owner = 'acmerisk';
const name = 'model-releases';
const keys = appKeys();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const savedEnv = { ...process.env };

let s3: TestS3;
t.before(async () => {
  // The audit bucket is versioned, as Object Lock requires; S3's clock is the story's (the duty's
  // `now`), so LastModified agrees with each record's recordedAt, as verify checks.
  s3 = await startTestS3(['acme-audit'], { versioned: ['acme-audit'] });
  s3.server.versions!.now = () => new Date('2026-11-20T10:05:00Z');
  // The store is reached through the AWS SDK's default chain, as in the cluster (IRSA there).
  Object.assign(process.env, s3.env);
});
t.teardown(async () => {
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  await s3.stop();
});

/** main with pull request #1 merged (production's policy, with or without an audit trail); the agent's mirror and App. */
async function stage(t: Test, o: { audit: boolean }) {
  process.env.GIT_AUTHOR_DATE = process.env.GIT_COMMITTER_DATE = '2026-11-20T09:00:00Z';
  const repo = makeReleaseRepo();
  t.teardown(repo.cleanup);
  const h = new History(repo, mkdtempSync(join(tmpdir(), 'modelship-audit-')));
  const gh = await startGitHub({ owner, repo: name, token: 'ghp_ada', login: 'ada', apps: [{ ...app, publicKey: keys.publicKey }] });
  t.teardown(() => gh.stop());
  // Pull request #1 as GitHub holds it: opened by ada, approved by lena, merged.
  const ada = new Octokit({ baseUrl: gh.url, auth: 'ghp_ada', log: quiet });
  gh.setBranch('pr-1', 'a'.repeat(40));
  await ada.rest.pulls.create({ owner, repo: name, head: 'pr-1', base: 'main', title: 'Promote chargeback-risk@2026.11.01-1 to production' });
  gh.addReview(1, 'lena', 'APPROVED', { commitId: 'a'.repeat(40) });
  await ada.rest.pulls.merge({ owner, repo: name, pull_number: 1 });
  const commit = h.merge({
    number: 1, title: 'Promote chargeback-risk@2026.11.01-1 to production', author: 'ada', at: '2026-11-20T10:00:00Z', approvers: [['lena', '2026-11-20T09:30:00Z']],
    edit: (root) => {
      if (o.audit) appendPolicy(root, 'production', auditSection([{ id: demoKey.id, algorithm: 'ed25519', publicKey: demoKey.publicKey, validFrom: '2026-11-01T00:00:00Z' }]));
      setPin(root, 'production', 'chargeback-risk', { version: '2026.11.01-1' });
    },
  });
  // The merge commit is the one made in git here (GitHub's merge button would have made it there): GitHub names it as the pull request's.
  gh.state.pull(1)!.pull.mergeCommitSha = commit;
  const record = h.deploy('production', commit, '2026-11-20T10:01:00Z', ['chargeback-risk']);
  const mirror = join(repo.root, '..', 'mirror.git');
  execFileSync('git', ['clone', '-q', '--bare', repo.origin, mirror]);
  const installation = await (await connectApp({ appId: app.id, privateKey: keys.privateKey, baseUrl: gh.url })).installation(app.installationId);
  const logs: string[] = [];
  const ctx: DutyContext = {
    environment: 'production', mirror, commit, releaseBranch: 'main', repository: { owner, repo: name },
    github: { client: installation.client, token: installation.token, cloneUrl: repo.origin, login: `${app.slug}[bot]` },
    env: { MODELSHIP_AUDIT_KEY_FILE: demoKey.file }, now: () => new Date('2026-11-20T10:05:00Z'), signal: new AbortController().signal,
    log: (l) => logs.push(l), metrics: { reconcile() {}, outOfSync() {}, lastSuccessfulSync() {}, webhook() {}, leader() {}, gate() {} },
  };
  return { repo, gh, ctx, logs, record, commit };
}

const recordKeys = async () => (await s3.keys('acme-audit')).filter((k) => k.includes('/records/'));

t.test('after a sync: the signed record of that deployment, with the approvals from GitHub; a second call writes nothing', async (t) => {
  const { repo, gh, ctx, logs, record, commit } = await stage(t, { audit: true });
  const before = await recordKeys();
  await auditDuty(ctx, record);
  t.match(logs.join('\n'), new RegExp(`^audit production: recorded seq 0 for ${commit.slice(0, 12)} \\(PR #1\\)$`, 'm'));
  t.match(logs.join('\n'), /^audit production: 1 record written to s3:\/\/acme-audit\/modelship \(seq 0\)$/m);
  const written = (await recordKeys()).filter((k) => !before.includes(k));
  t.same(written, ['modelship/production/records/000000000000.dsse.json']);
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const body = await (await s3.client.send(new GetObjectCommand({ Bucket: 'acme-audit', Key: written[0]! }))).Body!.transformToByteArray();
  const decoded = decodeRecord(Buffer.from(body));
  t.ok(decoded.ok);
  if (!decoded.ok) return;
  const p = decoded.statement.predicate;
  t.match(p, {
    environment: 'production', seq: 0, recordedAt: '2026-11-20T10:05:00.000Z', git: { repo: 'acmerisk/model-releases', commit },
    change: { kind: 'pull-request', pr: { number: 1 }, author: 'ada', approvers: [{ login: 'lena' }], source: 'github' },
    deployed: { result: 'converged', startedAt: record.startedAt, finishedAt: record.finishedAt },
  });
  t.ok(gh.requests.some((r) => r.operationId === 'pulls/get' && /^token ghs_/.test(String(r.headers.authorization))), 'the pull request was read as the App\'s installation');

  // The trail verifies: signature by a trusted key, chain, git history (as an auditor runs it).
  const verified = await runCli(['audit', 'verify', '--env', 'production', '-C', repo.root], { env: s3.env });
  t.equal(verified.code, 0, verified.stdout + verified.stderr);
  t.match(verified.stdout, /^production: OK: 1 records? verified .*\n {2}signatures by acme-audit-demo-2026/);

  logs.length = 0;
  const puts = s3.requests.filter((r) => r.operation === 'PutObject').length;
  await auditDuty(ctx, record);
  t.same(logs, [`audit production: nothing to record: ${commit.slice(0, 12)} is already recorded (seq 0)`]);
  t.equal(s3.requests.filter((r) => r.operation === 'PutObject').length, puts, 'nothing written');
  t.same((await recordKeys()).filter((k) => !before.includes(k)), written);
});

t.test('no audit trail in the policy: skipped with a log line, nothing signed or stored', async (t) => {
  const { ctx, logs, record, commit } = await stage(t, { audit: false });
  const requests = s3.requests.length;
  await auditDuty(ctx, record);
  t.same(logs, [`audit production: skipped: policies/production.yaml at ${commit.slice(0, 12)} declares no audit trail`]);
  t.equal(s3.requests.length, requests, 'S3 was not called');
});

t.test('a record of another environment is refused; nothing is written', async (t) => {
  const { ctx, record } = await stage(t, { audit: true });
  const requests = s3.requests.length;
  await t.rejects(auditDuty(ctx, { ...record, environment: 'staging' }), { message: 'audit production: the deployment record is for staging; nothing was written' });
  t.equal(s3.requests.length, requests);
});

t.test('no signing key: the duty fails with audit mirror\'s message, nothing written', async (t) => {
  const { ctx, record } = await stage(t, { audit: true });
  ctx.env = {};
  const before = await recordKeys();
  await t.rejects(auditDuty(ctx, record), { message: /^audit mirror needs a signing key: --kms-key \(or MODELSHIP_AUDIT_KMS_KEY\)/ });
  t.same(await recordKeys(), before);
});
