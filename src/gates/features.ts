// Features gate: the card's feature contract against the production dbt manifest. Each feature's
// dbt model must still exist, be enabled and not deprecated; its column must exist with a type
// the model can read; and the dbt model must be the definition the version was trained on.

import type { FeatureSpec, FeatureType, ModelCard, Policy, VersionManifest } from '../config/types.js';
import type { DbtColumn, DbtIndex, DbtNode } from '../model/dbt.js';
import { readableAs } from './schema.js';
import { result, worst, type GateResult, type GateStatus } from './types.js';

type Status = Extract<GateStatus, 'pass' | 'warn' | 'fail' | 'error'>;

export interface FeatureRow {
  feature: string;
  /** dbt unique_id.column as the card names it */
  source: string;
  /** the column's name in dbt, when found (may differ in case) */
  dbtColumn?: string;
  /** the warehouse type dbt declares, e.g. NUMBER(18,2); null when undeclared or not found */
  dbtType: string | null;
  /** what that type reads as */
  dbtFeatureType: FeatureType | null;
  expected: FeatureType;
  status: Status;
  problems: FeatureProblem[];
}

export interface FeatureProblem {
  status: Status;
  text: string;
}

export interface ModelRow {
  model: string;
  status: Status;
  trained?: { checksum: string; contractChecksum?: string };
  current?: { checksum?: string; contractChecksum?: string };
  problems: FeatureProblem[];
}

/**
 * Snowflake's types (AcmeRisk's warehouse) as the feature type a value reads as; undefined for
 * types no feature can hold (VARIANT, ARRAY, GEOGRAPHY, TIME, ...). INT and its synonyms are
 * NUMBER(38,0) in Snowflake; FLOAT, DOUBLE and REAL are all 64-bit.
 */
export function featureTypeOf(dataType: string): FeatureType | undefined {
  const t = dataType.trim().toUpperCase().replace(/\s+/g, ' ');
  const num = /^(?:NUMBER|NUMERIC|DECIMAL|DEC)(?: ?\( ?(\d+) ?(?:, ?(\d+) ?)?\))?$/.exec(t);
  if (num) {
    const precision = Number(num[1] ?? 38);
    const scale = Number(num[2] ?? 0);
    return scale > 0 ? 'double' : precision <= 9 ? 'integer' : 'long';
  }
  if (/^(?:INT|INTEGER|BIGINT|SMALLINT|TINYINT|BYTEINT)$/.test(t)) return 'long';
  if (/^(?:FLOAT[48]?|DOUBLE|DOUBLE PRECISION|REAL)$/.test(t)) return 'double';
  if (/^(?:VARCHAR|N?CHAR|CHARACTER|NVARCHAR2?|N?CHAR VARYING|STRING|TEXT)(?: ?\( ?\d+ ?\))?$/.test(t)) return 'string';
  if (t === 'BOOLEAN') return 'boolean';
  if (/^(?:DATE|DATETIME|TIMESTAMP(?:_?[NL]?TZ)?|TIMESTAMP WITH(?:OUT)? (?:LOCAL )?TIME ZONE)(?: ?\( ?\d ?\))?$/.test(t)) return 'datetime';
  if (/^(?:VAR)?BINARY(?: ?\( ?\d+ ?\))?$/.test(t)) return 'binary';
  return undefined;
}


const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const short = (sha?: string) => (sha ? `${sha.slice(0, 8)}…` : 'none');
const day = (d: Date) => d.toISOString().slice(0, 10);

export interface FeaturesGateInput {
  card: ModelCard;
  /** the candidate version: its lineage holds the dbt checksums it was trained on */
  manifest: VersionManifest;
  /** the production dbt manifest, or why it could not be read */
  dbt: DbtIndex | { error: string };
  policy: Policy['gates']['features'];
  now: Date;
}

