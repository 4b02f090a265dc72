// Serving histograms measured inside the warehouse: one SQL aggregation per model that bins the
// window's serving rows on the training histograms' frozen edges and categories, and returns one
// row of counts. Nothing row-level leaves Snowflake; gates/drift.ts judges the counts.
//
// Where serving data lives (the scoring log): a table with one row per scored record, holding
// each input feature in a column named like the feature, each output in a column named like the
// output, the time it was scored (SCORED_AT) and the version that scored it (MODEL_VERSION). By
// default it is the model's batch target (serving.batch.target in model.yaml), which the scoring
// procedure writes; an inference log of online requests loaded into the warehouse fits as well.
//
// One SQL text for Snowflake and DuckDB: plain SUM(CASE …) aggregates, CAST(? AS TIMESTAMP WITH
// TIME ZONE) (a synonym of TIMESTAMP_TZ in Snowflake, TIMESTAMPTZ in DuckDB), CAST(x AS VARCHAR)
// for categories (both render booleans as 'true'/'false'), double-quoted upper-case identifiers
// (how both resolve unquoted names). Every value (edges, categories, version, window) is a bind.
// Values below the first edge count in the first bin and values at or above the last edge in the
// last one (the edges are frozen; serving data may fall outside them). A category the training
// data did not name counts as `(other)`.

import type { Histogram } from '../config/types.js';
import { ExternalError, UsageError } from '../errors.js';
import { patterns, quoteIdentifier } from '../sync/render/snowflake.js';
import type { SnowflakeConnection } from '../adapters/snowflake/warehouse.js';

/** The scoring log's column holding when a row was scored. */
export const timeColumn = 'SCORED_AT';
/** The scoring log's column holding the version that scored a row. */
export const versionColumn = 'MODEL_VERSION';

export interface ServingQueryInput {
  /** DATABASE.SCHEMA.TABLE of the scoring log */
  table: string;
  version: string;
  window: { start: Date; end: Date };
  /** the training histograms of the version, by feature (= column) name */
  features: Record<string, Histogram>;
  /** the model's output column and its training histogram */
  score?: { column: string; histogram: Histogram };
}

/** Where each histogram's counts are in the result row. */
interface Layout {
  name: string;
  histogram: Histogram;
  /** one column alias per reference bin (numeric) or category (categorical) */
  bins: string[];
  /** categorical: non-null values outside the reference's categories */
  other?: string;
  nulls: string;
}

export interface ServingQuery {
  sqlText: string;
  binds: Array<string | number>;
  /** the alias of COUNT(*) */
  rowsColumn: string;
  features: Layout[];
  score?: Layout;
}

export interface ServingHistograms {
  /** rows in the window scored by the version */
  rows: number;
  features: Record<string, Histogram>;
  score?: Histogram;
}

