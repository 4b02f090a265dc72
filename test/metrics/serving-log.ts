// Scoring logs for tests: rows drawn (with a seeded generator) from a version's training
// histograms, optionally shifted, loaded into a DuckDB table the way the scoring procedure would
// write them. The exact counts per bin are kept, so tests can compare the warehouse's answer with
// an independent count.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Histogram } from '../../src/config/types.js';

export type Row = Record<string, number | string | boolean | null>;

/** Mulberry32: small, seeded, good enough to draw test data reproducibly. */
export function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How to move a feature away from training: other bin weights, or a null share. */
export interface Shift {
  /** replaces the reference counts as weights (same length / same categories) */
  weights?: number[] | Record<string, number>;
  /** share of rows that are null */
  nullShare?: number;
  /** categorical: a share of rows with a category training never saw */
  unseen?: { value: string; share: number };
}

function draw(h: Histogram, rnd: () => number, shift: Shift | undefined, integer: boolean): number | string | null {
  const nullShare = shift?.nullShare ?? (h.nulls ? h.nulls / (h.nulls + total(h)) : 0);
  if (rnd() < nullShare) return null;
  if (h.kind === 'numeric') {
    const w = (shift?.weights as number[] | undefined) ?? h.counts;
    const i = pick(w, rnd());
    const lo = h.edges[i]!;
    const hi = h.edges[i + 1]!;
    const x = lo + (hi - lo) * rnd();
    return integer ? Math.min(Math.floor(x), Math.ceil(hi) - 1) : x;
  }
  if (shift?.unseen && rnd() < shift.unseen.share) return shift.unseen.value;
  const names = Object.keys(h.counts);
  const weights = (shift?.weights as Record<string, number> | undefined) ?? h.counts;
  // the reference's `other` bucket stands for categories it did not name: draw one of those
  const i = pick([...names.map((n) => weights[n] ?? 0), h.other ?? 0], rnd());
  return i < names.length ? names[i]! : 'pharmacy';
}

function total(h: Histogram): number {
  return h.kind === 'numeric' ? h.counts.reduce((a, b) => a + b, 0) : Object.values(h.counts).reduce((a, b) => a + b, 0) + (h.other ?? 0);
}

function pick(weights: number[], u: number): number {
  const sum = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]! / sum;
    if (u < acc) return i;
  }
  return weights.length - 1;
}

export interface LogSpec {
  /** feature name → training histogram and column type */
  features: Record<string, { histogram: Histogram; type: 'DOUBLE' | 'BIGINT' | 'VARCHAR' | 'BOOLEAN' }>;
  score: { column: string; histogram: Histogram };
}

/** n rows scored by `version`, spread evenly over [start, end). */
export function makeRows(spec: LogSpec, options: { n: number; version: string; start: Date; end: Date; seed?: number; shifts?: Record<string, Shift> }): Row[] {
  const rnd = generator(options.seed ?? 1);
  const span = options.end.getTime() - options.start.getTime();
  const rows: Row[] = [];
  for (let k = 0; k < options.n; k++) {
    const row: Row = { SCORED_AT: new Date(options.start.getTime() + Math.floor((span * k) / options.n)).toISOString(), MODEL_VERSION: options.version };
    for (const [name, f] of Object.entries(spec.features)) {
      const v = draw(f.histogram, rnd, options.shifts?.[name], f.type === 'BIGINT');
      row[name.toUpperCase()] = f.type === 'BOOLEAN' && v !== null ? v === 'true' : v;
    }
    row[spec.score.column.toUpperCase()] = draw(spec.score.histogram, rnd, options.shifts?.[spec.score.column], false);
    rows.push(row);
  }
  return rows;
}

