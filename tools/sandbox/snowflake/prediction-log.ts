// The prediction log (README, "Prediction logs") in the Snowflake stand-in: creates the table in
// the documented schema and appends rows, as the platform's pipeline would land KServe's
// CloudEvents. The stand-in's DuckDB database is what the real snowflake-sdk queries, so tests
// and benchmarks feed rows here and run modelship's SQL through the driver. What a row means is
// defined once, in src/metrics/prediction-log.ts (predictionLogColumns); this file only stores it.
import type { DuckDBConnection } from '@duckdb/node-api';
import { predictionLogColumns } from '../../../src/metrics/prediction-log.js';

/** One logged prediction: one request answered (or not) by one version. */
export interface PredictionRow {
  requestId: string;
  model: string;
  version: string;
  /** the model's score; null when it did not answer */
  score: number | null;
  decision?: string | null;
  latencyMs: number | null;
  /** null when it answered; else why not */
  error: string | null;
  requestedAt: Date;
  /** extra columns the policy's slices name (upper-case column → value) */
  slices?: Record<string, string | null>;
}

const duckType = { VARCHAR: 'VARCHAR', DOUBLE: 'DOUBLE', TIMESTAMP_TZ: 'TIMESTAMPTZ' } as const;

/** Creates DATABASE.SCHEMA.TABLE with the documented columns plus `sliceColumns` (VARCHAR), attaching the database if needed. */
export async function createPredictionLog(conn: DuckDBConnection, table: string, sliceColumns: string[] = []): Promise<void> {
  const [db, schema] = table.split('.');
  const attached = await conn.runAndReadAll('SELECT database_name FROM duckdb_databases() WHERE lower(database_name) = lower($1)', [db!]);
  if (attached.getRows().length === 0) await conn.run(`ATTACH ':memory:' AS ${db}`);
  await conn.run(`CREATE SCHEMA IF NOT EXISTS ${db}.${schema}`);
  const columns = [
    ...predictionLogColumns.map((c) => `${c.name} ${duckType[c.type]}`),
    ...sliceColumns.map((c) => `${c.toUpperCase()} VARCHAR`),
  ];
  await conn.run(`CREATE TABLE IF NOT EXISTS ${table} (${columns.join(', ')})`);
}

/** Appends rows with DuckDB's appender (no SQL literals); slice columns in the order given to createPredictionLog. */
export async function appendPredictionLog(conn: DuckDBConnection, table: string, rows: Iterable<PredictionRow>, sliceColumns: string[] = []): Promise<number> {
  const [db, schema, name] = table.split('.');
  const { timestampTZValue } = await import('@duckdb/node-api');
  const appender = await conn.createAppender(name!, schema!, db!);
  let n = 0;
  const text = (v: string | null | undefined) => (v === null || v === undefined ? appender.appendNull() : appender.appendVarchar(v));
  const number = (v: number | null | undefined) => (v === null || v === undefined ? appender.appendNull() : appender.appendDouble(v));
  for (const r of rows) {
    // The order of predictionLogColumns.
    text(r.requestId);
    text(r.model);
    text(r.version);
    number(r.score);
    text(r.decision);
    number(r.latencyMs);
    text(r.error);
    appender.appendTimestampTZ(timestampTZValue(BigInt(r.requestedAt.getTime()) * 1000n));
    for (const c of sliceColumns) text(r.slices?.[c.toUpperCase()]);
    appender.endRow();
    n++;
  }
  appender.closeSync();
  return n;
}