/** Builds the one aggregation for a model. Names that are not plain identifiers are refused (UsageError). */
export function servingQuery(input: ServingQueryInput): ServingQuery {
  if (!patterns.qualifiedName.test(input.table)) {
    throw new UsageError(`the scoring log ${JSON.stringify(input.table)} is not DATABASE.SCHEMA.TABLE of plain identifiers`);
  }
  const binds: Array<string | number> = [];
  const bind = (v: string | number) => {
    binds.push(v);
    return '?';
  };
  const select: string[] = ['  COUNT(*) AS N_ROWS'];
  const layouts: Layout[] = [];

  const add = (name: string, column: string, h: Histogram): Layout => {
    if (!patterns.identifier.test(column)) {
      throw new UsageError(`${JSON.stringify(column)} cannot be a column of the scoring log: not a plain identifier`);
    }
    const col = quoteIdentifier(column);
    // Aliases say what they count (TXN_AMOUNT__B3); an output named like a feature gets its own.
    const taken = layouts.some((l) => l.name.toUpperCase() === column.toUpperCase());
    const prefix = `${column.toUpperCase()}${taken ? '_OUTPUT' : ''}`;
    const layout: Layout = { name, histogram: h, bins: [], nulls: `${prefix}__NULLS` };
    const count = (condition: string, alias: string) => select.push(`  SUM(CASE WHEN ${condition} THEN 1 ELSE 0 END) AS ${alias}`);
    if (h.kind === 'numeric') {
      const n = h.counts.length;
      for (let i = 0; i < n; i++) {
        const alias = `${prefix}__B${i}`;
        layout.bins.push(alias);
        // Edges are numbers from a validated manifest; they travel as binds all the same.
        if (n === 1) count(`${col} IS NOT NULL`, alias);
        else if (i === 0) count(`${col} < ${bind(h.edges[1]!)}`, alias);
        else if (i === n - 1) count(`${col} >= ${bind(h.edges[i]!)}`, alias);
        else count(`${col} >= ${bind(h.edges[i]!)} AND ${col} < ${bind(h.edges[i + 1]!)}`, alias);
      }
    } else {
      const names = Object.keys(h.counts).sort();
      names.forEach((category, i) => {
        const alias = `${prefix}__C${i}`;
        layout.bins.push(alias);
        count(`CAST(${col} AS VARCHAR) = ${bind(category)}`, alias);
      });
      layout.other = `${prefix}__OTHER`;
      count(names.length
        ? `${col} IS NOT NULL AND CAST(${col} AS VARCHAR) NOT IN (${names.map((c) => bind(c)).join(', ')})`
        : `${col} IS NOT NULL`, layout.other);
    }
    count(`${col} IS NULL`, layout.nulls);
    layouts.push(layout);
    return layout;
  };

  for (const name of Object.keys(input.features).sort()) add(name, name, input.features[name]!);
  const score = input.score ? add(input.score.column, input.score.column, input.score.histogram) : undefined;
  const features = score ? layouts.slice(0, -1) : layouts;

  const where = [
    `${quoteIdentifier(versionColumn)} = ${bind(input.version)}`,
    `${quoteIdentifier(timeColumn)} >= CAST(${bind(input.window.start.toISOString())} AS TIMESTAMP WITH TIME ZONE)`,
    `${quoteIdentifier(timeColumn)} < CAST(${bind(input.window.end.toISOString())} AS TIMESTAMP WITH TIME ZONE)`,
  ];
  // The WHERE binds come last in the text, so they are pushed last: binds follow the text's order.
  const sqlText = [
    'SELECT',
    select.join(',\n'),
    `FROM ${input.table.split('.').map(quoteIdentifier).join('.')}`,
    `WHERE ${where.join('\n  AND ')}`,
  ].join('\n');
  return { sqlText, binds, rowsColumn: 'N_ROWS', features, ...(score ? { score } : {}) };
}

/** The result row as histograms on the reference's bins (the edges copied from the reference). */
export function servingHistograms(q: ServingQuery, row: Record<string, unknown>): ServingHistograms {
  const upper = new Map(Object.entries(row).map(([k, v]) => [k.toUpperCase(), v]));
  const n = (alias: string): number => {
    const v = upper.get(alias);
    if (v === null || v === undefined) return 0; // SUM over no rows is NULL
    const x = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(x) || x < 0) throw new ExternalError('snowflake', 'read serving histograms', `column ${alias} is ${JSON.stringify(String(v))}, not a count`);
    return x;
  };
  const histogram = (l: Layout): Histogram => {
    const nulls = n(l.nulls);
    if (l.histogram.kind === 'numeric') {
      return { kind: 'numeric', edges: [...l.histogram.edges], counts: l.bins.map(n), ...(nulls ? { nulls } : {}) };
    }
    const names = Object.keys(l.histogram.counts).sort();
    const other = l.other ? n(l.other) : 0;
    return { kind: 'categorical', counts: Object.fromEntries(names.map((c, i) => [c, n(l.bins[i]!)])), ...(other ? { other } : {}), ...(nulls ? { nulls } : {}) };
  };
  return {
    rows: n(q.rowsColumn),
    features: Object.fromEntries(q.features.map((l) => [l.name, histogram(l)])),
    ...(q.score ? { score: histogram(q.score) } : {}),
  };
}

/** Runs the aggregation: one statement, one row back. */
export async function readServingHistograms(conn: Pick<SnowflakeConnection, 'query'>, q: ServingQuery): Promise<ServingHistograms> {
  const rows = await conn.query(q.sqlText, q.binds);
  if (rows.length !== 1) throw new ExternalError('snowflake', 'read serving histograms', `the aggregation returned ${rows.length} rows, expected one`);
  return servingHistograms(q, rows[0]!);
}

/** Whether a warehouse failure was a timeout (ours, or Snowflake's statement timeout, error 000630). */
export function isTimeout(e: unknown): boolean {
  const text = (e as Error)?.message ?? '';
  return /timed out after|000630|reached its statement or warehouse timeout/i.test(text);
}
