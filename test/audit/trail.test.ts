// The trail end to end through the public functions: mirror after each synced merge, verify,
// trace; idempotence and the record's content (SOC 2 CC8.1 evidence, in-toto, DSSE, RFC 8785).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import t from 'tap';
import { auditSettings } from '../../src/audit/policy.js';
import { decodeRecord, predicateType, statementType } from '../../src/audit/record.js';
import { buildIndex, trace, viewOf } from '../../src/audit/trace.js';
import { verifyEnvironment } from '../../src/audit/trail.js';
import { mirrorCommit, standardTrail, type Trail } from './history.js';

let trail: Trail;
t.before(async () => {
  trail = await standardTrail();
});
t.teardown(() => trail.cleanup());

const verify = async (tr: Trail, rev = 'main') => verifyEnvironment({ root: tr.h.repo.root, rev, settings: await auditSettings(tr.h.repo.root, rev, 'production'), store: tr.store });
const records = (tr: Trail) => readdirSync(join(tr.storeDir, 'modelship/production/records')).sort();

t.test('four merges, four records, one chain; verify finds nothing wrong', async (t) => {
  t.same(records(trail), ['000000000000.dsse.json', '000000000001.dsse.json', '000000000002.dsse.json', '000000000003.dsse.json']);
  t.same(readdirSync(join(trail.storeDir, 'modelship/production/bundles')).length, 4);
  const r = await verify(trail);
  t.same(r.findings, []);
  t.equal(r.ok, true);
  t.equal(r.checked, 4);
  t.same(r.records.map((x) => x.keyids), [['acme-audit-demo-2026'], ['acme-audit-demo-2026'], ['acme-audit-demo-2026'], ['acme-audit-demo-2026']]);
});

t.test('a record is a DSSE envelope of an in-toto statement, canonical JSON, carrying the CC8.1 evidence', async (t) => {
  const bytes = readFileSync(join(trail.storeDir, 'modelship/production/records/000000000002.dsse.json'));
  t.equal(bytes.toString('utf8'), canonicalize(JSON.parse(bytes.toString('utf8'))), 'the stored envelope is RFC 8785 canonical');
  const d = decodeRecord(bytes);
  if (!d.ok) throw new Error(d.reason);
  t.equal(d.payload.toString('utf8'), canonicalize(JSON.parse(d.payload.toString('utf8'))), 'the signed payload is RFC 8785 canonical');
  t.equal(d.envelope.payloadType, 'application/vnd.in-toto+json');
  t.equal(d.statement._type, statementType);
  t.equal(d.statement.predicateType, predicateType);
  const p = d.statement.predicate;
  const prev = readFileSync(join(trail.storeDir, 'modelship/production/records/000000000001.dsse.json'));
  t.equal(p.prev?.sha256, decodeRecord(prev).digest, 'prev is the sha256 of the previous envelope');
  t.equal(p.git.commit, trail.commits.promote);
  t.equal(p.git.parents.length, 2);
  t.match(p.git.tree, /^[0-9a-f]{40}$/);
  t.equal(p.git.bundle.from, trail.commits.canary, 'the bundle is incremental from the previous record\'s commit');
  // who asked, who approved (not the author), what was tested, what was deployed, when
  t.match(p.change, { kind: 'pull-request', pr: { number: 12, title: 'Promote fraud-detector@2026.11.13-1 to production' }, author: 'ada', mergedAt: '2026-11-18T10:00:00Z', emergency: false, source: 'git' });
  t.same(p.change.approvers, [{ login: 'grace', at: '2026-11-18T09:15:00Z' }, { login: 'linus', at: '2026-11-18T09:30:00Z' }]);
  t.same(p.deployed.changes, [{ model: 'fraud-detector', from: { version: '2026.11.06-1', canary: { version: '2026.11.13-1', traffic: 10 } }, to: { version: '2026.11.13-1' } }]);
  t.equal(p.deployed.result, 'converged');
  t.equal(p.deployed.pins['fraud-detector']?.liveAt, '2026-11-18T10:03:00Z', 'live when its objects were seen ready');
  t.match(p.deployed.objects[0], { key: 'InferenceService/ml-serving/fraud-detector', outcome: 'ready', readyAt: '2026-11-18T10:03:00Z' });
  t.match(p.lineage['fraud-detector@2026.11.13-1'], { codeRepo: 'https://github.com/acmerisk/fraud-models', seed: Number, artifact: { sha256: /^[0-9a-f]{64}$/ } });
  t.match(d.statement.subject[0], { name: 'environments/production.yaml', digest: { gitCommit: trail.commits.promote, sha256: /^[0-9a-f]{64}$/ } });
  t.ok(d.statement.subject.some((s) => s.name === 'model/fraud-detector@2026.11.13-1'), 'the deployed artifact is a subject');
});

t.test('mirroring a commit again, or an older one, writes nothing', async (t) => {
  const again = await mirrorCommit(trail.h, trail.store, trail.commits.chargeback);
  t.same(again.written, []);
  t.match(again.nothing, /is already recorded \(seq 3\)/);
  const older = await mirrorCommit(trail.h, trail.store, trail.commits.canary);
  t.match(older.nothing, /is older than the last record \(seq 3/);
  t.equal(records(trail).length, 4);
});

t.test('trace: which version served, in which share, from when, promoted and approved by whom, trained on what', async (t) => {
  const r = await verify(trail);
  const index = viewOf(buildIndex('production', r.records));
  const during = trace(index, 'fraud-detector', new Date('2026-11-17T12:00:00Z'));
  if (!during.found) throw new Error(during.reason);
  t.match(during.stable, { version: '2026.11.06-1', traffic: 90, window: { from: '2026-11-10T09:03:30Z', to: '2026-11-18T10:03:00Z' }, promotedBy: { seq: 0 } });
  t.match(during.canary, { version: '2026.11.13-1', traffic: 10, window: { from: '2026-11-16T10:03:00Z', to: '2026-11-18T10:03:00Z' }, promotedBy: { seq: 1, pr: { number: 11 }, author: 'ada' } });
  const after = trace(index, 'fraud-detector', new Date('2026-11-20T00:00:00Z'));
  if (!after.found) throw new Error(after.reason);
  t.match(after.stable, { version: '2026.11.13-1', traffic: 100, window: { from: '2026-11-18T10:03:00Z' }, promotedBy: { seq: 2, pr: { number: 12 }, approvers: [{ login: 'grace' }, { login: 'linus' }] } });
  t.notOk(after.stable.window.to, 'still live');
  t.equal(after.canary, undefined);
  t.match(after.stable.lineage, { trainingData: { snapshot: String }, hyperparameters: Object, pipelineRunId: String });
  const before = trace(index, 'fraud-detector', new Date('2026-11-01T00:00:00Z'));
  t.match(before, { found: false, reason: 'the trail shows fraud-detector in production only from 2026-11-10T09:03:30Z' });
  t.match(trace(index, 'no-such-model', new Date()), { found: false, reason: 'no-such-model was never deployed to production in the audit trail' });
});
