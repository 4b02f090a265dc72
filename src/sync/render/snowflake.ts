// Renders the Snowflake scoring tasks an environment should run (one per batch model) and the DDL
// that puts one in place. Pure: no I/O.
//
// Binding decision. Snowflake does not bind parameters in DDL or SHOW: `CREATE DATABASE ?` and
// `SHOW OBJECTS LIKE ?` fail with "syntax error … unexpected '?'" (snowflake-connector-python#1293,
// snowflake-connector-nodejs#387), so a task's COMMENT, CONFIG and body cannot be bound; and a
// task body is SQL text stored now and compiled at every run, so a bind could not live in it anyway.
// Therefore:
//  - the stored body carries no values at all: CALL <procedure>(SYSTEM$GET_TASK_GRAPH_CONFIG('model')
//    ::VARCHAR, …). CALL takes general expressions as arguments (Snowflake docs, CALL), and
//    SYSTEM$GET_TASK_GRAPH_CONFIG reads the running task's CONFIG (docs: the root task of a graph,
//    which a standalone task is). A version change alters CONFIG, never the body;
//  - the values (model, version, artifact URI, sha256, source, target) live in the task's CONFIG, a
//    JSON object, and the ownership marks in its COMMENT, a JSON object. Both are string literals in
//    the DDL, so every value first passes a strict pattern (below) that admits no quote, backslash,
//    `$`, whitespace or control character, and the literal is escaped anyway (' → '', \ → \\);
//  - identifiers (database, schema, task, warehouse, procedure) are validated as unquoted
//    identifiers, upper-cased (how Snowflake resolves unquoted names) and always double-quoted;
//  - source and target are passed as strings (a procedure cannot take a table as an argument; it is
//    expected to use IDENTIFIER(:source)), validated as DATABASE.SCHEMA.TABLE of such identifiers;
//  - statements that Snowflake does bind (INSERT into MODELSHIP_DEPLOYMENTS) use binds: see
//    targets/snowflake.ts. SHOW TASKS uses a constant pattern.
// A value that fails a pattern is a ValidationError before any SQL text exists.
//
// Upsert order: ALTER TASK IF EXISTS … SUSPEND, CREATE OR ALTER TASK, ALTER TASK … RESUME. Snowflake
// refuses to alter a started task (until bundle 2026_06, BCR-2363, for singleton tasks), and
// CREATE OR REPLACE would give the task a new id, which auditors follow; it is never used.

import { createHash } from 'node:crypto';
import type { Deployment, Environment, ModelCard, VersionManifest } from '../../config/types.js';
import { ValidationError, type Problem } from '../../errors.js';
import { managerName, type ScoringTask } from '../types.js';
import { canonicalJson } from './hash.js';

export interface TaskInput {
  environment: string;
  env: Environment;
  commit: string;
  /** batch models; `manifest` is the manifest of the version the environment pins */
  models: Array<{ card: ModelCard; deployment: Deployment; manifest: VersionManifest }>;
}

export interface Statement {
  sqlText: string;
  binds: Array<string | number>;
}

/** Patterns every value must pass before it is written into SQL text. */
export const patterns = {
  identifier: /^[A-Za-z_][A-Za-z0-9_]{0,254}$/,
  qualifiedName: /^[A-Za-z_][A-Za-z0-9_]{0,254}\.[A-Za-z_][A-Za-z0-9_]{0,254}\.[A-Za-z_][A-Za-z0-9_]{0,254}$/,
  model: /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$/,
  environment: /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,29}$/,
  // the repository's versionId (common.schema.json)
  version: /^(?!.*\.\.)[0-9A-Za-z](?:[0-9A-Za-z._-]{0,61}[0-9A-Za-z])?$/,
  artifactUri: /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[A-Za-z0-9/._=-]{1,1024}$/,
  sha256: /^[a-f0-9]{64}$/,
  commit: /^[a-f0-9]{40}(?:[a-f0-9]{24})?$/,
  cronField: /^[0-9A-Za-z*,/?#-]{1,40}$/,
  timezone: /^[A-Za-z][A-Za-z0-9_+-]{0,30}(?:\/[A-Za-z0-9_+-]{1,30}){0,2}$/,
  every: /^([1-9][0-9]{0,5})m$/,
} as const;

