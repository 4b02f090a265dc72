// The features gate: AcmeRisk's model cards and registered versions against the production dbt
// manifest. Each scenario edits a copy of the real fixture the way a dbt change would.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import type { ModelCard, Policy, VersionManifest } from '../../src/config/types.js';
import { parseDbtManifest } from '../../src/adapters/dbt.js';
import type { DbtIndex } from '../../src/model/dbt.js';
import { featuresGate, featureTypeOf, type FeatureRow, type ModelRow } from '../../src/gates/features.js';

const root = new URL('../../', import.meta.url).pathname;
const yaml = <T>(path: string): T => parse(readFileSync(join(root, path), 'utf8')) as T;
const fixture = (v: string) => readFileSync(join(root, 'test/fixtures/dbt', `manifest-${v}.json`), 'utf8');
const v12 = fixture('v12');

const fraud = yaml<ModelCard>('models/fraud-detector/model.yaml');
const chargeback = yaml<ModelCard>('models/chargeback-risk/model.yaml');
const fraudVersion = yaml<VersionManifest>('models/fraud-detector/versions/2026.11.13-1.yaml');
const now = new Date('2026-11-20T09:00:00Z');
const production: Policy['gates']['features'] = { mode: 'block', manifest: 's3://acme-dbt-artifacts/prod/manifest.json', onDefinitionChange: 'block' };

const TXN = 'model.acme_features.txn_features';
const CARD = 'model.acme_features.card_features';
const VELOCITY = 'model.acme_features.velocity_features';

/** The production manifest after a dbt change: a parsed copy of the fixture, edited. */
function dbtAfter(edit: (m: any) => void = () => {}): DbtIndex {
  const m = JSON.parse(v12);
  edit(m);
  return parseDbtManifest(JSON.stringify(m), { location: 's3://acme-dbt-artifacts/prod/manifest.json' });
}

function gate(opts: { dbt?: DbtIndex | { error: string }; card?: ModelCard; version?: VersionManifest; policy?: Policy['gates']['features'] } = {}) {
  const r = featuresGate({ card: opts.card ?? fraud, manifest: opts.version ?? fraudVersion, dbt: opts.dbt ?? dbtAfter(), policy: 'policy' in opts ? opts.policy : production, now });
  const rows = r.data?.features as FeatureRow[];
  const models = r.data?.models as ModelRow[];
  return { ...r, row: (feature: string) => rows.find((x) => x.feature === feature)!, model: (id: string) => models.find((x) => x.model === id)! };
}

t.test('the example repository passes: every registered version against the production manifest, v12 and v11', async (t) => {
  const cases = [fraud, chargeback].flatMap((card) =>
    readdirSync(join(root, 'models', card.name, 'versions')).map((file) => [card, file.replace(/\.yaml$/, '')] as const));
  t.equal(cases.length, 5);
  for (const layout of ['v12', 'v11']) {
    const dbt = parseDbtManifest(fixture(layout));
    for (const [card, v] of cases) {
      const version = yaml<VersionManifest>(`models/${card.name}/versions/${v}.yaml`);
      const r = gate({ card, version, dbt });
      t.equal(r.status, 'pass', `${card.name} ${v} on ${layout}: ${r.summary}`);
    }
  }
  const r = gate();
  t.equal(r.summary, 'fraud-detector 2026.11.13-1: 6 features match the dbt 1.10.11 manifest generated 2026-11-19T01:00:12.418214Z; 3 dbt models unchanged since training');
  t.same(r.row('txn_amount'), {
    feature: 'txn_amount', source: `${TXN}.txn_amount`, dbtColumn: 'txn_amount', dbtType: 'NUMBER(18,2)', dbtFeatureType: 'double', expected: 'double', status: 'pass', problems: [],
  });
  t.equal(r.details![0], `pass  txn_amount ← ${TXN}.txn_amount: NUMBER(18,2) reads as double, expected double`);
  t.match(r.data, { manifest: { location: 's3://acme-dbt-artifacts/prod/manifest.json', schemaVersion: 12, dbtVersion: '1.10.11' }, onDefinitionChange: 'block' });
});

t.test('Snowflake folds unquoted names: feature column card_age_days is dbt column CARD_AGE_DAYS', async (t) => {
  const r = gate();
  t.match(r.row('card_age_days'), { status: 'pass', dbtColumn: 'CARD_AGE_DAYS', dbtType: 'NUMBER(38,0)' });
  t.match(r.details!.find((d) => d.includes('card_age_days')), /expected long \(as CARD_AGE_DAYS\)$/);
});

