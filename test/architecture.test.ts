// The layout DESIGN.md promises, checked on the source: each external system's client library is
// imported in its own room under src/adapters/ and nowhere else; gates are pure (no adapter, no
// I/O); commands hold no git, YAML or HTTP server; repository files are parsed in config/ (the
// YAML writers of promote and register excepted: they edit documents, keeping comments).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { projectRoot } from './helpers/cli.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const files = sources(join(projectRoot, 'src')).map((f) => ({ path: relative(projectRoot, f), text: readFileSync(f, 'utf8') }));
/** Every module a file imports (static, dynamic and type-only), as written. */
const importsOf = (text: string) => [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]!);

/** Which room may import which library. */
const rooms: Array<{ library: RegExp; room: RegExp }> = [
  { library: /^simple-git$|^node:child_process$/, room: /^src\/adapters\/git\// },
  // The GitHub App libraries (JWT, installation tokens, webhook signatures) in one file of the GitHub room.
  { library: /^@octokit\/(app|webhooks|auth-app)$/, room: /^src\/adapters\/github\/app\.ts$/ },
  { library: /^@octokit\//, room: /^src\/adapters\/github\// },
  { library: /^@aws-sdk\/client-s3$/, room: /^src\/adapters\/s3\// },
  { library: /^@aws-sdk\/client-kms$/, room: /^src\/adapters\/kms\.ts$/ },
  { library: /^@kubernetes\/client-node$/, room: /^src\/adapters\/kubernetes\// },
  { library: /^snowflake-sdk$/, room: /^src\/adapters\/snowflake\// },
  { library: /^(yaml|js-yaml)$/, room: /^src\/config\/|^src\/promote\/edit\.ts$|^src\/registry\/manifest\.ts$/ },
];

t.test('each client library is imported only in its own room', async (t) => {
  const misplaced: string[] = [];
  for (const f of files) {
    for (const spec of importsOf(f.text)) {
      const rule = rooms.find((r) => r.library.test(spec));
      if (rule && !rule.room.test(f.path)) misplaced.push(`${f.path} imports ${spec}`);
    }
  }
  t.same(misplaced, []);
});

t.test('the test finds what it looks for (a file that breaks the rule is caught)', async (t) => {
  t.same(importsOf("import { simpleGit } from 'simple-git';\nconst x = await import('snowflake-sdk');\nimport type { Octokit } from '@octokit/rest';"), ['simple-git', 'snowflake-sdk', '@octokit/rest']);
  t.ok(files.some((f) => importsOf(f.text).includes('simple-git')), 'simple-git is imported somewhere (by its room)');
  t.ok(files.some((f) => f.path === 'src/adapters/github/app.ts' && importsOf(f.text).includes('@octokit/app') && importsOf(f.text).includes('@octokit/webhooks')), 'the App libraries are imported by their room');
  t.same(rooms.find((r) => r.library.test('@octokit/webhooks'))!.room.test('src/serve/intake.ts'), false, 'serve may not verify signatures itself');
});

t.test('gates are pure: no adapter, no I/O module', async (t) => {
  const impure = files.filter((f) => f.path.startsWith('src/gates/'))
    .flatMap((f) => importsOf(f.text).filter((s) => /\/adapters\/|^node:(fs|child_process|http|https|net)/.test(s)).map((s) => `${f.path} imports ${s}`));
  t.same(impure, []);
});

t.test('commands parse flags, call one flow and print: no git, no YAML, no HTTP server', async (t) => {
  const found = files.filter((f) => f.path.startsWith('src/commands/'))
    .flatMap((f) => importsOf(f.text).filter((s) => /^(simple-git|yaml|js-yaml|node:child_process|node:http)$/.test(s)).map((s) => `${f.path} imports ${s}`));
  t.same(found, []);
});

t.test('error classes are declared in src/errors.ts only', async (t) => {
  const declared = files.filter((f) => f.path !== 'src/errors.ts' && /class \w+ extends (\w*Error)\b/.test(f.text)).map((f) => f.path);
  t.same(declared, []);
});

t.test('the agent reconciles through the sync flow and the adapters: no command, no HTTP server, nothing of serve but its metrics', async (t) => {
  const found = files.filter((f) => f.path.startsWith('src/agent/'))
    .flatMap((f) => importsOf(f.text).filter((s) => /\/commands\/|^node:(http|https|child_process)$|\/serve\/(?!metrics\.js$)/.test(s)).map((s) => `${f.path} imports ${s}`));
  t.same(found, []);
  t.ok(files.some((f) => f.path === 'src/agent/agent.ts' && importsOf(f.text).includes('../sync/connect.js')), 'the rule sees the agent\'s imports');
});
