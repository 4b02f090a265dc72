// deploy/snowflake/grants.sql grants the agent's role exactly what its SQL needs: the privileges
// are derived from the statements a real sync sends (the Snowflake stand-in's log), from the
// scoring-log tables drift reads (model.yaml serving.batch.target) and from the tables the
// production policy's warehouse canary checks read; then compared with the GRANTs, both ways.
// Privileges per statement: Snowflake's access-control privileges reference
// (docs.snowflake.com/en/user-guide/security-access-control-privileges) and the statements' pages
// (CREATE TASK: CREATE TASK on the schema, USAGE on the warehouse; ALTER TASK … RESUME: OWNERSHIP
// and EXECUTE TASK on the account; CREATE TABLE: CREATE TABLE on the schema; a table's creator
// owns it, so INSERT, ALTER and DROP of its own tasks and table need nothing more).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { projectRoot } from '../helpers/cli.js';
import { stage } from '../helpers/stage.js';

const unquote = (id: string) => id.split('.').map((p) => p.replace(/^"(.*)"$/, '$1')).join('.');
const parentsOf = (name: string): string[] => {
  const [db, schema] = name.split('.');
  return [`USAGE ON DATABASE ${db}`, ...(schema && name.split('.').length > 2 ? [`USAGE ON SCHEMA ${db}.${schema}`] : [])];
};

/**
 * The privileges one statement of the agent needs, with why; throws on a statement it does not know.
 * An anonymous block (BEGIN … END;, how sync puts a task in place) runs with the caller's rights:
 * it needs what its statements need.
 */