t.test('a quoted column keeps its case, so it must match exactly', async (t) => {
  const r = gate({ dbt: dbtAfter((m) => (m.nodes[CARD].columns.CARD_AGE_DAYS.quote = true)) });
  t.equal(r.status, 'fail');
  t.equal(r.row('card_age_days').status, 'fail');
  t.match(r.summary, /column card_age_days of feature card_age_days is not in dbt model model\.acme_features\.card_features; found CARD_ID, CARD_AGE_DAYS, CARD_PRODUCT/);

  const projectWide = gate({ dbt: dbtAfter((m) => (m.metadata.quoting.column = true)) });
  t.equal(projectWide.row('card_age_days').status, 'fail', 'quoting.column: true in dbt_project.yml quotes every column');
});

t.test('a feature column dropped from the dbt model fails, naming the feature and the model', async (t) => {
  const r = gate({ dbt: dbtAfter((m) => delete m.nodes[TXN].columns.merchant_category) });
  t.equal(r.status, 'fail');
  t.equal(r.summary, `fraud-detector 2026.11.13-1: column merchant_category of feature merchant_category is not in dbt model ${TXN}; found txn_id, card_id, merchant_id, customer_id, authorised_at, txn_amount, is_card_present, is_cross_border`);
  t.match(r.row('merchant_category'), { status: 'fail', dbtType: null });
  t.equal(r.row('txn_amount').status, 'pass', 'the other features of that model are fine');
});

t.test('a dbt model that is gone, disabled or deprecated fails every feature built on it', async (t) => {
  t.test('gone, with the versioned successor suggested', async (t) => {
    const r = gate({ dbt: dbtAfter((m) => {
      m.nodes[`${VELOCITY}.v2`] = { ...m.nodes[VELOCITY], unique_id: `${VELOCITY}.v2`, version: 2 };
      delete m.nodes[VELOCITY];
    }) });
    t.equal(r.status, 'fail');
    t.match(r.summary, `dbt model ${VELOCITY} is not in the manifest; did you mean ${VELOCITY}.v2?`);
    t.same(['txn_count_1h', 'amount_zscore_30d'].map((f) => r.row(f).status), ['fail', 'fail']);
    t.match(r.details!.find((d) => d.startsWith('fail  txn_count_1h')), /^fail  txn_count_1h ← model\.acme_features\.velocity_features\.txn_count_1h: not checked; its dbt model fails \(below\)$/);
  });
  t.test('disabled', async (t) => {
    const r = gate({ dbt: dbtAfter((m) => {
      m.disabled[CARD] = [{ ...m.nodes[CARD], config: { ...m.nodes[CARD].config, enabled: false } }];
      delete m.nodes[CARD];
    }) });
    t.equal(r.status, 'fail');
    t.match(r.summary, `dbt model ${CARD} is disabled (enabled: false), so dbt no longer builds it`);
    t.equal(r.row('card_age_days').status, 'fail');
  });
  t.test('deprecated before the check', async (t) => {
    const r = gate({ dbt: dbtAfter((m) => (m.nodes[CARD].deprecation_date = '2026-11-15T00:00:00+00:00')) });
    t.equal(r.status, 'fail');
    t.match(r.summary, `dbt model ${CARD} was deprecated on 2026-11-15; expected a model that is not deprecated`);
  });
  t.test('deprecated in future: a warning with the date', async (t) => {
    const r = gate({ dbt: dbtAfter((m) => (m.nodes[CARD].deprecation_date = '2027-01-31T00:00:00+00:00')) });
    t.equal(r.status, 'warn');
    t.match(r.summary, `dbt model ${CARD} is deprecated from 2027-01-31`);
  });
  t.test('an unreadable deprecation date is a warning, not a pass', async (t) => {
    const r = gate({ dbt: dbtAfter((m) => (m.nodes[CARD].deprecation_date = 'soon')) });
    t.equal(r.status, 'warn');
    t.match(r.summary, /unreadable deprecation_date "soon"/);
  });
});

