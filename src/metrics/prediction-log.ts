// The prediction log: one row per request a version answered (or failed to), landed in the
// warehouse by the platform from KServe's logger CloudEvents (README, "Prediction logs"). Here:
// the table's columns (the contract), and the aggregations the shadow gate and the canary's sample
// ratio check run over it. Each is ONE statement that returns one row of figures: no logged row
// ever leaves the warehouse. Identifiers are validated and quoted; every value is a bind.
//
// One SQL text for Snowflake and DuckDB (the stand-in): CTEs, a LEFT JOIN on the request id,
// SUM(CASE …) counts, PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY …) (both ignore the NULLs a CASE
// without ELSE yields), CAST(? AS TIMESTAMP WITH TIME ZONE), double-quoted upper-case identifiers.

import type { Histogram } from '../config/types.js';
import { ExternalError, UsageError } from '../errors.js';
import { patterns } from '../sync/render/snowflake.js';
import type { SnowflakeConnection } from '../adapters/snowflake/warehouse.js';

/** The columns the platform's table must have (more are allowed: the slices' columns). */
export const predictionLogColumns = [
  { name: 'REQUEST_ID', type: 'VARCHAR' },
  { name: 'MODEL_NAME', type: 'VARCHAR' },
  { name: 'MODEL_VERSION', type: 'VARCHAR' },
  { name: 'SCORE', type: 'DOUBLE' },
  { name: 'DECISION', type: 'VARCHAR' },
  { name: 'LATENCY_MS', type: 'DOUBLE' },
  { name: 'ERROR', type: 'VARCHAR' },
  { name: 'REQUESTED_AT', type: 'TIMESTAMP_TZ' },
] as const;

export interface Slice {
  name: string;
  /** a column of the prediction log (upper-cased) */
  column: string;
  /** the value that selects the slice, compared as text */
  value: string;
}

export interface ShadowQueryInput {
  /** DATABASE.SCHEMA.TABLE */
  table: string;
  model: string;
  champion: string;
  candidate: string;
  window: { start: Date; end: Date };
  /** the edges the scores are binned on for PSI (the candidate's training score histogram) */
  scoreEdges?: number[];
  /** the model's decision threshold: a score at or above it is a positive decision */
  threshold?: number;
  slices?: Slice[];
}

export interface ShadowQuery {
  sqlText: string;
  binds: Array<string | number>;
  scoreEdges?: number[];
  threshold?: number;
  slices: Slice[];
}

/** What the aggregation found (counts over the champion's requests in the window). */
export interface ShadowFigures {
  /** rows sharing a request id with another row of the same version: the join would count them twice */
  duplicates: { champion: number; candidate: number };
  /** the shadow's logged requests in the window */
  candidateRequests: number;
  /** champion requests in the window, from the first request both logged on (all of the window's when none) */
  championRequests: number;
  /** of those, how many the shadow logged too (answered or failed) */
  joined: number;
  /** among the joined requests: failures of each */
  errors: { champion: number; candidate: number };
  /** joined requests both answered with a score */
  bothAnswered: number;
  /** latency percentiles over the requests both answered (ms); undefined when none has one */
  latency: { champion: { p50?: number; p99?: number }; candidate: { p50?: number; p99?: number } };
  /** requests on which both decisions (score ≥ threshold) agree, when a threshold was given */
  agree?: number;
  /** score histograms over the requests both answered, when edges were given */
  scores?: { champion: Histogram; candidate: Histogram };
  slices: Array<{ name: string; pairs: number; agree?: number }>;
}

const q = (name: string) => `"${name}"`;

function checkTable(table: string): string {
  if (!patterns.qualifiedName.test(table)) throw new UsageError(`the prediction log ${JSON.stringify(table)} is not DATABASE.SCHEMA.TABLE of plain identifiers`);
  return table.split('.').map((p) => q(p.toUpperCase())).join('.');
}

