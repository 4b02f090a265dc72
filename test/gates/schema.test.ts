import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { schemaGate, type SchemaRow } from '../../src/gates/schema.js';
import type { Column, FeatureSpec, ModelCard, VersionManifest } from '../../src/config/types.js';

// AcmeRisk's own fraud-detector card and a registered version, as the repository holds them.
const root = new URL('../../', import.meta.url);
const card = (): ModelCard => parse(readFileSync(new URL('models/fraud-detector/model.yaml', root), 'utf8'));
const manifest = (): VersionManifest => parse(readFileSync(new URL('models/fraud-detector/versions/2026.11.13-1.yaml', root), 'utf8'));

function trainedOn(m: VersionManifest, name: string, change: Partial<Column> | null): VersionManifest {
  m.inputSchema = change === null ? m.inputSchema.filter((c) => c.name !== name) : m.inputSchema.map((c) => (c.name === name ? { ...c, ...change } : c));
  return m;
}
function contract(c: ModelCard, name: string, change: Partial<FeatureSpec>): ModelCard {
  c.features = c.features.map((f) => (f.name === name ? { ...f, ...change } : f));
  return c;
}
const rows = (r: ReturnType<typeof schemaGate>) => r.data!.rows as SchemaRow[];

t.test('the registered fraud-detector version matches its card', async (t) => {
  const r = schemaGate({ card: card(), manifest: manifest() });
  t.equal(r.status, 'pass');
  t.equal(r.summary, '6 contract features and 1 output match what fraud-detector 2026.11.13-1 was trained on');
  t.equal(rows(r).length, 7);
});

t.test('a contract feature the model was not trained on fails, naming it', async (t) => {
  const r = schemaGate({ card: card(), manifest: trainedOn(manifest(), 'txn_count_1h', null) });
  t.equal(r.status, 'fail');
  t.match(r.summary, /feature txn_count_1h is in the contract \(long\) but not in the trained input schema; expected a column txn_count_1h of type long \(or a type it widens to: double\), found none/);
});

t.test('widening is allowed: serving sends integer or long, the model reads double', async (t) => {
  const c = contract(contract(card(), 'txn_count_1h', { type: 'integer' }), 'card_age_days', { type: 'long' });
  const m = trainedOn(trainedOn(manifest(), 'txn_count_1h', { type: 'double' }), 'card_age_days', { type: 'double' });
  t.equal(schemaGate({ card: c, manifest: m }).status, 'pass');
  const f = schemaGate({ card: contract(card(), 'txn_amount', { type: 'float' }), manifest: manifest() });
  t.equal(f.status, 'pass', 'float widens to double');
});

t.test('narrowing fails: the contract sends long, the model was trained on integer', async (t) => {
  const r = schemaGate({ card: card(), manifest: trainedOn(manifest(), 'card_age_days', { type: 'integer' }) });
  t.equal(r.status, 'fail');
  t.match(r.summary, /feature card_age_days: the contract sends long but the model was trained on integer; expected long \(or a type it widens to: double\), found integer/);
  const row = rows(r).find((x) => x.name === 'card_age_days')!;
  t.same(row.trained, { type: 'integer', required: true });
});

t.test('double to float and string to anything are not widenings', async (t) => {
  t.equal(schemaGate({ card: card(), manifest: trainedOn(manifest(), 'txn_amount', { type: 'float' }) }).status, 'fail');
  t.equal(schemaGate({ card: card(), manifest: trainedOn(manifest(), 'merchant_category', { type: 'binary' }) }).status, 'fail');
  const r = schemaGate({ card: contract(card(), 'is_card_present', { type: 'integer' }), manifest: manifest() });
  t.match(r.summary, /contract sends integer but the model was trained on boolean/);
});

t.test('a non-nullable contract feature trained as optional is fine', async (t) => {
  const r = schemaGate({ card: card(), manifest: trainedOn(manifest(), 'txn_amount', { required: false }) });
  t.equal(r.status, 'pass');
});

t.test('a nullable contract feature the model was trained to require fails', async (t) => {
  const r = schemaGate({ card: card(), manifest: trainedOn(manifest(), 'amount_zscore_30d', { required: true }) });
  t.equal(r.status, 'fail');
  t.match(r.summary, /feature amount_zscore_30d: the contract allows null but the model was trained with it required; expected required: false, found required: true/);
  // "required" is omitted in most manifests and defaults to true
  const m = manifest();
  m.inputSchema = m.inputSchema.map((c) => (c.name === 'amount_zscore_30d' ? { name: c.name, type: c.type } : c));
  t.equal(schemaGate({ card: card(), manifest: m }).status, 'fail', 'an omitted "required" means required');
});

t.test('a required trained feature missing from the contract fails: serving would not send it', async (t) => {
  const m = manifest();
  m.inputSchema.push({ name: 'device_risk', type: 'double' });
  const r = schemaGate({ card: card(), manifest: m });
  t.equal(r.status, 'fail');
  t.match(r.summary, /feature device_risk \(double\) is required by the model but not in the contract, so serving would not send it/);
});

t.test('an optional trained feature missing from the contract warns', async (t) => {
  const m = manifest();
  m.inputSchema.push({ name: 'device_risk', type: 'double', required: false });
  const r = schemaGate({ card: card(), manifest: m });
  t.equal(r.status, 'warn');
  t.match(r.summary, /device_risk \(double, optional\) was trained on but is not in the contract, so the model will always see it missing/);
});

t.test('every problem is listed, the summary counts the rest', async (t) => {
  const m = trainedOn(trainedOn(manifest(), 'txn_amount', null), 'card_age_days', { type: 'string' });
  m.inputSchema.push({ name: 'device_risk', type: 'double' });
  const r = schemaGate({ card: card(), manifest: m });
  t.equal(r.status, 'fail');
  t.match(r.summary, /\(and 2 more\)$/);
  t.equal(r.details?.length, 3);
});

t.test('outputs: the card\'s output must be produced with a type consumers can read', async (t) => {
  const renamed = manifest();
  renamed.outputSchema = [{ name: 'score', type: 'double' }];
  const r = schemaGate({ card: card(), manifest: renamed });
  t.equal(r.status, 'fail');
  t.match(r.summary, /output fraud_score is declared by the card \(double\) but the model does not produce it; found outputs: score/);

  const narrowed = manifest();
  narrowed.outputSchema = [{ name: 'fraud_score', type: 'string' }];
  t.match(schemaGate({ card: card(), manifest: narrowed }).summary, /output fraud_score: the card declares double but the model produces string/);

  const widened = manifest();
  widened.outputSchema = [{ name: 'fraud_score', type: 'float' }, { name: 'reason_code', type: 'string' }];
  const ok = schemaGate({ card: card(), manifest: widened });
  t.equal(ok.status, 'pass', 'a float score is read as double; an extra output is harmless');
  t.ok(rows(ok).some((x) => x.name === 'reason_code' && x.kind === 'output' && !x.contract));
});