export function privilegesFor(sql: string): string[] {
  const block = /^BEGIN\n([\s\S]*);\nEND;$/.exec(sql.trim());
  if (block) return block[1]!.split(/;\n(?=  \S)/).flatMap(privilegesFor);
  const s = sql.trim().replace(/\s+/g, ' ');
  let m: RegExpMatchArray | null;
  if ((m = s.match(/^SHOW TASKS .* IN SCHEMA (\S+)$/i))) return parentsOf(`${unquote(m[1]!)}.x`);
  if ((m = s.match(/^CREATE OR ALTER TASK (\S+) WAREHOUSE = (\S+) .* AS CALL ([^(\s]+)\(/i))) {
    const task = unquote(m[1]!);
    const schema = task.split('.').slice(0, 2).join('.');
    const procedure = unquote(m[3]!);
    return [...parentsOf(task), `CREATE TASK ON SCHEMA ${schema}`, `USAGE ON WAREHOUSE ${unquote(m[2]!)}`, ...parentsOf(procedure), `USAGE ON PROCEDURE ${procedure}`];
  }
  if (/^ALTER TASK (IF EXISTS )?\S+ RESUME$/i.test(s)) return ['EXECUTE TASK ON ACCOUNT'];
  if (/^ALTER TASK (IF EXISTS )?\S+ SUSPEND$/i.test(s) || /^DROP TASK (IF EXISTS )?\S+$/i.test(s)) return []; // the owner's
  if ((m = s.match(/^CREATE TABLE IF NOT EXISTS (\S+) \(/i))) {
    const table = unquote(m[1]!);
    return [...parentsOf(table), `CREATE TABLE ON SCHEMA ${table.split('.').slice(0, 2).join('.')}`];
  }
  if (/^INSERT INTO \S+ \(/i.test(s)) return []; // into the table it created: the owner's
  throw new Error(`a statement test/deploy/snowflake-grants.test.ts does not know the privileges of: ${s.slice(0, 120)}`);
}

/** GRANT … TO ROLE <role> statements as "<PRIVILEGE> ON <OBJECT TYPE> <name>" (procedure arguments dropped). */
export function grantsOf(script: string, role: string): { grants: string[]; problems: string[] } {
  const grants: string[] = [];
  const problems: string[] = [];
  const statements = script.replace(/--.*$/gm, '').split(';').map((x) => x.trim().replace(/\s+/g, ' ')).filter(Boolean);
  for (const s of statements) {
    const m = s.match(/^GRANT (.+?) ON (ACCOUNT|DATABASE|SCHEMA|WAREHOUSE|TABLE|PROCEDURE)\b ?(.*?) TO ROLE (\S+)$/i);
    if (!m) {
      if (!/^(CREATE ROLE IF NOT EXISTS|CREATE USER IF NOT EXISTS|GRANT ROLE \S+ TO USER) /i.test(s)) problems.push(`unexpected statement: ${s}`);
      continue;
    }
    if (m[4] !== role) problems.push(`granted to ${m[4]}, not to the environment's role ${role}: ${s}`);
    const object = m[3] ? ` ${m[3].replace(/\(.*\)$/, '')}` : '';
    for (const p of m[1]!.split(',')) grants.push(`${p.trim().toUpperCase()} ON ${m[2]!.toUpperCase()}${object}`);
  }
  return { grants: [...new Set(grants)].sort(), problems };
}

/** What the production agent's role needs besides sync: drift's scoring logs, the canary checks' warehouse queries. */
function readsNeeded(): string[] {
  const out: string[] = [];
  const table = (name: string) => out.push(...parentsOf(name), `SELECT ON TABLE ${name}`);
  for (const model of readdirSync(join(projectRoot, 'models'))) {
    const card = parse(readFileSync(join(projectRoot, 'models', model, 'model.yaml'), 'utf8')) as { serving?: { batch?: { target?: string } } };
    if (card.serving?.batch?.target) table(card.serving.batch.target);
  }
  const policy = parse(readFileSync(join(projectRoot, 'policies/production.yaml'), 'utf8')) as { canary?: { checks?: Array<{ source?: string; query: string }> } };
  for (const check of policy.canary?.checks ?? []) {
    if (check.source !== 'warehouse') continue;
    for (const m of check.query.matchAll(/\b(?:FROM|JOIN)\s+([A-Za-z_][\w$]*\.[A-Za-z_][\w$]*\.[A-Za-z_][\w$]*)/gi)) table(m[1]!.toUpperCase());
  }
  // The shadow gate and the canary's sample ratio check read the prediction log.
  const env = parse(readFileSync(join(projectRoot, 'environments/production.yaml'), 'utf8')) as { inferenceLog?: { table: string } };
  if (env.inferenceLog) table(env.inferenceLog.table.toUpperCase());
  return out;
}

t.test('grants.sql gives the environment\'s role exactly what sync, drift and the canary checks need', async (t) => {
  const s = await stage(t);
  const r = await s.cli('sync', '--env', 'production');
  t.equal(r.code, 0, r.code === 0 ? 'synced' : r.stdout + r.stderr);
  const statements = s.snow.queries.map((q) => q.sqlText);
  t.ok(statements.some((q) => /^BEGIN\n {2}CREATE OR ALTER TASK/.test(q)) && statements.some((q) => /RESUME;\nEND;$/.test(q)) && statements.some((q) => /^CREATE TABLE/.test(q)), 'the sync created tasks and the deployments table');
  const env = parse(readFileSync(join(projectRoot, 'environments/production.yaml'), 'utf8')) as { snowflake: { role: string; warehouse: string } };
  const needed = new Set([...statements.flatMap(privilegesFor), ...readsNeeded(), `USAGE ON WAREHOUSE ${env.snowflake.warehouse}`]);
  const { grants, problems } = grantsOf(readFileSync(join(projectRoot, 'deploy/snowflake/grants.sql'), 'utf8'), env.snowflake.role);
  t.same(problems, []);
  t.same({ missing: [...needed].filter((p) => !grants.includes(p)).sort(), extra: grants.filter((g) => !needed.has(g)) }, { missing: [], extra: [] });
  t.ok(needed.has('SELECT ON TABLE ANALYTICS.DECISIONS.AUTHORISATIONS') && needed.has('SELECT ON TABLE ANALYTICS.SCORES.FRAUD_SCORES'), 'canary and drift reads are part of it');
});

t.test('a statement the test cannot place fails, naming it; grants to another role are reported', async (t) => {
  t.throws(() => privilegesFor('GRANT OWNERSHIP ON SCHEMA ML_PROD.SCORING TO ROLE X'), {
    message: 'a statement test/deploy/snowflake-grants.test.ts does not know the privileges of: GRANT OWNERSHIP ON SCHEMA ML_PROD.SCORING TO ROLE X',
  });
  t.same(privilegesFor('ALTER TASK "ML_PROD"."SCORING"."MODELSHIP_X" RESUME'), ['EXECUTE TASK ON ACCOUNT']);
  t.same(privilegesFor('BEGIN\n  ALTER TASK IF EXISTS "ML_PROD"."SCORING"."MODELSHIP_X" SUSPEND;\n  ALTER TASK "ML_PROD"."SCORING"."MODELSHIP_X" RESUME;\nEND;'), ['EXECUTE TASK ON ACCOUNT'], 'a block: its statements\' privileges');
  t.throws(() => privilegesFor('BEGIN\n  ALTER TASK "ML_PROD"."SCORING"."MODELSHIP_X" RESUME;\n  GRANT OWNERSHIP ON SCHEMA ML_PROD.SCORING TO ROLE X;\nEND;'), {
    message: 'a statement test/deploy/snowflake-grants.test.ts does not know the privileges of: GRANT OWNERSHIP ON SCHEMA ML_PROD.SCORING TO ROLE X',
  });
  t.same(grantsOf('GRANT SELECT, INSERT ON TABLE A.B.C TO ROLE OTHER;\nDROP TABLE A.B.C;', 'MODELSHIP_DEPLOYER'), {
    grants: ['INSERT ON TABLE A.B.C', 'SELECT ON TABLE A.B.C'],
    problems: ['granted to OTHER, not to the environment\'s role MODELSHIP_DEPLOYER: GRANT SELECT, INSERT ON TABLE A.B.C TO ROLE OTHER', 'unexpected statement: DROP TABLE A.B.C'],
  });
});