/** Builds the shadow gate's one aggregation. Names that are not plain identifiers are refused (UsageError). */
export function shadowQuery(input: ShadowQueryInput): ShadowQuery {
  const table = checkTable(input.table);
  const slices = input.slices ?? [];
  for (const s of slices) {
    if (!patterns.identifier.test(s.column)) throw new UsageError(`slice ${JSON.stringify(s.name)}: ${JSON.stringify(s.column)} cannot be a column of the prediction log: not a plain identifier`);
  }
  const edges = input.scoreEdges;
  if (edges && (edges.length < 2 || edges.some((e, i) => !Number.isFinite(e) || (i > 0 && e <= edges[i - 1]!)))) {
    throw new UsageError('the score edges must be at least two finite numbers in increasing order');
  }
  const binds: Array<string | number> = [];
  const bind = (v: string | number) => {
    binds.push(v);
    return '?';
  };
  const inWindow = (version: string) => [
    `${q('MODEL_NAME')} = ${bind(input.model)}`,
    `${q('MODEL_VERSION')} = ${bind(version)}`,
    `${q('REQUEST_ID')} IS NOT NULL`,
    `${q('REQUESTED_AT')} >= CAST(${bind(input.window.start.toISOString())} AS TIMESTAMP WITH TIME ZONE)`,
    `${q('REQUESTED_AT')} < CAST(${bind(input.window.end.toISOString())} AS TIMESTAMP WITH TIME ZONE)`,
  ].join(' AND ');
  const base = ['REQUEST_ID', 'SCORE', 'LATENCY_MS', 'ERROR', 'REQUESTED_AT'].map(q).join(', ');
  const sliceColumns = slices.map((s, i) => `, ${q(s.column.toUpperCase())} AS ${q(`SLICE_${i}`)}`).join('');
  const lines: string[] = [
    'WITH CANDIDATE AS (',
    `  SELECT ${base} FROM ${table}`,
    `  WHERE ${inWindow(input.candidate)}`,
    '), LOGGED AS (',
    `  SELECT ${base}${sliceColumns} FROM ${table}`,
    `  WHERE ${inWindow(input.champion)}`,
    '), JOINED AS (',
    '  SELECT c."REQUESTED_AT" AS C_AT, c."SCORE" AS C_SCORE, k."SCORE" AS K_SCORE, c."LATENCY_MS" AS C_LATENCY, k."LATENCY_MS" AS K_LATENCY,',
    `    c."ERROR" AS C_ERROR, k."ERROR" AS K_ERROR, k."REQUEST_ID" AS K_ID${slices.map((_, i) => `, c."SLICE_${i}" AS SLICE_${i}`).join('')},`,
    '    CASE WHEN k."REQUEST_ID" IS NOT NULL AND c."ERROR" IS NULL AND k."ERROR" IS NULL AND c."SCORE" IS NOT NULL AND k."SCORE" IS NOT NULL THEN 1 ELSE 0 END AS BOTH_OK',
    '  FROM LOGGED c LEFT JOIN CANDIDATE k ON k."REQUEST_ID" = c."REQUEST_ID"',
    '), PAIRS AS (',
    // Coverage counts from the first request both logged (before it, the shadow was not yet
    // serving), in the champion's clock; over the whole window when they logged none in common.
    '  SELECT * FROM JOINED WHERE C_AT >= COALESCE((SELECT MIN(C_AT) FROM JOINED WHERE K_ID IS NOT NULL),',
    `    CAST(${bind(input.window.start.toISOString())} AS TIMESTAMP WITH TIME ZONE))`,
    ')',
  ];
  const select: string[] = [
    `  (SELECT COUNT(*) - COUNT(DISTINCT ${q('REQUEST_ID')}) FROM LOGGED) AS CHAMPION_DUPLICATES`,
    `  (SELECT COUNT(*) - COUNT(DISTINCT ${q('REQUEST_ID')}) FROM CANDIDATE) AS CANDIDATE_DUPLICATES`,
    '  (SELECT COUNT(*) FROM CANDIDATE) AS CANDIDATE_REQUESTS',
    '  COUNT(*) AS CHAMPION_REQUESTS',
    '  COUNT(K_ID) AS JOINED',
    '  SUM(CASE WHEN K_ID IS NOT NULL AND C_ERROR IS NOT NULL THEN 1 ELSE 0 END) AS CHAMPION_ERRORS',
    '  SUM(CASE WHEN K_ID IS NOT NULL AND K_ERROR IS NOT NULL THEN 1 ELSE 0 END) AS CANDIDATE_ERRORS',
    '  SUM(BOTH_OK) AS BOTH_ANSWERED',
  ];
  for (const [side, column] of [['CHAMPION', 'C_LATENCY'], ['CANDIDATE', 'K_LATENCY']] as const) {
    for (const [p, name] of [[0.5, 'P50'], [0.99, 'P99']] as const) {
      select.push(`  PERCENTILE_CONT(${p}) WITHIN GROUP (ORDER BY CASE WHEN BOTH_OK = 1 THEN ${column} END) AS ${side}_${name}`);
    }
  }
  const agrees = () => `(C_SCORE >= ${bind(input.threshold!)}) = (K_SCORE >= ${bind(input.threshold!)})`;
  if (input.threshold !== undefined) select.push(`  SUM(CASE WHEN BOTH_OK = 1 AND ${agrees()} THEN 1 ELSE 0 END) AS AGREE`);
  if (edges) {
    const n = edges.length - 1;
    for (const [side, column] of [['CHAMPION', 'C_SCORE'], ['CANDIDATE', 'K_SCORE']] as const) {
      for (let i = 0; i < n; i++) {
        // As the drift aggregation bins: the ends are open (values beyond the frozen edges count in the end bins).
        const condition = n === 1 ? 'TRUE' : i === 0 ? `${column} < ${bind(edges[1]!)}`
          : i === n - 1 ? `${column} >= ${bind(edges[i]!)}` : `${column} >= ${bind(edges[i]!)} AND ${column} < ${bind(edges[i + 1]!)}`;
        select.push(`  SUM(CASE WHEN BOTH_OK = 1 AND ${condition} THEN 1 ELSE 0 END) AS ${side}__B${i}`);
      }
    }
  }
  slices.forEach((s, i) => {
    select.push(`  SUM(CASE WHEN BOTH_OK = 1 AND CAST(SLICE_${i} AS VARCHAR) = ${bind(s.value)} THEN 1 ELSE 0 END) AS SLICE_${i}_PAIRS`);
    if (input.threshold !== undefined) {
      select.push(`  SUM(CASE WHEN BOTH_OK = 1 AND CAST(SLICE_${i} AS VARCHAR) = ${bind(s.value)} AND ${agrees()} THEN 1 ELSE 0 END) AS SLICE_${i}_AGREE`);
    }
  });
  const sqlText = [...lines, 'SELECT', select.join(',\n'), 'FROM PAIRS'].join('\n');
  return { sqlText, binds, slices, ...(edges ? { scoreEdges: [...edges] } : {}), ...(input.threshold !== undefined ? { threshold: input.threshold } : {}) };
}

