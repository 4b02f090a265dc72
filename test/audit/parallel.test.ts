// verify checks a long trail's signatures on worker threads, fed as the records are read
// (src/audit/trail.ts SignaturePool, src/audit/verify-worker.ts). Which thread checked a
// signature must not change a single finding. The worker exists only in dist/, so this test runs
// the compiled trail (npm test builds first), with the threshold lowered to this small trail.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { canonicalBytes } from '../../src/audit/record.js';
import { projectRoot, runCli } from '../helpers/cli.js';
import { standardTrail, type Trail } from './history.js';

type TrailModule = typeof import('../../src/audit/trail.js');
type PolicyModule = typeof import('../../src/audit/policy.js');

const recordPath = (tr: Trail, seq: number) => join(tr.storeDir, `modelship/production/records/${String(seq).padStart(12, '0')}.dsse.json`);

t.test('signatures checked on worker threads give exactly the findings of checking them here', async (t) => {
  const { verifyEnvironment, workerStats } = (await import(join(projectRoot, 'dist/audit/trail.js'))) as TrailModule;
  const { auditSettings } = (await import(join(projectRoot, 'dist/audit/policy.js'))) as PolicyModule;
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const settings = await auditSettings(tr.h.repo.root, 'main', 'production');
  const verify = (parallelFrom: number) => verifyEnvironment({ root: tr.h.repo.root, rev: 'main', settings, store: tr.store, parallelFrom });

  t.ok(availableParallelism() >= 2, 'this test needs two cores to start workers');
  const clean = await verify(1);
  t.equal(clean.ok, true, JSON.stringify(clean.findings));
  t.equal(clean.records.length, 4);

  // Record 1 edited in place (its signature no longer verifies); record 3 given a second
  // signature by a key the policy does not list.
  const file = recordPath(tr, 1);
  const env = JSON.parse(readFileSync(file, 'utf8'));
  const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
  statement.predicate.change.approvers = [{ login: 'mallory', at: '2026-11-16T09:00:00Z' }];
  env.payload = canonicalBytes(statement).toString('base64');
  const last = recordPath(tr, 3);
  const env3 = JSON.parse(readFileSync(last, 'utf8'));
  env3.signatures.push({ keyid: 'mallory-key', sig: env3.signatures[0].sig });
  execFileSync('chmod', ['u+w', file, last, join(file, '..')]);
  writeFileSync(file, canonicalBytes(env));
  writeFileSync(last, canonicalBytes(env3));

  const serial = await verify(Infinity);
  const before = workerStats.signatures;
  const parallel = await verify(1);
  t.equal(workerStats.signatures - before, 5, 'the workers checked all five signatures (the unknown key\'s too: verify reports it before asking)');
  t.equal(parallel.ok, false);
  t.same(parallel.findings, serial.findings, 'the same findings, in the same order');
  t.same(parallel.records.map((r) => [r.seq, r.keyids]), serial.records.map((r) => [r.seq, r.keyids]));
  const messages = parallel.findings.map((f) => f.message);
  t.ok(messages.some((m) => m.endsWith('the signature by key "acme-audit-demo-2026" does not verify: the record was changed after it was signed') && m.startsWith('record 1 ')), messages.join('\n'));
  t.ok(messages.some((m) => m.startsWith('record 3 ') && m.endsWith('signed by unknown key "mallory-key" (not among policies/production.yaml audit.keys)')), messages.join('\n'));
});

t.test('verify leaves a current index alone and rebuilds one whose entries were altered', async (t) => {
  const tr = await standardTrail();
  t.teardown(tr.cleanup);
  const cache = join(tr.storeDir, '..', 'index');
  const args = ['audit', 'verify', '--env', 'production', '--store', tr.storeDir, '--cache-dir', cache, '-C', tr.h.repo.root];
  const first = await runCli(args);
  t.equal(first.code, 0, first.stderr);
  const head = join(cache, 'production.json');
  const entries = join(cache, 'production.entries.ndjson');
  const written = { head: statSync(head).ino, entries: statSync(entries).ino };
  t.match(JSON.parse(readFileSync(head, 'utf8')), { format: 2, entriesSha256: /^[0-9a-f]{64}$/, source: { policySha256: /^[0-9a-f]{64}$/, bucket: 'acme-audit', prefix: 'modelship' } });

  const again = await runCli(args);
  t.equal(again.code, 0, again.stderr);
  t.same({ head: statSync(head).ino, entries: statSync(entries).ino }, written, 'the same trail: the index is not written again');

  writeFileSync(entries, readFileSync(entries, 'utf8').replace('"author":"ada"', '"author":"eve"'));
  const repaired = await runCli(args);
  t.equal(repaired.code, 0, repaired.stderr);
  t.not(statSync(entries).ino, written.entries, 'altered entries: the index is rebuilt');
  t.notMatch(readFileSync(entries, 'utf8'), '"author":"eve"');

  const trace = await runCli(['audit', 'trace', '--model', 'fraud-detector', '--env', 'production', '--at', '2026-11-20T00:00:00Z', '--store', tr.storeDir, '--cache-dir', cache, '--json', '-C', tr.h.repo.root]);
  t.equal(trace.code, 0, trace.stderr);
  t.equal(trace.stderr, '', 'trace finds the index current (the policy file unchanged) without rebuilding it');
  t.match(JSON.parse(trace.stdout), { found: true, stable: { version: '2026.11.13-1', promotedBy: { author: 'ada' } } });
});
