// Reading dbt's manifest.json: the real v12 and v11 layouts, the files it must refuse with a
// clear message, and loading from the repository, an absolute path and S3 (s3rver on loopback
// through the real AWS SDK).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import t from 'tap';
import { DbtManifestError, loadDbtManifest, parseDbtManifest, readDbtIndex } from '../../src/adapters/dbt.js';
import { ExternalError } from '../../src/errors.js';
import { s3Client } from '../../src/adapters/s3/store.js';
import { ops, startTestS3, type TestS3 } from '../helpers/s3.js';

const fixtures = new URL('../fixtures/dbt/', import.meta.url).pathname;
const v12 = readFileSync(join(fixtures, 'manifest-v12.json'), 'utf8');
const v11 = readFileSync(join(fixtures, 'manifest-v11.json'), 'utf8');
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** The v12 fixture with one edit: how the refusal scenarios are built. */
function edited(edit: (m: any) => void, text = v12): string {
  const m = JSON.parse(text);
  edit(m);
  return JSON.stringify(m);
}

t.test('indexes the model nodes of a dbt 1.10 manifest (schema v12)', async (t) => {
  const index = parseDbtManifest(v12, { location: 's3://acme-dbt-artifacts/prod/manifest.json', sha256: sha(v12) });
  t.same(index.metadata, { schemaVersion: 12, dbtVersion: '1.10.11', generatedAt: '2026-11-19T01:00:12.418214Z', adapterType: 'snowflake', projectName: 'acme_features' });
  t.equal(index.sha256, sha(v12));
  t.same(index.modelIds.sort(), ['card_features', 'customer_features', 'device_features', 'merchant_features', 'stg_authorisations', 'txn_features', 'velocity_features']
    .map((n) => `model.acme_features.${n}`), 'every model, the disabled one too; tests, sources and unit tests are not models');

  const txn = index.nodes.get('model.acme_features.txn_features')!;
  t.match(txn, {
    resourceType: 'model', name: 'txn_features', database: 'ANALYTICS', schema: 'FEATURES', alias: 'txn_features',
    relationName: 'ANALYTICS.FEATURES.txn_features', materialized: 'incremental', disabled: false,
    // the checksums fraud-detector 2026.11.13-1 recorded at training
    checksum: '555f5bacc17bf15bcd12e01b78c184f833f241e3423685c7a8f438f341702b52',
    contract: { enforced: true, checksum: '20ac1eaa3d4427a80d5019c7f4b063e031147ad7306ac0cd52141d61c69304d9' },
  });
  t.same(txn.columns.txn_amount, { name: 'txn_amount', dataType: 'NUMBER(18,2)', constraints: [{ type: 'not_null' }], quoted: false });
  t.same(txn.notNullTests, ['txn_id'], 'the generic not_null test attached to the model');
  t.same(Object.keys(index.nodes.get('model.acme_features.card_features')!.columns), ['CARD_ID', 'CARD_AGE_DAYS', 'CARD_PRODUCT']);
  t.equal(index.nodes.get('model.acme_features.stg_authorisations')!.contract.enforced, false);
  t.equal(index.nodes.get('model.acme_features.stg_authorisations')!.columns.txn_id!.dataType, undefined, 'data_type: null is no type');
  t.match(index.nodes.get('model.acme_features.device_features'), { disabled: true, name: 'device_features' }, 'listed under "disabled"');
});

t.test('reads a dbt 1.7 manifest (schema v11) into the same index', async (t) => {
  const a = parseDbtManifest(v11);
  const b = parseDbtManifest(v12);
  t.equal(a.metadata.schemaVersion, 11);
  t.equal(a.metadata.dbtVersion, '1.7.19');
  t.same([...a.nodes.keys()].sort(), [...b.nodes.keys()].sort());
  for (const [id, node] of b.nodes) t.same(a.nodes.get(id), node, id);
});

t.test('indexes only the models asked for, yet knows every model name', async (t) => {
  const index = parseDbtManifest(v12, { only: ['model.acme_features.card_features', 'model.acme_features.nope'] });
  t.same([...index.nodes.keys()], ['model.acme_features.card_features']);
  t.equal(index.modelIds.length, 7);
});

t.test('reads model-level constraints, quoted columns and versions', async (t) => {
  const index = parseDbtManifest(edited((m) => {
    const n = m.nodes['model.acme_features.card_features'];
    n.constraints = [{ type: 'not_null', name: null, expression: null, warn_unenforced: true, warn_unsupported: true, to: null, to_columns: [], columns: ['CARD_PRODUCT'] }];
    n.columns.CARD_PRODUCT.quote = true;
    n.version = 2;
    n.latest_version = 3;
    n.deprecation_date = '2027-01-31T00:00:00+00:00';
  }));
  t.match(index.nodes.get('model.acme_features.card_features'), {
    constraints: [{ type: 'not_null', columns: ['CARD_PRODUCT'] }], columns: { CARD_PRODUCT: { quoted: true } },
    version: '2', latestVersion: '3', deprecationDate: '2027-01-31T00:00:00+00:00',
  });
});