/** Reads a count or a number from the result row (any case of the alias); NULL is undefined. */
function reader(row: Record<string, unknown>, what: string) {
  const upper = new Map(Object.entries(row).map(([k, v]) => [k.toUpperCase(), v]));
  const value = (alias: string): number | undefined => {
    const v = upper.get(alias);
    if (v === null || v === undefined) return undefined;
    const x = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(x)) throw new ExternalError('snowflake', what, `column ${alias} is ${JSON.stringify(String(v))}, not a number`);
    return x;
  };
  // SUM over no rows is NULL: a count of nothing.
  const count = (alias: string): number => {
    const x = value(alias) ?? 0;
    if (x < 0) throw new ExternalError('snowflake', what, `column ${alias} is ${x}, not a count`);
    return x;
  };
  return { value, count };
}

/** The result row as figures. */
export function shadowFigures(query: ShadowQuery, row: Record<string, unknown>): ShadowFigures {
  const { value, count } = reader(row, 'read the shadow figures');
  const percentile = (alias: string) => value(alias);
  const pick = (p50: number | undefined, p99: number | undefined) => ({ ...(p50 !== undefined ? { p50 } : {}), ...(p99 !== undefined ? { p99 } : {}) });
  const histogram = (side: string): Histogram => ({
    kind: 'numeric', edges: [...query.scoreEdges!], counts: query.scoreEdges!.slice(1).map((_, i) => count(`${side}__B${i}`)),
  });
  return {
    duplicates: { champion: count('CHAMPION_DUPLICATES'), candidate: count('CANDIDATE_DUPLICATES') },
    candidateRequests: count('CANDIDATE_REQUESTS'),
    championRequests: count('CHAMPION_REQUESTS'),
    joined: count('JOINED'),
    errors: { champion: count('CHAMPION_ERRORS'), candidate: count('CANDIDATE_ERRORS') },
    bothAnswered: count('BOTH_ANSWERED'),
    latency: {
      champion: pick(percentile('CHAMPION_P50'), percentile('CHAMPION_P99')),
      candidate: pick(percentile('CANDIDATE_P50'), percentile('CANDIDATE_P99')),
    },
    ...(query.threshold !== undefined ? { agree: count('AGREE') } : {}),
    ...(query.scoreEdges ? { scores: { champion: histogram('CHAMPION'), candidate: histogram('CANDIDATE') } } : {}),
    slices: query.slices.map((s, i) => ({ name: s.name, pairs: count(`SLICE_${i}_PAIRS`), ...(query.threshold !== undefined ? { agree: count(`SLICE_${i}_AGREE`) } : {}) })),
  };
}