/** The task name for a model: MODELSHIP_<MODEL>, upper-case, hyphens as underscores. */
export function taskName(model: string): string {
  return `MODELSHIP_${model.toUpperCase().replace(/-/g, '_')}`;
}

/** One scoring task per batch model, each value validated. Throws ValidationError listing every bad value. */
export function renderTasks(input: TaskInput): ScoringTask[] {
  const { environment, env, commit } = input;
  const problems: Problem[] = [];
  const envFile = `environments/${environment}.yaml`;
  const check = (value: unknown, pattern: RegExp, file: string, path: string, expected: string): string => {
    if (typeof value !== 'string' || !pattern.test(value)) {
      problems.push({ file, line: 0, col: 0, path, message: `not usable in Snowflake SQL: expected ${expected}`, expected, found: shown(value), severity: 'error' });
      return '';
    }
    return value;
  };
  check(environment, patterns.environment, envFile, 'name', 'an environment name');
  check(commit, patterns.commit, envFile, '(commit)', 'a full git commit id');
  if (!env.snowflake) {
    if (input.models.length) problems.push({ file: envFile, line: 0, col: 0, path: 'snowflake', message: 'batch models need a snowflake section', severity: 'error' });
    if (problems.length) throw new ValidationError(problems);
    return [];
  }
  const database = check(env.snowflake.database, patterns.identifier, envFile, 'snowflake.database', 'an unquoted Snowflake identifier').toUpperCase();
  const schema = check(env.snowflake.schema, patterns.identifier, envFile, 'snowflake.schema', 'an unquoted Snowflake identifier').toUpperCase();

  const tasks: ScoringTask[] = [];
  for (const { card, deployment, manifest } of input.models) {
    const batch = card.serving.batch;
    const schedule = deployment.batch?.schedule;
    if (!batch || !schedule) continue;
    const modelFile = `models/${typeof card.name === 'string' && patterns.model.test(card.name) ? card.name : '?'}/model.yaml`;
    const model = check(card.name, patterns.model, modelFile, 'name', 'a model name');
    const at = `models.${model}`;
    const versionFile = `models/${model}/versions/${patterns.version.test(String(manifest.version)) ? manifest.version : '?'}.yaml`;
    const version = check(manifest.version, patterns.version, versionFile, 'version', 'a version');
    if (manifest.version !== deployment.version || manifest.model !== card.name) {
      problems.push({ file: versionFile, line: 0, col: 0, path: 'version', message: `manifest is ${shown(manifest.model)} ${shown(manifest.version)}, but ${envFile} pins ${shown(card.name)} ${shown(deployment.version)}`, severity: 'error' });
    }
    const uri = check(manifest.artifact?.uri, patterns.artifactUri, versionFile, 'artifact.uri', 's3://bucket/key (letters, digits and / . _ = -)');
    const sha256 = check(manifest.artifact?.sha256, patterns.sha256, versionFile, 'artifact.sha256', 'a sha256 digest (64 lower-case hex digits)');
    const procedure = check(batch.procedure, patterns.qualifiedName, modelFile, 'serving.batch.procedure', 'DATABASE.SCHEMA.PROCEDURE').toUpperCase();
    const source = check(batch.source, patterns.qualifiedName, modelFile, 'serving.batch.source', 'DATABASE.SCHEMA.TABLE').toUpperCase();
    const target = check(batch.target, patterns.qualifiedName, modelFile, 'serving.batch.target', 'DATABASE.SCHEMA.TABLE').toUpperCase();
    const warehouse = check(deployment.batch?.warehouse ?? env.snowflake.warehouse, patterns.identifier, envFile,
      deployment.batch?.warehouse !== undefined ? `${at}.batch.warehouse` : 'snowflake.warehouse', 'an unquoted Snowflake identifier').toUpperCase();
    const when = scheduleText(schedule, (problem) => problems.push({ file: envFile, line: 0, col: 0, path: `${at}.batch.schedule${problem.path}`, message: problem.message, found: problem.found, severity: 'error' }));

    const task = {
      database, schema, name: taskName(model), warehouse, schedule: when, procedure,
      args: [model, version, uri, sha256, source, target],
    };
    const comment = { managedBy: managerName as typeof managerName, environment, model, version };
    const specHash = createHash('sha256').update(canonicalJson({ ...task, comment })).digest('hex');
    tasks.push({ ...task, comment: { ...comment, specHash, commit } });
  }
  if (problems.length) throw new ValidationError(problems, `${problems.length} value${problems.length === 1 ? '' : 's'} cannot be written into a Snowflake task: ${problems.map((p) => `${p.file} ${p.path} ${p.found ?? ''}`.trim()).join('; ')}`);
  return tasks.sort((a, b) => a.name.localeCompare(b.name));
}

