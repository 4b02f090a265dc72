// The product as users install it: `npm pack` of this package, installed from the tarball into an
// empty folder with production dependencies only. It must hold no stand-in and no demo, and its
// `modelship` must answer --help and validate the example release repository without anything
// from test/ or tools/ (they are not there to read).
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { cleanEnv, projectRoot } from './helpers/cli.js';

const run = promisify(execFile);
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund'], { cwd, env: cleanEnv({ npm_config_update_notifier: 'false' }), maxBuffer: 64 << 20 });

interface PackedFile { path: string }

// One `npm pack` for both tests (a pack is a few seconds of npm): the tarball they install and the
// list of the files it holds, as npm reports them.
const dir = mkdtempSync(join(tmpdir(), 'modelship-pack-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let packed: { filename: string; files: PackedFile[] };
t.before(async () => {
  const { stdout } = await npm(['pack', '--json', '--pack-destination', dir], projectRoot);
  packed = (JSON.parse(stdout) as Array<{ filename: string; files: PackedFile[] }>)[0]!;
});

t.test('npm pack ships the product only: no stand-in, no demo, no tests', async (t) => {
  const files = packed.files.map((f) => f.path);
  t.same(files.filter((f) => /^(tools|test)\/|sandbox|demo|duckdb|s3rver|openapi-subset/.test(f)), [], 'nothing from tools/ or test/');
  for (const f of ['dist/cli.js', 'dist/program.js', 'dist/config/validators.generated.cjs', 'src/config/schemas/policy.schema.json', 'package.json']) t.ok(files.includes(f), `ships ${f}`);
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  t.notOk(Object.keys(pkg.dependencies).some((d) => /duckdb|s3rver|playwright|tap/.test(d)), 'production dependencies are what production runs');
});

t.test('installed from the tarball with --omit=dev: --help and validate work', async (t) => {
  const tarball = join(dir, packed.filename);
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'acmerisk-release-tools', private: true }));
  // The registry's metadata is asked for; the packages themselves come from npm's cache when `npm ci` filled it.
  await npm(['install', '--prefer-offline', '--omit=dev', '--ignore-scripts', '--loglevel=error', tarball], app);
  const bin = join(app, 'node_modules/.bin/modelship');
  t.ok(existsSync(bin), 'the modelship bin is installed');
  t.notOk(existsSync(join(app, 'node_modules/@duckdb')) || existsSync(join(app, 'node_modules/s3rver')), 'no stand-in dependency is installed');

  const help = await run(bin, ['--help'], { env: cleanEnv() });
  t.match(help.stdout, /Usage: modelship \[options\] \[command\]/);
  t.match(help.stdout, /validate .*\n(.*\n)*\s+sync /, 'lists the commands');
  t.notMatch(help.stdout, /\bdemo\b/, 'the demo is not a product command');

  const release = join(dir, 'release');
  for (const d of ['environments', 'models', 'policies']) cpSync(join(projectRoot, d), join(release, d), { recursive: true });
  const validate = await run(bin, ['validate', '-C', release], { env: cleanEnv(), cwd: app });
  t.match(validate.stdout, /working tree: \d+ files valid/);
});