/** Runs the shadow aggregation: one statement, one row back. */
export async function readShadowFigures(conn: Pick<SnowflakeConnection, 'query'>, query: ShadowQuery): Promise<ShadowFigures> {
  const rows = await conn.query(query.sqlText, query.binds);
  if (rows.length !== 1) throw new ExternalError('snowflake', 'read the shadow figures', `the aggregation returned ${rows.length} rows, expected one`);
  return shadowFigures(query, rows[0]!);
}

export interface VersionCountsInput {
  table: string;
  model: string;
  /** the versions to count, in the order the counts come back */
  versions: string[];
  window: { start: Date; end: Date };
}

export interface VersionCountsQuery {
  sqlText: string;
  binds: Array<string | number>;
  versions: string[];
}

/** The sample ratio check's one aggregation: requests each version logged in the window. */
export function versionCountsQuery(input: VersionCountsInput): VersionCountsQuery {
  const table = checkTable(input.table);
  const binds: Array<string | number> = [];
  const bind = (v: string | number) => {
    binds.push(v);
    return '?';
  };
  const counts = input.versions.map((v, i) => `  SUM(CASE WHEN ${q('MODEL_VERSION')} = ${bind(v)} THEN 1 ELSE 0 END) AS V_${i}`);
  const where = [
    `${q('MODEL_NAME')} = ${bind(input.model)}`,
    `${q('REQUESTED_AT')} >= CAST(${bind(input.window.start.toISOString())} AS TIMESTAMP WITH TIME ZONE)`,
    `${q('REQUESTED_AT')} < CAST(${bind(input.window.end.toISOString())} AS TIMESTAMP WITH TIME ZONE)`,
  ];
  const sqlText = ['SELECT', counts.join(',\n'), `FROM ${table}`, `WHERE ${where.join('\n  AND ')}`].join('\n');
  return { sqlText, binds, versions: [...input.versions] };
}

/** Runs it: the count per version, in the order asked. */
export async function readVersionCounts(conn: Pick<SnowflakeConnection, 'query'>, query: VersionCountsQuery): Promise<number[]> {
  const rows = await conn.query(query.sqlText, query.binds);
  if (rows.length !== 1) throw new ExternalError('snowflake', 'count requests per version', `the aggregation returned ${rows.length} rows, expected one`);
  const { count } = reader(rows[0]!, 'count requests per version');
  return query.versions.map((_, i) => count(`V_${i}`));
}