/** Snowflake's SCHEDULE text: 'USING CRON <5 fields> <tz>' or '<n> MINUTES' / '<n> HOURS'. */
function scheduleText(s: { cron?: string; timezone?: string; every?: string }, problem: (p: { path: string; message: string; found?: string }) => void): string {
  if (s.cron !== undefined && s.every !== undefined) problem({ path: '', message: 'give either cron or every, not both' });
  if (s.cron !== undefined) {
    const fields = typeof s.cron === 'string' ? s.cron.trim().split(/\s+/) : [];
    if (fields.length !== 5 || !fields.every((f) => patterns.cronField.test(f))) problem({ path: '.cron', message: 'expected a five-field cron expression', found: shown(s.cron) });
    const tz = s.timezone ?? 'UTC';
    if (!patterns.timezone.test(tz)) problem({ path: '.timezone', message: 'expected an IANA time zone such as UTC or America/New_York', found: shown(tz) });
    return `USING CRON ${fields.join(' ')} ${tz}`;
  }
  if (s.timezone !== undefined) problem({ path: '.timezone', message: 'a time zone applies to cron only' });
  const every = typeof s.every === 'string' ? patterns.every.exec(s.every) : null;
  if (!every) {
    problem({ path: '.every', message: 'expected cron, or an interval in whole minutes such as 60m', found: shown(s.every) });
    return '';
  }
  const minutes = Number(every[1]);
  return minutes % 60 === 0 ? `${minutes / 60} HOURS` : `${minutes} MINUTES`;
}

/** The CONFIG object a task's body reads its procedure arguments from. */
export function taskConfig(task: ScoringTask): Record<string, string> {
  const [model, version, artifactUri, artifactSha256, source, target] = task.args;
  return { model: model!, version: version!, artifactUri: artifactUri!, artifactSha256: artifactSha256!, source: source!, target: target! };
}

/** The keys of the CONFIG object, in the procedure's argument order. */
export const argumentKeys = ['model', 'version', 'artifactUri', 'artifactSha256', 'source', 'target'] as const;

/** The task body: a CALL whose arguments come from the task's CONFIG; no values in the text. */
export function taskDefinition(task: ScoringTask): string {
  const args = argumentKeys.map((k) => `SYSTEM$GET_TASK_GRAPH_CONFIG('${k}')::VARCHAR`).join(', ');
  return `CALL ${qualified(task.procedure)}(${args})`;
}