t.test('types: widening is allowed, narrowing and unknown types fail', async (t) => {
  const withType = (model: string, column: string, type: string | null) => dbtAfter((m) => (m.nodes[model].columns[column].data_type = type));

  let r = gate({ dbt: withType(TXN, 'txn_amount', 'NUMBER(38,0)') });
  t.match(r.row('txn_amount'), { status: 'pass', dbtFeatureType: 'long' }, 'a long column read as double widens');
  r = gate({ dbt: withType(CARD, 'CARD_AGE_DAYS', 'NUMBER(9,0)') });
  t.match(r.row('card_age_days'), { status: 'pass', dbtFeatureType: 'integer' }, 'NUMBER(9,0) is an integer, read as long');

  r = gate({ dbt: withType(CARD, 'CARD_AGE_DAYS', 'NUMBER(12,2)') });
  t.equal(r.status, 'fail');
  t.equal(r.summary, `fraud-detector 2026.11.13-1: feature card_age_days: ${CARD}.CARD_AGE_DAYS is NUMBER(12,2) (reads as double) but the model expects long; expected long or a type that widens to it, found double`);

  // The card narrows instead: a NUMBER(38,0) column cannot be read as a 32-bit integer, a
  // Snowflake FLOAT (64-bit) not as a float.
  const narrowed = structuredClone(fraud);
  narrowed.features.find((f) => f.name === 'card_age_days')!.type = 'integer';
  narrowed.features.find((f) => f.name === 'amount_zscore_30d')!.type = 'float';
  r = gate({ card: narrowed });
  t.match(r.row('card_age_days'), { status: 'fail', dbtFeatureType: 'long', expected: 'integer' });
  t.match(r.row('amount_zscore_30d'), { status: 'fail', dbtFeatureType: 'double', expected: 'float' });
  t.match(r.summary, /\(2 failures\)$/);

  r = gate({ dbt: withType(TXN, 'txn_amount', 'VARCHAR(32)') });
  t.match(r.row('txn_amount'), { status: 'fail', dbtType: 'VARCHAR(32)', dbtFeatureType: 'string' });

  r = gate({ dbt: withType(TXN, 'merchant_category', 'VARIANT') });
  t.match(r.summary, /merchant_category is VARIANT, which no feature type can hold; expected a type readable as string/);

  r = gate({ dbt: withType(VELOCITY, 'amount_zscore_30d', null) });
  t.equal(r.status, 'warn');
  t.match(r.summary, `${VELOCITY}.amount_zscore_30d declares no data_type, so the type of feature amount_zscore_30d (double) is not checked`);
});

t.test('the warehouse-to-feature type mapping', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['NUMBER', 'long'], ['NUMBER(38,0)', 'long'], ['number(10, 0)', 'long'], ['NUMBER(9,0)', 'integer'], ['DECIMAL(5)', 'integer'],
    ['NUMBER(18,2)', 'double'], ['NUMERIC(9,6)', 'double'], ['INT', 'long'], ['BIGINT', 'long'], ['SMALLINT', 'long'],
    ['FLOAT', 'double'], ['FLOAT4', 'double'], ['DOUBLE PRECISION', 'double'], ['REAL', 'double'],
    ['VARCHAR', 'string'], ['VARCHAR(36)', 'string'], ['TEXT', 'string'], ['STRING', 'string'], ['CHAR(2)', 'string'],
    ['BOOLEAN', 'boolean'], ['DATE', 'datetime'], ['TIMESTAMP_NTZ', 'datetime'], ['timestamp_tz(9)', 'datetime'], ['TIMESTAMP_LTZ', 'datetime'], ['DATETIME', 'datetime'],
    ['BINARY', 'binary'], ['VARBINARY(16)', 'binary'],
    ['VARIANT', undefined], ['ARRAY', undefined], ['OBJECT', undefined], ['GEOGRAPHY', undefined], ['TIME', undefined], ['NUMBER(a,b)', undefined],
  ];
  for (const [type, expected] of cases) t.equal(featureTypeOf(type), expected, type);
});

t.test('a non-nullable feature needs NOT NULL in dbt', async (t) => {
  const dropConstraint = (m: any) => (m.nodes[VELOCITY].columns.txn_count_1h.constraints = []);
  // The fixture also has a not_null data test on txn_count_1h: remove it to see the warning.
  const dropTest = (m: any) => { for (const [id, n] of Object.entries<any>(m.nodes)) if (n.attached_node === VELOCITY) delete m.nodes[id]; };

  let r = gate({ dbt: dbtAfter((m) => { dropConstraint(m); dropTest(m); }) });
  t.equal(r.status, 'warn');
  t.equal(r.summary, `fraud-detector 2026.11.13-1: feature txn_count_1h is not nullable, but ${VELOCITY}.txn_count_1h has no not_null constraint or test, so nulls may reach the model`);

  r = gate({ dbt: dbtAfter(dropConstraint) });
  t.equal(r.row('txn_count_1h').status, 'pass', 'a not_null data test is enough');

  r = gate({ dbt: dbtAfter((m) => {
    dropConstraint(m);
    dropTest(m);
    m.nodes[VELOCITY].constraints = [{ type: 'not_null', name: null, expression: null, warn_unenforced: true, warn_unsupported: true, to: null, to_columns: [], columns: ['TXN_COUNT_1H'] }];
  }) });
  t.equal(r.row('txn_count_1h').status, 'pass', 'a model-level not_null constraint naming the column (any case) is enough');

  r = gate({ dbt: dbtAfter((m) => (m.nodes[VELOCITY].columns.amount_zscore_30d.constraints = [])) });
  t.equal(r.status, 'pass', 'a nullable feature needs nothing');
});

