// #15: `audit mirror` records every deployment, including one that moves backwards (an older
// agent, a forced sync, a break-glass deploying an older commit after a newer one): a record of
// its own, next in the chain, marked deployed.direction "backwards"; `audit verify` accepts it
// and reports it as a backwards deployment, not tampering. An older commit without a deployment
// record is refused loudly; a deployment record older than the chain's head writes nothing and says why.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { auditSettings } from '../../src/audit/policy.js';
import { canonicalBytes, decodeRecord, envelopeBytes } from '../../src/audit/record.js';
import { ed25519Signer, signEnvelope } from '../../src/audit/sign.js';
import { verifyEnvironment } from '../../src/audit/trail.js';
import { buildIndex, trace, viewOf } from '../../src/audit/trace.js';
import { demoKey, mirrorCommit, setPin, standardTrail, type Trail } from './history.js';

const verify = async (tr: Trail, rev = 'main') => verifyEnvironment({ root: tr.h.repo.root, rev, settings: await auditSettings(tr.h.repo.root, rev, 'production'), store: tr.store });
const recordPath = (tr: Trail, seq: number) => join(tr.storeDir, `modelship/production/records/${String(seq).padStart(12, '0')}.dsse.json`);
const short = (c: string) => c.slice(0, 12);
const predicate = (tr: Trail, seq: number) => {
  const d = decodeRecord(readFileSync(recordPath(tr, seq)));
  if (!d.ok) throw new Error(d.reason);
  return d.statement.predicate;
};

t.test('an older commit deployed after a newer one: recorded as seq+1, marked backwards; verify reports it, and the chain goes on', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const { canary, promote, chargeback } = tr.commits;
  // The canary's commit (seq 1) deployed again after chargeback's (seq 3): the environment went back.
  tr.h.deploy('production', canary, '2026-11-20T08:00:00Z', ['fraud-detector', 'chargeback-risk']);
  const back = await mirrorCommit(tr.h, tr.store, canary, { now: '2026-11-20T08:03:20Z' });
  t.same(back.written.map((w) => [w.seq, w.commit, w.result, w.direction]), [[4, canary, 'converged', 'backwards']]);
  t.equal(back.nothing, undefined);
  const p = predicate(tr, 4);
  t.equal(p.deployed.direction, 'backwards');
  t.equal(p.git.commit, canary);
  t.equal(p.prev?.sha256, decodeRecord(readFileSync(recordPath(tr, 3))).digest, 'chained to the record before');
  t.same(p.deployed.changes, [
    { model: 'chargeback-risk', from: { version: '2026.11.01-1' }, to: { version: '2026.10.15-1' } },
    { model: 'fraud-detector', from: { version: '2026.11.13-1' }, to: { version: '2026.11.06-1', canary: { version: '2026.11.13-1', traffic: 10 } } },
  ], 'what moved back, from the last record\'s pins to the older commit\'s');
  t.equal(predicate(tr, 3).deployed.direction, undefined, 'a forward record carries no direction (as every record before #15)');

  let r = await verify(tr);
  t.equal(r.ok, true);
  t.same(r.findings, [{ severity: 'warning', seq: 4, commit: canary,
    message: `record 4 (commit ${short(canary)}): a backwards deployment: production went back from ${short(chargeback)} (record 3) to this older commit at 2026-11-20T08:02:30Z` }]);

  // trace follows what ran: after going back, the canary split serves again.
  const index = viewOf(buildIndex('production', r.records));
  const after = trace(index, 'fraud-detector', new Date('2026-11-21T00:00:00Z'));
  if (!after.found) throw new Error(after.reason);
  t.match(after.stable, { version: '2026.11.06-1', traffic: 90, promotedBy: { seq: 4 } });

  // main moves on; the next sync goes forward from what runs, through the commits it passes again.
  const next = tr.h.direct({ message: 'chargeback-risk back to 2026.10.15-1', at: '2026-11-21T10:00:00Z', edit: (root) => setPin(root, 'production', 'chargeback-risk', { version: '2026.10.15-1' }) });
  tr.h.deploy('production', next, '2026-11-21T10:01:00Z', ['fraud-detector', 'chargeback-risk']);
  const forward = await mirrorCommit(tr.h, tr.store, next, { now: '2026-11-21T10:05:00Z' });
  t.same(forward.written.map((w) => [w.seq, w.commit, w.result, w.direction]), [
    [5, promote, 'superseded', undefined], [6, chargeback, 'superseded', undefined], [7, next, 'converged', undefined],
  ]);
  r = await verify(tr);
  t.equal(r.ok, true, JSON.stringify(r.findings));
  t.same(r.findings.map((f) => `${f.severity} ${f.seq}`), ['warning 4', 'warning 7'], 'the backwards deployment, and the direct push without approval');
  t.match(r.findings[1]!.message, /no approval by someone other than the author/);
});

t.test('mirroring the deployment the chain has already passed writes nothing, and says why', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const { canary } = tr.commits;
  const older = await mirrorCommit(tr.h, tr.store, canary);
  t.same(older.written, []);
  t.equal(older.nothing, `${short(canary)} is older than the last record (seq 3, ${short(tr.commits.chargeback)}), and its deployment record (finished 2026-11-16T10:03:30Z) is not newer than that record's deployment (2026-11-19T14:03:30Z): not a deployment after it`);
});

t.test('an older commit with no deployment record is refused loudly, nothing written', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const { canary } = tr.commits;
  rmSync(join(tr.h.recordDir, 'production', `${canary}.json`));
  await t.rejects(mirrorCommit(tr.h, tr.store, canary), {
    name: 'UsageError',
    message: `no deployment record for ${short(canary)} in production, which is older than the last record (seq 3, ${short(tr.commits.chargeback)}): if it was deployed, run modelship sync --record-dir DIR for it and pass the same --record-dir; nothing was written`,
  });
  t.throws(() => readFileSync(recordPath(tr, 4)), 'no record 4');
});

t.test('a record marked backwards whose commit is not older than the one before: verify names it', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  // The writer's key signs a false mark on the newest record (a buggy or hostile writer).
  const file = recordPath(tr, 3);
  const env = JSON.parse(readFileSync(file, 'utf8'));
  const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
  statement.predicate.deployed.direction = 'backwards';
  const signed = envelopeBytes(await signEnvelope(canonicalBytes(statement), ed25519Signer(readFileSync(demoKey.file, 'utf8'), demoKey.id)));
  execFileSync('chmod', ['u+w', file, join(file, '..')]);
  const was = statSync(file).mtime;
  writeFileSync(file, signed);
  utimesSync(file, was, was); // as if written then (a folder's times are its owner's)
  const r = await verify(tr);
  t.equal(r.ok, false);
  t.same(r.findings.filter((f) => f.severity === 'error').map((f) => f.message),
    [`record 3 (commit ${short(tr.commits.chargeback)}): marked as moving backwards, but its commit comes after record 2's on main`]);
});