/**
 * A task schedule in one spelling, for comparing what we write with what SHOW TASKS answers.
 * Snowflake takes the same interval as "N MINUTES", "N MINUTE" or "N M" (and HOUR, SECOND, H, S:
 * docs.snowflake.com/en/sql-reference/sql/create-task, SCHEDULE), keywords in any case, and a
 * schedule set by hand or by another tool may use any of them; Snowflake's own Terraform provider
 * parses every such spelling back from SHOW TASKS (ParseTaskSchedule, snowflakedb/terraform-
 * provider-snowflake pkg/sdk). The cron fields and the time zone are kept as written.
 */
export function normalSchedule(schedule: string): string {
  const text = schedule.trim().replace(/\s+/g, ' ');
  const cron = /^using cron (.*)$/i.exec(text);
  if (cron) return `USING CRON ${cron[1]}`;
  const interval = /^(\d+) ?([a-z]+)$/i.exec(text);
  if (!interval) return text;
  const unit = interval[2]!.toUpperCase();
  const canonical = ['MINUTES', 'MINUTE', 'M'].includes(unit) ? 'MINUTES' : ['HOURS', 'HOUR', 'H'].includes(unit) ? 'HOURS' : ['SECONDS', 'SECOND', 'S'].includes(unit) ? 'SECONDS' : unit;
  return `${Number(interval[1])} ${canonical}`;
}

/**
 * A task body in one spelling: runs of whitespace outside quotes are one space, no trailing
 * semicolon. Snowflake "does not faithfully round-trip queries" (runs of whitespace, case), which
 * is why its Terraform provider compares statements with whitespace folded (DiffSuppressStatement,
 * snowflakedb/terraform-provider-snowflake); text inside quotes (our CONFIG keys, identifiers) is kept.
 */
export function normalDefinition(definition: string): string {
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < definition.length; i++) {
    const c = definition[i]!;
    if (quote) {
      out += c;
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
      out += c;
    } else if (/\s/.test(c)) {
      if (!out.endsWith(' ')) out += ' ';
    } else {
      out += c;
    }
  }
  return out.trim().replace(/\s*;$/, '');
}

/** The fully qualified, quoted task name. */
export function taskIdentifier(t: { database: string; schema: string; name: string }): string {
  return [t.database, t.schema, t.name].map(quoteIdentifier).join('.');
}

/**
 * The statements that put `task` in place and start it, in order. Re-validates every value (a
 * ScoringTask may come from elsewhere than renderTasks), so nothing unchecked reaches SQL text.
 */
export function taskStatements(task: ScoringTask): Statement[] {
  assertTaskValues(task);
  const name = taskIdentifier(task);
  const config = canonicalJson(taskConfig(task));
  const comment = canonicalJson(task.comment);
  const create = [
    `CREATE OR ALTER TASK ${name}`,
    `  WAREHOUSE = ${quoteIdentifier(task.warehouse)}`,
    `  SCHEDULE = ${stringLiteral(task.schedule)}`,
    `  CONFIG = ${stringLiteral(config)}`,
    `  COMMENT = ${stringLiteral(comment)}`,
    'AS',
    `  ${taskDefinition(task)}`,
  ].join('\n');
  return [
    { sqlText: `ALTER TASK IF EXISTS ${name} SUSPEND`, binds: [] },
    { sqlText: create, binds: [] },
    { sqlText: `ALTER TASK ${name} RESUME`, binds: [] },
  ];
}

/**
 * The upsert as one request: an anonymous Snowflake Scripting block of taskStatements (without the
 * SUSPEND when `absent`: the plan found no such task). A block is one statement to the driver and
 * to Snowflake ("A simple block only requires the keywords BEGIN and END",
 * docs.snowflake.com/en/developer-guide/snowflake-scripting/blocks); its statements run in order
 * and the first that fails stops the block, which fails with that statement's error
 * (…/snowflake-scripting/exceptions), as the three separate statements did. The driver sends the
 * text as it is (only SnowSQL, the Classic Console and the Python connector's execute_string
 * split on semicolons and need EXECUTE IMMEDIATE $$ … $$). One request instead of two or three:
 * a first sync of 1,800 tasks sent 3,600 statements, each a round trip through snowflake-sdk.
 */
