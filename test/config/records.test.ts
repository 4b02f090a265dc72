// The deployment record sync --record-dir writes and audit mirror reads back: read through its
// schema (strict), so a hand-edited or truncated record is refused with file, line and column.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { formatProblem, ValidationError } from '../../src/errors.js';
import { readDeploymentRecord } from '../../src/config/records.js';
import { deploymentRecord } from '../../src/sync/record.js';
import type { DeploymentRecord } from '../../src/model/deployments.js';

const commit = 'c0ffee'.padEnd(40, '0');
const record: DeploymentRecord = {
  environment: 'production', commit, startedAt: '2026-11-20T14:00:00Z', finishedAt: '2026-11-20T14:02:30Z', converged: true,
  models: [{ model: 'fraud-detector', version: '2026.11.20-1', canary: { version: '2026.11.27-1', traffic: 10 }, changed: true, previousVersion: '2026.11.13-1', deployed: true, kind: 'online+batch' }],
  objects: [{ key: 'InferenceService/ml-serving/fraud-detector', model: 'fraud-detector', target: 'kubernetes', op: 'update', outcome: 'ready', appliedAt: '2026-11-20T14:00:05Z', readyAt: '2026-11-20T14:02:00Z' }],
};

function write(t: Test, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-records-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, `${commit}.json`);
  writeFileSync(file, text);
  return file;
}

function refusal(t: Test, file: string): string[] {
  try {
    readDeploymentRecord(file);
  } catch (e) {
    t.type(e, ValidationError);
    t.match((e as Error).message, /is not a deployment record: 1 problem in 1 file/);
    return (e as ValidationError).problems.map(formatProblem);
  }
  t.fail('the record was accepted');
  return [];
}

t.test('a record as sync writes it reads back unchanged; a missing one is undefined', async (t) => {
  t.same(readDeploymentRecord(write(t, JSON.stringify(record, null, 2) + '\n')), record);
  t.equal(readDeploymentRecord(join(tmpdir(), 'modelship-no-such-dir', `${commit}.json`)), undefined);
});

t.test('what deploymentRecord builds passes the schema', async (t) => {
  const built = deploymentRecord({
    plan: { environment: 'staging', commit, actions: [] } as unknown as Parameters<typeof deploymentRecord>[0]['plan'],
    result: { converged: true, results: [] } as unknown as Parameters<typeof deploymentRecord>[0]['result'],
    startedAt: new Date('2026-11-20T14:00:00Z'), finishedAt: new Date('2026-11-20T14:01:00Z'),
    pins: { 'fraud-detector': { version: '2026.11.20-1', shadow: { version: '2026.11.27-1' } } },
  });
  t.same(readDeploymentRecord(write(t, JSON.stringify(built, null, 2))), built);
});

t.test('an unknown key is an error at its line and column (a typo must not pass silently)', async (t) => {
  const text = JSON.stringify({ ...record, models: [{ ...record.models[0], deployd: true }] }, null, 2);
  const lines = refusal(t, write(t, text));
  t.equal(lines.length, 1);
  t.match(lines[0], /\.json:19:7 {2}models\[0\]\.deployd {2}unknown key "deployd" \(did you mean "deployed"\?\)/);
});

t.test('a missing field, a wrong type and a bad commit are each named with what was expected and found', async (t) => {
  const { converged: _, ...withoutConverged } = record;
  t.match(refusal(t, write(t, JSON.stringify(withoutConverged, null, 2)))[0], /\.json:1:1 {2}converged {2}missing required key "converged"/);
  const wrongType = refusal(t, write(t, JSON.stringify({ ...record, objects: [{ ...record.objects[0], outcome: 'timeout' }] }, null, 2)));
  t.match(wrongType[0], /\.json:\d+:\d+ {2}objects\[0\]\.outcome {2}expected one of "unchanged", .*"skipped"; found the string "timeout"/);
  t.match(refusal(t, write(t, JSON.stringify({ ...record, commit: 'HEAD' }, null, 2)))[0], /\.json:3:\d+ {2}commit {2}.*40 or 64 lower-case hex digits/);
});

t.test('truncated JSON is a syntax error with its position', async (t) => {
  const text = JSON.stringify(record, null, 2);
  t.match(refusal(t, write(t, text.slice(0, 120)))[0], /\.json:\d+:\d+ {2}invalid JSON/);
});
