// `modelship --help` on a pipe prints the text the build wrote (src/build-help.ts), and
// `--version` package.json's version, without loading the program (src/cli.ts): they must be
// exactly what the program prints.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { runCli, spawnCli } from './helpers/cli.js';

t.test('the built help is the program\'s help, byte for byte', async (t) => {
  t.ok(existsSync(fileURLToPath(new URL('../dist/help.generated.txt', import.meta.url))), 'the build wrote dist/help.generated.txt');
  const program = await runCli(['--help']);
  t.equal(program.code, 0);
  for (const flag of ['--help', '-h']) {
    const bin = await spawnCli([flag]);
    t.equal(bin.code, 0, flag);
    t.equal(bin.stderr, '', flag);
    t.equal(bin.stdout, program.stdout, `${flag}: the same text as the program prints`);
  }
});

t.test('the version is the program\'s version', async (t) => {
  const program = await runCli(['--version']);
  t.equal(program.code, 0);
  t.match(program.stdout, /^\d+\.\d+\.\d+\S*\n$/);
  for (const flag of ['--version', '-V']) {
    const bin = await spawnCli([flag]);
    t.equal(bin.code, 0, flag);
    t.equal(bin.stderr, '', flag);
    t.equal(bin.stdout, program.stdout, `${flag}: the same line as the program prints`);
  }
});

t.test('help with anything else goes through the program', async (t) => {
  const bin = await spawnCli(['validate', '--help']);
  t.equal(bin.code, 0);
  t.match(bin.stdout, /^Usage: modelship validate \[options\]\n/);
  const wrong = await spawnCli(['--help', '--nosuchflag']);
  t.equal(wrong.code, 0, 'commander shows help before it looks at other flags, as before');
  t.equal(wrong.stdout, (await runCli(['--help', '--nosuchflag'])).stdout);
});

t.test('a bare --help or --version on a pipe (here a socket, as child_process makes it) does not load the program (commander)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-help-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // at exit, the bin's process says whether it loaded commander (a CommonJS package: require.cache)
  const probe = join(dir, 'probe.mjs');
  writeFileSync(probe, [
    "import { createRequire } from 'node:module';",
    'const require = createRequire(import.meta.url);',
    "process.on('exit', () => {",
    "  const commander = Object.keys(require.cache).some((f) => f.includes('/commander/'));",
    "  require('node:fs').writeSync(2, `commander=${commander}\\n`);",
    '});',
  ].join('\n'));
  const env = { NODE_OPTIONS: `--import=${pathToFileURL(probe).href}` };
  for (const flag of ['--help', '-h', '--version', '-V']) {
    const r = await spawnCli([flag], { env });
    t.equal(r.code, 0, flag);
    t.equal(r.stderr, 'commander=false\n', `${flag}: answered before the program is loaded`);
  }
  const program = await spawnCli(['validate', '--help'], { env });
  t.equal(program.stderr, 'commander=true\n', 'anything else loads the program (the probe sees it)');
});