/** Creates DATABASE.SCHEMA.TABLE (attaching the database if needed) and appends the rows. */
export async function loadLog(conn: DuckDBConnection, table: string, spec: LogSpec, rows: Row[]): Promise<void> {
  const [db, schema, name] = table.split('.');
  const attached = await conn.runAndReadAll('SELECT database_name FROM duckdb_databases() WHERE lower(database_name) = lower($1)', [db!]);
  if (attached.getRows().length === 0) await conn.run(`ATTACH ':memory:' AS ${db}`);
  await conn.run(`CREATE SCHEMA IF NOT EXISTS ${db}.${schema}`);
  const columns: Array<[string, 'TIMESTAMPTZ' | LogSpec['features'][string]['type']]> = [
    ['SCORED_AT', 'TIMESTAMPTZ'], ['MODEL_VERSION', 'VARCHAR'],
    ...Object.entries(spec.features).map(([n, f]): [string, LogSpec['features'][string]['type']] => [n.toUpperCase(), f.type]),
    [spec.score.column.toUpperCase(), 'DOUBLE'],
  ];
  await conn.run(`CREATE TABLE IF NOT EXISTS ${table} (${columns.map(([n, type]) => `${n} ${type}`).join(', ')})`);
  // DuckDB's appender, not INSERT statements: the same rows in the same order, without parsing
  // thousands of literals (the tests load tens of thousands of rows).
  const { timestampTZValue } = await import('@duckdb/node-api');
  const appender = await conn.createAppender(name!, schema!, db!);
  for (const r of rows) {
    for (const [n, type] of columns) {
      const v = r[n] ?? null;
      if (v === null) appender.appendNull();
      else if (type === 'TIMESTAMPTZ') appender.appendTimestampTZ(timestampTZValue(BigInt(Date.parse(String(v))) * 1000n));
      else if (type === 'VARCHAR') appender.appendVarchar(String(v));
      else if (type === 'BIGINT') appender.appendBigInt(BigInt(v as number));
      else if (type === 'BOOLEAN') appender.appendBoolean(v as boolean);
      else appender.appendDouble(v as number);
    }
    appender.endRow();
  }
  appender.closeSync();
}

/** Counts a column's rows on a histogram's bins the way the SQL should (clamped ends, unseen → other), in JavaScript. */
export function countOn(h: Histogram, values: Array<Row[string]>): Histogram {
  const nulls = values.filter((v) => v === null).length;
  const present = values.filter((v) => v !== null);
  if (h.kind === 'numeric') {
    const counts = h.counts.map(() => 0);
    // the bin is the number of inner edges at or below the value (ends clamped)
    for (const v of present as number[]) counts[h.edges.slice(1, -1).filter((e) => e <= v).length]!++;
    return { kind: 'numeric', edges: [...h.edges], counts, ...(nulls ? { nulls } : {}) };
  }
  const counts: Record<string, number> = Object.fromEntries(Object.keys(h.counts).sort().map((c) => [c, 0]));
  let other = 0;
  for (const v of present) {
    const key = String(v);
    if (key in counts) counts[key]!++;
    else other++;
  }
  return { kind: 'categorical', counts, ...(other ? { other } : {}), ...(nulls ? { nulls } : {}) };
}

/** The fraud detector's scoring log columns, with the training histograms of a manifest. */
export function fraudLogSpec(manifest: { histograms?: Record<string, Histogram>; scoreHistogram?: Histogram }): LogSpec {
  const types: Record<string, LogSpec['features'][string]['type']> = {
    txn_amount: 'DOUBLE', merchant_category: 'VARCHAR', card_age_days: 'BIGINT', txn_count_1h: 'BIGINT', amount_zscore_30d: 'DOUBLE', is_card_present: 'BOOLEAN',
  };
  return {
    features: Object.fromEntries(Object.entries(manifest.histograms!).map(([n, h]) => [n, { histogram: h, type: types[n]! }])),
    score: { column: 'fraud_score', histogram: manifest.scoreHistogram! },
  };
}

/** The chargeback model's scoring log columns. */
export function chargebackLogSpec(manifest: { histograms?: Record<string, Histogram>; scoreHistogram?: Histogram }): LogSpec {
  const types: Record<string, LogSpec['features'][string]['type']> = {
    txn_amount: 'DOUBLE', merchant_dispute_rate_90d: 'DOUBLE', customer_tenure_days: 'BIGINT', is_cross_border: 'BOOLEAN',
  };
  return {
    features: Object.fromEntries(Object.entries(manifest.histograms!).map(([n, h]) => [n, { histogram: h, type: types[n]! }])),
    score: { column: 'chargeback_probability', histogram: manifest.scoreHistogram! },
  };
}
