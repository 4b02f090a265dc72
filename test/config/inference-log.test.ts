// environments/<env>.yaml `inferenceLog` and the policy's shadow and sample-ratio bounds: the
// schema refuses what the gates could not use, each problem with file, line, column and path.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { formatProblem } from '../../src/errors.js';
import { workingTree } from '../../src/config/snapshot.js';
import { validateSnapshot } from '../../src/config/state.js';
import { projectRoot } from '../helpers/cli.js';

function tree(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-tree-'));
  for (const d of ['environments', 'models', 'policies']) cpSync(join(projectRoot, d), join(dir, d), { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function problems(dir: string): Promise<string[]> {
  const r = await validateSnapshot(workingTree(dir));
  return r.problems.map(formatProblem);
}

function edit(dir: string, file: string, from: string, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${from}`);
  writeFileSync(path, text.replace(from, to));
}

t.test('the example production environment names a sink and a table, and validates', async (t) => {
  t.same(await problems(tree(t)), []);
});

t.test('inferenceLog: a sink that is not an http(s) URL, a table that is not DATABASE.SCHEMA.TABLE, unknown and missing keys', async (t) => {
  const dir = tree(t);
  edit(dir, 'environments/production.yaml', '  sink: http://inference-log-sink.ml-logging.svc.cluster.local/\n  table: ANALYTICS.INFERENCE.PREDICTION_LOG\n',
    '  sink: kafka://broker:9092/topic\n  table: ANALYTICS.PREDICTION_LOG\n  mode: all\n');
  edit(dir, 'environments/staging.yaml', 'snowflake:\n', 'inferenceLog:\n  sink: http://user:secret@sink.internal/\nsnowflake:\n');
  t.same(await problems(dir), [
    'environments/production.yaml:20:9  inferenceLog.sink  expected an http:// or https:// URL without credentials, query or fragment, such as http://inference-log-sink.ml-logging.svc.cluster.local/, found the string "kafka://broker:9092/topic"',
    'environments/production.yaml:21:10  inferenceLog.table  expected a qualified Snowflake table DATABASE.SCHEMA.TABLE of unquoted identifiers (letters, digits, \'_\'), found the string "ANALYTICS.PREDICTION_LOG"',
    'environments/production.yaml:22:3  inferenceLog.mode  unknown key "mode"; expected one of: sink, table',
    'environments/staging.yaml:10:3  inferenceLog.table  missing required key "table"; expected key "table", found nothing',
    'environments/staging.yaml:10:9  inferenceLog.sink  expected an http:// or https:// URL without credentials, query or fragment, such as http://inference-log-sink.ml-logging.svc.cluster.local/, found the string "http://user:secret@sink.internal/"',
  ]);
});

t.test('policy: the shadow bounds and the sample ratio bound', async (t) => {
  const dir = tree(t);
  edit(dir, 'policies/production.yaml', '    minRequests: 20000\n', '');
  edit(dir, 'policies/production.yaml', 'coverage: { min: 0.99 }', 'coverage: { min: 99 }');
  edit(dir, 'policies/production.yaml', 'column: REGION', 'column: "REGION; --"');
  edit(dir, 'policies/production.yaml', '  autoRollback: pr\n', '  autoRollback: pr\n  sampleRatio: { minPValue: 0 }\n');
  t.same(await problems(dir), [
    'policies/production.yaml:40:5  gates.shadow.minRequests  missing required key "minRequests"; expected key "minRequests", found nothing',
    'policies/production.yaml:42:22  gates.shadow.coverage.min  expected a number <= 1, found the number 99',
    'policies/production.yaml:48:36  gates.shadow.slices[0].column  expected a column of the prediction log: an unquoted Snowflake identifier (letters, digits, \'_\'), found the string "REGION; --"',
    'policies/production.yaml:55:29  canary.sampleRatio.minPValue  expected a number > 0, found the number 0',
  ]);
});

t.test('policy: shadow PSI warn above fail, and slices with no threshold to judge them by', async (t) => {
  const dir = tree(t);
  edit(dir, 'policies/production.yaml', '    psi: { warn: 0.1, fail: 0.25 }\n    agreement: { threshold: 0.5, min: 0.98 }\n', '    psi: { warn: 0.3, fail: 0.25 }\n');
  t.same(await problems(dir), [
    'policies/production.yaml:46:10  gates.shadow.psi  warn (0.3) is above fail (0.25)',
    'policies/production.yaml:48:7  gates.shadow.slices  shadow slices are judged by decision agreement, which needs the model\'s threshold; expected gates.shadow.agreement {threshold, min}, found no agreement',
  ]);
});