/** Checks the card's features against the dbt manifest and the checksums recorded at training. */
export function featuresGate(input: FeaturesGateInput): GateResult {
  const { card, manifest, dbt, policy, now } = input;
  const subject = `${card.name} ${manifest.version}`;
  if (card.features.length === 0) return result('features', 'skipped', `${card.name} declares no features`);
  if ('error' in dbt) {
    // Without the manifest nothing is known about the features: never a pass.
    return result('features', 'fail', `${subject}: cannot check ${plural(card.features.length, 'feature')} against dbt: ${dbt.error}`, {
      details: [`policy: gates.features.manifest = ${policy?.manifest ?? '(not set)'}`],
      data: { model: card.name, version: manifest.version, manifestError: dbt.error },
    });
  }

  const ids = [...new Set(card.features.map((f) => f.source.dbtModel))];
  const models = new Map(ids.map((id) => [id, modelRow(id, dbt, manifest, policy, now)]));
  const features = card.features.map((f) => featureRow(f, dbt, models.get(f.source.dbtModel)!));

  // A feature's own problem (a missing column, a narrowing type) is the most concrete: it leads.
  const problems = [...features, ...models.values()].flatMap((r) => r.problems);
  const status = worst([...features.map((r) => r.status), ...[...models.values()].map((r) => r.status)]);
  const details = [
    ...features.map((r, i) => `${r.status.padEnd(4)}  ${describe(r, models.get(card.features[i]!.source.dbtModel)!)}`),
    ...[...models.values()].map((r) => `${r.status.padEnd(4)}  ${r.model}: ${texts(r) || `unchanged since training (checksum ${short(r.current?.checksum)}, contract ${short(r.current?.contractChecksum)})`}`),
  ];
  const data = {
    model: card.name, version: manifest.version,
    manifest: { location: dbt.location, sha256: dbt.sha256, ...dbt.metadata },
    onDefinitionChange: policy?.onDefinitionChange ?? 'block',
    features, models: [...models.values()],
  };

  if (status === 'pass') {
    const from = `dbt ${dbt.metadata.dbtVersion ?? '?'} manifest generated ${dbt.metadata.generatedAt ?? 'at an unknown time'}`;
    return result('features', 'pass', `${subject}: ${plural(features.length, 'feature')} match the ${from}; ${plural(ids.length, 'dbt model')} unchanged since training`, { details, data });
  }
  const first = problems.find((p) => p.status === status) ?? problems[0]!;
  const counted = (['error', 'fail', 'warn'] as const).map((s) => [s, problems.filter((p) => p.status === s).length] as const).filter(([, n]) => n > 0)
    .map(([s, n]) => plural(n, { error: 'error', fail: 'failure', warn: 'warning' }[s])).join(', ');
  return result('features', status, `${subject}: ${first.text}${problems.length > 1 ? ` (${counted})` : ''}`, { details, data });
}

const texts = (r: { problems: FeatureProblem[] }) => r.problems.map((p) => p.text).join('; ');

/** One line per feature: its own problems (which name it), or what it was matched to; and its model's verdict. */
function describe(r: FeatureRow, model: ModelRow): string {
  const column = r.dbtColumn && r.dbtColumn !== r.source.split('.').pop() ? ` (as ${r.dbtColumn})` : '';
  const own = r.problems.length ? texts(r)
    : `${r.feature} ← ${r.source}: ${r.dbtColumn ? `${r.dbtType} reads as ${r.dbtFeatureType}, expected ${r.expected}${column}` : 'not checked'}`;
  return model.status === 'pass' ? own : `${own}; its dbt model ${model.status === 'warn' ? 'warns' : 'fails'} (below)`;
}

/** Per dbt model: exists, enabled, not deprecated, contract enforced, same definition as at training. */
function modelRow(id: string, dbt: DbtIndex, manifest: VersionManifest, policy: Policy['gates']['features'], now: Date): ModelRow {
  const row: ModelRow = { model: id, status: 'pass', problems: [] };
  const flag = (status: Status, text: string) => {
    row.status = worst([row.status, status]) as Status;
    row.problems.push({ status, text });
  };
  const node = dbt.nodes.get(id);
  if (!node) {
    if (dbt.modelIds.includes(id)) flag('error', `${id} is in the dbt manifest but was not indexed (the index was built for other models)`);
    else flag('fail', `dbt model ${id} is not in the manifest${suggest(id, dbt.modelIds)}`);
    return row;
  }
  if (node.disabled) flag('fail', `dbt model ${id} is disabled (enabled: false), so dbt no longer builds it`);
  if (node.deprecationDate) {
    const at = new Date(node.deprecationDate);
    if (Number.isNaN(at.getTime())) flag('warn', `dbt model ${id} has an unreadable deprecation_date ${JSON.stringify(node.deprecationDate)}`);
    else if (at.getTime() <= now.getTime()) flag('fail', `dbt model ${id} was deprecated on ${day(at)}; expected a model that is not deprecated`);
    else flag('warn', `dbt model ${id} is deprecated from ${day(at)}; migrate the features before then`);
  }
  if (!node.contract.enforced) flag('warn', `dbt model ${id} does not enforce its contract, so a column or type change would not stop the dbt build`);

  row.current = { ...(node.checksum ? { checksum: node.checksum } : {}), ...(node.contract.checksum ? { contractChecksum: node.contract.checksum } : {}) };
  const lineage = manifest.lineage.dbt;
  const trained = lineage?.models[id];
  if (!trained) {
    flag('warn', lineage
      ? `no dbt checksum for ${id} was recorded at training, so a change since then cannot be seen`
      : `${manifest.version} recorded no dbt lineage, so a change to ${id} since training cannot be seen`);
    return row;
  }
  row.trained = trained;
  const onChange: Status = policy?.onDefinitionChange === 'warn' ? 'warn' : 'fail';
  const sqlChanged = trained.checksum !== node.checksum;
  if (trained.contractChecksum && !node.contract.checksum) {
    flag(onChange, `dbt model ${id} no longer has an enforced contract (trained on contract ${short(trained.contractChecksum)})`);
  } else if (trained.contractChecksum && trained.contractChecksum !== node.contract.checksum) {
    flag(onChange, `dbt model ${id} changed its contract (columns, types or constraints) since training: contract checksum ${short(trained.contractChecksum)} → ${short(node.contract.checksum)}${sqlChanged ? ', and its SQL changed' : ''}`);
  } else if (sqlChanged) {
    flag(onChange, `dbt model ${id} changed since training: checksum ${short(trained.checksum)} → ${short(node.checksum)}; columns and types are unchanged, the values may not be`);
  }
  return row;
}

