// The north-star metric of an A/B test, measured inside the warehouse: ONE aggregation that
// joins the prediction log (which version answered each request) with the table of per-request
// outcomes by request id, and returns one row of per-arm counts, sums and sums of squares over
// the A/B's window. No row leaves Snowflake; stats/ab-test.ts and gates/ab.ts judge the sums.
//
// The tables (README, "A/B tests"):
//   prediction log   REQUEST_ID, MODEL_NAME, MODEL_VERSION, REQUESTED_AT (one row per request a
//                    version answered; the platform lands KServe's logger events there)
//   outcomes         REQUEST_ID and the metric's column (one row per request whose outcome is
//                    known: 1/0 for a rate, or a number); a request without a row has no outcome yet
// One SQL text for Snowflake and DuckDB (the stand-in): a LEFT JOIN, SUM(CASE …) (SUM ignores the
// NULLs a CASE without ELSE yields), CAST(… AS DOUBLE) ("DOUBLE, DOUBLE PRECISION, REAL:
// synonymous with FLOAT", docs.snowflake.com/sql-reference/intro-summary-data-types: no NUMBER
// overflow in Σy²), COUNT(DISTINCT …), CAST(? AS TIMESTAMP WITH TIME ZONE), double-quoted
// upper-case identifiers. Table and column names are validated before they are quoted; every
// value (model, versions, window) is a bind.

import { ExternalError, UsageError } from '../errors.js';
import { patterns, quoteIdentifier } from '../sync/render/snowflake.js';
import type { SnowflakeConnection } from '../adapters/snowflake/warehouse.js';
import type { ArmSums } from '../stats/ab-test.js';

/** The prediction log's columns the join reads. */
export const abLogColumns = { requestId: 'REQUEST_ID', model: 'MODEL_NAME', version: 'MODEL_VERSION', time: 'REQUESTED_AT' } as const;

export interface AbQueryInput {
  /** DATABASE.SCHEMA.TABLE of the prediction log */
  log: string;
  /** DATABASE.SCHEMA.TABLE of the outcomes, and the metric's column in it */
  outcomes: string;
  column: string;
  model: string;
  /** A: the stable version; B: the challenger */
  a: string;
  b: string;
  window: { start: Date; end: Date };
}

export interface AbQuery {
  sqlText: string;
  binds: string[];
}

/** One arm over the window: logged requests, and the sums over those with an outcome. */
export interface ArmFigures extends ArmSums {
  /** requests the arm answered in the window (with an outcome or not yet) */
  requests: number;
}

export interface AbFigures {
  a: ArmFigures;
  b: ArmFigures;
  /** join rows beyond one per request: a request id logged twice, or with two outcomes */
  duplicates: number;
}

function table(name: string, what: string): string {
  if (!patterns.qualifiedName.test(name)) throw new UsageError(`the ${what} ${JSON.stringify(name)} is not DATABASE.SCHEMA.TABLE of plain identifiers`);
  return name.split('.').map(quoteIdentifier).join('.');
}

/** Builds the aggregation. Names that are not plain identifiers are refused (UsageError). */
export function abQuery(input: AbQueryInput): AbQuery {
  const log = table(input.log, 'prediction log');
  const outcomes = table(input.outcomes, 'outcomes table');
  if (!patterns.identifier.test(input.column)) throw new UsageError(`${JSON.stringify(input.column)} cannot be the outcomes table's column: not a plain identifier`);
  const binds: string[] = [];
  const bind = (v: string) => {
    binds.push(v);
    return '?';
  };
  const c = abLogColumns;
  const id = quoteIdentifier(c.requestId);
  const version = `l.${quoteIdentifier(c.version)}`;
  const y = `CAST(o.${quoteIdentifier(input.column.toUpperCase())} AS DOUBLE)`;
  const select: string[] = [];
  for (const [arm, v] of [['A', input.a], ['B', input.b]] as const) {
    select.push(`  SUM(CASE WHEN ${version} = ${bind(v)} THEN 1 ELSE 0 END) AS ${arm}_REQUESTS`);
    select.push(`  SUM(CASE WHEN ${version} = ${bind(v)} AND ${y} IS NOT NULL THEN 1 ELSE 0 END) AS ${arm}_N`);
    select.push(`  SUM(CASE WHEN ${version} = ${bind(v)} THEN ${y} END) AS ${arm}_SUM`);
    select.push(`  SUM(CASE WHEN ${version} = ${bind(v)} THEN ${y} * ${y} END) AS ${arm}_SUM_SQUARES`);
  }
  select.push(`  COUNT(*) - COUNT(DISTINCT l.${id}) AS DUPLICATES`);
  const time = `l.${quoteIdentifier(c.time)}`;
  const where = [
    `l.${quoteIdentifier(c.model)} = ${bind(input.model)}`,
    `${version} IN (${bind(input.a)}, ${bind(input.b)})`,
    `${time} >= CAST(${bind(input.window.start.toISOString())} AS TIMESTAMP WITH TIME ZONE)`,
    `${time} < CAST(${bind(input.window.end.toISOString())} AS TIMESTAMP WITH TIME ZONE)`,
  ];
  const sqlText = [
    'SELECT',
    select.join(',\n'),
    `FROM ${log} AS l`,
    `LEFT JOIN ${outcomes} AS o ON o.${id} = l.${id}`,
    `WHERE ${where.join('\n  AND ')}`,
  ].join('\n');
  return { sqlText, binds };
}

/** The result row as per-arm figures. */
export function abFigures(row: Record<string, unknown>): AbFigures {
  const upper = new Map(Object.entries(row).map(([k, v]) => [k.toUpperCase(), v]));
  const n = (alias: string, count: boolean): number => {
    const v = upper.get(alias);
    if (v === null || v === undefined) return 0; // SUM over no rows is NULL
    const x = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(x) || (count && (x < 0 || !Number.isInteger(x)))) {
      throw new ExternalError('snowflake', 'read the A/B metric', `column ${alias} is ${JSON.stringify(String(v))}, not a ${count ? 'count' : 'number'}`);
    }
    return x;
  };
  const arm = (p: 'A' | 'B'): ArmFigures => ({ requests: n(`${p}_REQUESTS`, true), n: n(`${p}_N`, true), sum: n(`${p}_SUM`, false), sumSquares: n(`${p}_SUM_SQUARES`, false) });
  return { a: arm('A'), b: arm('B'), duplicates: n('DUPLICATES', true) };
}

/** Runs the aggregation: one statement, one row back. */
export async function readAbFigures(conn: Pick<SnowflakeConnection, 'query'>, q: AbQuery): Promise<AbFigures> {
  const rows = await conn.query(q.sqlText, q.binds);
  if (rows.length !== 1) throw new ExternalError('snowflake', 'read the A/B metric', `the aggregation returned ${rows.length} rows, expected one`);
  return abFigures(rows[0]!);
}