t.test('refuses what is not a manifest it can read, saying what was found', async (t) => {
  const refuse = (text: string, pattern: RegExp, what: string) =>
    t.throws(() => parseDbtManifest(text, { location: 'target/manifest.json' }), { name: 'DbtManifestError', message: pattern }, what);
  refuse('<html>502 Bad Gateway</html>', /^target\/manifest\.json: not JSON \(/, 'an HTML error page');
  refuse(v12.slice(0, 5000), /^target\/manifest\.json: not JSON/, 'a truncated upload');
  refuse('[]', /not a dbt manifest: expected an object with metadata\.dbt_schema_version/, 'a JSON array');
  refuse('{"nodes": {}}', /not a dbt manifest/, 'no metadata');
  refuse(JSON.stringify({ metadata: { dbt_schema_version: 'https://schemas.getdbt.com/dbt/catalog/v1.json' }, nodes: {} }), /a dbt catalog artifact .*, not manifest\.json/, 'catalog.json');
  refuse(JSON.stringify({ metadata: { dbt_schema_version: 'https://schemas.getdbt.com/dbt/run-results/v6.json' }, results: [] }), /a dbt run-results artifact/, 'run_results.json');
  refuse(edited((m) => (m.metadata.dbt_schema_version = 'v12')), /unrecognised metadata\.dbt_schema_version "v12"/, 'an odd schema URI');
  refuse(edited((m) => delete m.nodes), /"nodes" is missing/, 'no nodes');
  refuse(edited((m) => (m.nodes['model.acme_features.txn_features'] = 'x')), /node model\.acme_features\.txn_features is not an object/, 'a broken node');
  refuse(edited((m) => (m.disabled = [])), /"disabled" is not an object/, 'disabled as a list');
});

t.test('refuses unsupported schema versions, naming the one found and the ones it reads', async (t) => {
  const withVersion = (n: number) => edited((m) => (m.metadata.dbt_schema_version = `https://schemas.getdbt.com/dbt/manifest/v${n}.json`));
  t.throws(() => parseDbtManifest(withVersion(10), { location: 'm.json' }), {
    message: 'm.json: unsupported dbt manifest schema v10 (written by dbt Core 1.6); modelship reads v11 (dbt Core 1.7) and v12 (dbt Core 1.8–1.11)',
  });
  t.throws(() => parseDbtManifest(withVersion(4)), { message: /schema v4 \(written by dbt Core 1\.0\)/ });
  t.throws(() => parseDbtManifest(withVersion(13)), { message: /unsupported dbt manifest schema v13, newer than this modelship knows; modelship reads v11/ });
  t.ok(parseDbtManifest(withVersion(11)), 'v11 is read');
});

t.test('a large manifest (thousands of models) is parsed once and indexed selectively', async (t) => {
  // A big dbt project: 3,000 models of 40 columns with their SQL, about 30 MB.
  const m = JSON.parse(v12);
  const template = m.nodes['model.acme_features.txn_features'];
  for (let i = 0; i < 3000; i++) {
    const id = `model.acme_marts.mart_${i}`;
    const columns = Object.fromEntries(Array.from({ length: 40 }, (_, c) => [`col_${c}`, { ...template.columns.txn_amount, name: `col_${c}` }]));
    m.nodes[id] = { ...template, unique_id: id, name: `mart_${i}`, columns, raw_code: 'select 1 as x -- '.repeat(120) };
  }
  const text = JSON.stringify(m);
  t.ok(text.length > 20_000_000, `${(text.length / 1e6).toFixed(1)} MB`);
  const started = performance.now();
  const index = parseDbtManifest(text, { only: ['model.acme_features.txn_features', 'model.acme_marts.mart_2999'] });
  t.comment(`parsed and indexed in ${Math.round(performance.now() - started)} ms`);
  t.equal(index.modelIds.length, 3007);
  t.same([...index.nodes.keys()].sort(), ['model.acme_features.txn_features', 'model.acme_marts.mart_2999']);
  t.equal(Object.keys(index.nodes.get('model.acme_marts.mart_2999')!.columns).length, 40);
});

t.test('loads a manifest from the repository or an absolute path, with its sha256', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'modelship-dbt-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'manifest.json'), v12);

  const relative = await loadDbtManifest('manifest.json', { root });
  t.same(relative, { location: 'manifest.json', text: v12, sha256: sha(v12), bytes: Buffer.byteLength(v12) });
  const absolute = await loadDbtManifest(join(root, 'manifest.json'), { root: '/nonexistent' });
  t.equal(absolute.sha256, sha(v12));

  const missing = await loadDbtManifest('dbt/target/manifest.json', { root }).catch((e: unknown) => e);
  t.type(missing, ExternalError);
  t.match(missing, { system: 'filesystem', message: `filesystem: read the dbt manifest dbt/target/manifest.json: no such file (${join(root, 'dbt/target/manifest.json')})` });

  const big = await loadDbtManifest('manifest.json', { root, maxBytes: 1000 }).catch((e: unknown) => e);
  t.match(big, { name: 'ExternalError', message: /manifest\.json: \d+ bytes, more than the 1000 modelship reads/ });
});