/** The near names a typo or a new model version leaves behind. */
function suggest(id: string, known: string[]): string {
  const base = id.replace(/\.v\d+$/, '');
  const name = base.split('.').pop()!;
  const near = known.filter((k) => k !== id && (k.replace(/\.v\d+$/, '') === base || k.split('.')[2] === name)).sort().slice(0, 3);
  return near.length ? `; did you mean ${near.join(' or ')}?` : '';
}

function featureRow(f: FeatureSpec, dbt: DbtIndex, model: ModelRow): FeatureRow {
  const row: FeatureRow = {
    feature: f.name, source: `${f.source.dbtModel}.${f.source.column}`, dbtType: null, dbtFeatureType: null, expected: f.type,
    status: model.status, problems: [],
  };
  const flag = (status: Status, text: string) => {
    row.status = worst([row.status, status]) as Status;
    row.problems.push({ status, text });
  };
  const node = dbt.nodes.get(f.source.dbtModel);
  if (!node) return row;
  const col = findColumn(node, f.source.column, dbt.metadata.quoteColumns === true);
  if (!col) {
    const names = Object.keys(node.columns);
    flag('fail', `column ${f.source.column} of feature ${f.name} is not in dbt model ${node.uniqueId}; found ${names.length > 12 ? `${names.length} columns` : names.join(', ') || 'no documented columns'}`);
    return row;
  }
  row.dbtColumn = col.name;
  const where = `${node.uniqueId}.${col.name}`;
  if (!col.dataType) {
    flag('warn', `${where} declares no data_type, so the type of feature ${f.name} (${f.type}) is not checked`);
  } else {
    row.dbtType = col.dataType;
    const sent = featureTypeOf(col.dataType) ?? null;
    row.dbtFeatureType = sent;
    if (!sent) flag('fail', `feature ${f.name}: ${where} is ${col.dataType}, which no feature type can hold; expected a type readable as ${f.type}`);
    else if (!readableAs(sent, f.type)) flag('fail', `feature ${f.name}: ${where} is ${col.dataType} (reads as ${sent}) but the model expects ${f.type}; expected ${f.type} or a type that widens to it, found ${sent}`);
  }
  if (!f.nullable && !notNull(node, col)) {
    flag('warn', `feature ${f.name} is not nullable, but ${where} has no not_null constraint or test, so nulls may reach the model`);
  }
  return row;
}

/**
 * The dbt column a feature names. Snowflake folds unquoted identifiers to upper case, so
 * txn_amount and TXN_AMOUNT are one column; a quoted column keeps its case and must match exactly.
 */
function findColumn(node: DbtNode, name: string, quoteByDefault: boolean): DbtColumn | undefined {
  if (Object.hasOwn(node.columns, name)) return node.columns[name];
  const folded = name.toUpperCase();
  return Object.values(node.columns).find((c) => !(c.quoted || quoteByDefault) && c.name.toUpperCase() === folded);
}

/** A not_null constraint on the column or the model, or a not_null data test on the column. */
function notNull(node: DbtNode, col: DbtColumn): boolean {
  const same = (n: string) => (col.quoted ? n === col.name : n.toUpperCase() === col.name.toUpperCase());
  return col.constraints.some((c) => c.type === 'not_null')
    || node.constraints.some((c) => c.type === 'not_null' && (c.columns ?? []).some(same))
    || node.notNullTests.some(same);
}