export function taskBlock(task: ScoringTask, options: { absent?: boolean } = {}): Statement {
  const [suspend, create, resume] = taskStatements(task);
  const statements = options.absent ? [create!, resume!] : [suspend!, create!, resume!];
  return { sqlText: ['BEGIN', ...statements.map((s) => `${s.sqlText.replace(/^/gm, '  ')};`), 'END;'].join('\n'), binds: [] };
}

/** Throws ValidationError unless every part of the task passes its pattern. */
export function assertTaskValues(task: ScoringTask): void {
  const bad: string[] = [];
  const expect = (what: string, value: unknown, pattern: RegExp) => {
    if (typeof value !== 'string' || !pattern.test(value)) bad.push(`${what} ${shown(value)}`);
  };
  expect('database', task.database, patterns.identifier);
  expect('schema', task.schema, patterns.identifier);
  expect('task name', task.name, patterns.identifier);
  expect('warehouse', task.warehouse, patterns.identifier);
  expect('procedure', task.procedure, patterns.qualifiedName);
  if (!/^(?:USING CRON (?:[0-9A-Za-z*,/?#-]{1,40} ){5}[A-Za-z][A-Za-z0-9_+/-]{0,94}|[1-9][0-9]{0,5} (?:MINUTES|HOURS))$/.test(String(task.schedule))) bad.push(`schedule ${shown(task.schedule)}`);
  if (!Array.isArray(task.args) || task.args.length !== 6) bad.push('arguments: expected model, version, artifact URI, sha256, source, target');
  else {
    const [model, version, uri, sha256, source, target] = task.args;
    expect('model', model, patterns.model);
    expect('version', version, patterns.version);
    expect('artifact URI', uri, patterns.artifactUri);
    expect('artifact sha256', sha256, patterns.sha256);
    expect('source', source, patterns.qualifiedName);
    expect('target', target, patterns.qualifiedName);
  }
  const c = task.comment;
  if (c?.managedBy !== managerName) bad.push('comment.managedBy');
  expect('comment.environment', c?.environment, patterns.environment);
  expect('comment.model', c?.model, patterns.model);
  expect('comment.version', c?.version, patterns.version);
  expect('comment.specHash', c?.specHash, patterns.sha256);
  expect('comment.commit', c?.commit, patterns.commit);
  if (bad.length) {
    throw new ValidationError(bad.map((b) => ({ file: '(rendered task)', line: 0, col: 0, path: b.split(' ')[0]!, message: `not usable in Snowflake SQL: ${b}`, severity: 'error' as const })),
      `task ${shown(task.name)} cannot be written as SQL: ${bad.join('; ')}`);
  }
}

/** A validated identifier, upper-cased and double-quoted. */
export function quoteIdentifier(part: string): string {
  if (!patterns.identifier.test(part)) throw new ValidationError([{ file: '(rendered task)', line: 0, col: 0, path: 'identifier', message: `not an unquoted Snowflake identifier: ${shown(part)}`, severity: 'error' }]);
  return `"${part.toUpperCase()}"`;
}

/** DATABASE.SCHEMA.OBJECT with each part validated and quoted. */
export function qualified(name: string): string {
  if (!patterns.qualifiedName.test(name)) throw new ValidationError([{ file: '(rendered task)', line: 0, col: 0, path: 'name', message: `not DATABASE.SCHEMA.OBJECT: ${shown(name)}`, severity: 'error' }]);
  return name.split('.').map(quoteIdentifier).join('.');
}

/** A single-quoted Snowflake string literal (backslash and quote escaped). Values are validated before they get here. */
export function stringLiteral(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** All statements of a set of tasks as a readable SQL script (golden files, `sync --dry-run`). */
export function renderScript(tasks: ScoringTask[]): string {
  return tasks.map((t) => taskStatements(t).map((s) => `${s.sqlText};\n`).join('')).join('\n');
}

function shown(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}