t.test('a dbt model changed since training blocks under production policy, warns under staging', async (t) => {
  const sqlEdit = (m: any) => (m.nodes[TXN].checksum.checksum = 'f'.repeat(64));
  const contractEdit = (m: any) => {
    m.nodes[TXN].checksum.checksum = 'f'.repeat(64);
    m.nodes[TXN].contract.checksum = 'e'.repeat(64);
  };

  let r = gate({ dbt: dbtAfter(sqlEdit) });
  t.equal(r.status, 'fail');
  t.equal(r.summary, `fraud-detector 2026.11.13-1: dbt model ${TXN} changed since training: checksum 555f5bac… → ffffffff…; columns and types are unchanged, the values may not be`);
  t.same(['txn_amount', 'merchant_category', 'is_card_present', 'card_age_days'].map((f) => r.row(f).status), ['fail', 'fail', 'fail', 'pass'], 'the features built on it');
  t.same(r.model(TXN), {
    model: TXN, status: 'fail',
    trained: { checksum: '555f5bacc17bf15bcd12e01b78c184f833f241e3423685c7a8f438f341702b52', contractChecksum: '20ac1eaa3d4427a80d5019c7f4b063e031147ad7306ac0cd52141d61c69304d9' },
    current: { checksum: 'f'.repeat(64), contractChecksum: '20ac1eaa3d4427a80d5019c7f4b063e031147ad7306ac0cd52141d61c69304d9' },
    problems: [{ status: 'fail', text: r.summary.replace('fraud-detector 2026.11.13-1: ', '') }],
  });

  r = gate({ dbt: dbtAfter(contractEdit) });
  t.match(r.summary, `dbt model ${TXN} changed its contract (columns, types or constraints) since training: contract checksum 20ac1eaa… → eeeeeeee…, and its SQL changed`);

  r = gate({ dbt: dbtAfter((m) => {
    m.nodes[TXN].contract = { enforced: false, alias_types: true, checksum: null };
  }) });
  t.equal(r.status, 'fail');
  t.match(r.summary, `dbt model ${TXN} no longer has an enforced contract (trained on contract 20ac1eaa…)`);
  t.match(r.summary, /\(1 failure, 1 warning\)$/, 'and an unenforced contract is itself worth a warning');

  r = gate({ dbt: dbtAfter(sqlEdit), policy: { mode: 'warn', onDefinitionChange: 'warn' } });
  t.equal(r.status, 'warn', 'onDefinitionChange: warn');
  r = gate({ dbt: dbtAfter(sqlEdit), policy: undefined });
  t.equal(r.status, 'fail', 'block is the default');
  t.equal(r.data!.onDefinitionChange, 'block');
});

t.test('without a training-time record the gate cannot see a change, and says so', async (t) => {
  const noVelocity: VersionManifest = structuredClone(fraudVersion);
  delete noVelocity.lineage.dbt!.models[VELOCITY];
  let r = gate({ version: noVelocity });
  t.equal(r.status, 'warn');
  t.equal(r.summary, `fraud-detector 2026.11.13-1: no dbt checksum for ${VELOCITY} was recorded at training, so a change since then cannot be seen`);

  const noLineage: VersionManifest = structuredClone(fraudVersion);
  delete noLineage.lineage.dbt;
  r = gate({ version: noLineage });
  t.equal(r.status, 'warn');
  t.match(r.summary, `2026.11.13-1 recorded no dbt lineage, so a change to ${TXN} since training cannot be seen (3 warnings)`);
});

t.test('a missing or malformed dbt manifest fails the gate with the reason', async (t) => {
  const r = gate({ dbt: { error: 's3: read the dbt manifest s3://acme-dbt-artifacts/prod/manifest.json: NoSuchKey (HTTP 404): The specified key does not exist.' } });
  t.equal(r.status, 'fail');
  t.equal(r.summary, 'fraud-detector 2026.11.13-1: cannot check 6 features against dbt: s3: read the dbt manifest s3://acme-dbt-artifacts/prod/manifest.json: NoSuchKey (HTTP 404): The specified key does not exist.');
  t.same(r.details, ['policy: gates.features.manifest = s3://acme-dbt-artifacts/prod/manifest.json']);
});

t.test('an index built without a feature model is an error of the caller, never a pass', async (t) => {
  const dbt = parseDbtManifest(v12, { only: [TXN, CARD] });
  const r = gate({ dbt });
  t.equal(r.status, 'error');
  t.match(r.summary, `${VELOCITY} is in the dbt manifest but was not indexed`);
});

t.test('a card without features is skipped', async (t) => {
  const r = gate({ card: { ...fraud, features: [] } });
  t.equal(r.status, 'skipped');
});