t.test('readDbtIndex turns an unreadable or invalid manifest into the reason the gate reports', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'modelship-dbt-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'ok.json'), v12);
  writeFileSync(join(root, 'old.json'), edited((m) => (m.metadata.dbt_schema_version = 'https://schemas.getdbt.com/dbt/manifest/v9.json')));

  const ok = await readDbtIndex('ok.json', { root, only: ['model.acme_features.txn_features'] });
  t.notOk('error' in ok);
  if (!('error' in ok)) t.same({ location: ok.location, sha256: ok.sha256, nodes: [...ok.nodes.keys()] }, { location: 'ok.json', sha256: sha(v12), nodes: ['model.acme_features.txn_features'] });
  t.same(await readDbtIndex('old.json', { root }), { error: 'old.json: unsupported dbt manifest schema v9 (written by dbt Core 1.5); modelship reads v11 (dbt Core 1.7) and v12 (dbt Core 1.8–1.11)' });
  t.match(await readDbtIndex('gone.json', { root }), { error: /^filesystem: read the dbt manifest gone\.json: no such file/ });
  t.type(new DbtManifestError('x'), Error);
});

t.test('from S3 through the real SDK', async (t) => {
  const s3: TestS3 = await startTestS3(['acme-dbt-artifacts']);
  t.teardown(() => s3.stop());
  // The default client is built from the environment, as in production (MODELSHIP_S3_ENDPOINT, AWS_*).
  Object.assign(process.env, s3.env);
  await s3.client.send(new PutObjectCommand({ Bucket: 'acme-dbt-artifacts', Key: 'prod/manifest.json', Body: Buffer.from(v12) }));
  const uri = 's3://acme-dbt-artifacts/prod/manifest.json';

  t.test('reads the object whole, with the client built from the environment', async (t) => {
    s3.requests.length = 0;
    const loaded = await loadDbtManifest(uri, { root: '/nonexistent' });
    t.equal(loaded.sha256, sha(v12));
    t.equal(loaded.text, v12);
    t.same(ops(s3, 'GetObject').map((r) => r.path), ['/acme-dbt-artifacts/prod/manifest.json']);
  });

  t.test('with a client the caller passes', async (t) => {
    const client = s3Client({ endpoint: s3.endpoint });
    t.teardown(() => client.destroy());
    const index = await readDbtIndex(uri, { root: '/nonexistent', s3: client });
    t.match(index, { location: uri, sha256: sha(v12), metadata: { schemaVersion: 12 } });
  });

  t.test('a missing object names the location and says where it should come from', async (t) => {
    const e = await loadDbtManifest('s3://acme-dbt-artifacts/prod/manifest-missing.json', { root: '/' }).catch((x: unknown) => x);
    t.type(e, ExternalError);
    t.match(e, {
      system: 's3', details: { status: 404, retryable: false, hint: /production dbt job should publish manifest\.json there/ },
      message: /^s3: read the dbt manifest s3:\/\/acme-dbt-artifacts\/prod\/manifest-missing\.json: NoSuchKey \(HTTP 404\)/,
    });
  });

  t.test('access denied is an external error with a hint on credentials', async (t) => {
    s3.fault = (r) => (r.operation === 'GetObject' ? { status: 403, code: 'AccessDenied' } : 'pass');
    t.teardown(() => (s3.fault = () => 'pass'));
    const r = await readDbtIndex(uri, { root: '/' });
    t.match(r, { error: /^s3: read the dbt manifest s3:\/\/acme-dbt-artifacts\/prod\/manifest\.json: AccessDenied \(HTTP 403\)/ });
  });

  t.test('a server that does not answer times out with a message, not a hang', async (t) => {
    s3.fault = (r) => (r.operation === 'GetObject' ? { delayMs: 3000 } : 'pass');
    t.teardown(() => (s3.fault = () => 'pass'));
    const e = await loadDbtManifest(uri, { root: '/', timeoutMs: 300 }).catch((x: unknown) => x);
    t.match(e, { name: 'ExternalError', message: /read the dbt manifest s3:\/\/acme-dbt-artifacts\/prod\/manifest\.json: no answer within 0\.3 s/, details: { retryable: true } });
  });

  t.test('an object larger than the limit is refused before it is read', async (t) => {
    const e = await loadDbtManifest(uri, { root: '/', maxBytes: 1024 }).catch((x: unknown) => x);
    t.match(e, { system: 's3', message: /\d+ bytes, more than the 1024 modelship reads/ });
  });

  t.test('a malformed URI is an error naming it', async (t) => {
    const e = await loadDbtManifest('s3://Bad_Bucket', { root: '/' }).catch((x: unknown) => x);
    t.match(e, { name: 'ExternalError', message: 's3: read the dbt manifest s3://Bad_Bucket: not an s3://bucket/key URI' });
  });
});
