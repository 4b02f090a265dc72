// Benchmark 3: cold start. `modelship --version` and `--help` against the start of a bare
// `node -e ''` (goal for --help: within 1.2×, issue #16), and `validate` of the example
// repository (this repository's own release files; goal < 250 ms). The bin enables Node's compile
// cache (src/cli.ts); the same commands with NODE_DISABLE_COMPILE_CACHE=1 show what it is worth.
// The cache is warm: a first run fills it before the timed runs.

import { fileURLToPath } from 'node:url';
import { childEnv, expectSuccess, measure, median, repeat } from './measure.js';
import { ms, ratio, type Row } from './table.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const runs = 20;

export async function startupBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const env = childEnv();
  const noCache = childEnv({ NODE_DISABLE_COMPILE_CACHE: '1' });
  const node = process.execPath;
  const run = async (what: string, args: string[], e = env) => expectSuccess(what, await measure(node, args, { env: e, cwd: root })).wallMs;
  // fill the compile cache
  for (const args of [['--version'], ['--help'], ['validate']]) await run(`modelship ${args[0]}`, [cli, ...args]);
  options.log(`startup: ${runs} interleaved runs each of node -e '', modelship --version, --help, validate (with and without the compile cache)`);
  // (--version and --help on a pipe are printed before the program or the cache are touched: src/cli.ts)
  // Interleaved, so a change in machine load affects every side alike.
  const samples = await repeat(runs, async () => ({
    bare: await run("node -e ''", ['-e', '']),
    version: await run('modelship --version', [cli, '--version']),
    help: await run('modelship --help', [cli, '--help']),
    validate: await run('modelship validate', [cli, 'validate']),
    validateNoCache: await run('modelship validate', [cli, 'validate'], noCache),
  }));
  const m = (k: keyof (typeof samples)[number]) => median(samples.map((s) => s[k]));
  const bare = m('bare');
  const nodeRef = `node -e '': ${ms(bare)}`;
  return [
    { figure: `modelship --version, cold start, median of ${runs}`, target: '< 300 ms', measured: ms(m('version')), reference: nodeRef, ratio: ratio(m('version'), bare), met: m('version') < 300 },
    { figure: `modelship --help, cold start, median of ${runs}`, target: `≤ 1.2× node -e ''`, measured: ms(m('help')), reference: nodeRef, ratio: ratio(m('help'), bare), met: m('help') <= 1.2 * bare },
    { figure: `modelship validate of the example repository (12 files), median of ${runs}`, target: '< 250 ms', measured: ms(m('validate')), reference: nodeRef, ratio: ratio(m('validate'), bare), met: m('validate') < 250 },
    { figure: '  the same without the compile cache', target: '', measured: ms(m('validateNoCache')), reference: nodeRef, ratio: ratio(m('validateNoCache'), bare) },
  ];
}
