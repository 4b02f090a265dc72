// The demo's command line: `npm run demo [-- --keep] [-- --dir DIR]` runs
// `node --import tsx tools/demo/cli.ts`. (Flags parsed by node:util's parseArgs: two flags do not
// need commander, and the tools workspace stays apart from the product's CLI.)

import { parseArgs } from 'node:util';
import { ExitCode } from '../../src/errors.js';
import { run, type Options, type Output } from './main.js';

const usage = 'usage: npm run demo [-- --keep] [-- --dir DIR]';

/** The command line: `node --import tsx tools/demo/cli.ts [--keep] [--dir DIR]`. */
async function main(): Promise<void> {
  const output: Output = { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n') };
  let opts: Options;
  try {
    const { values } = parseArgs({ options: { keep: { type: 'boolean' }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
    if (values.help) {
      output.out(`${usage}\n  --keep      keep the demo folder (repository, reports, dashboard, audit trail) afterwards\n  --dir DIR   work in this (empty) folder instead of a new temporary one`);
      return;
    }
    opts = { ...(values.keep ? { keep: true } : {}), ...(values.dir ? { dir: values.dir } : {}) };
  } catch (e) {
    output.err(`${(e as Error).message}\n${usage}`);
    process.exitCode = ExitCode.usage;
    return;
  }
  process.exitCode = await run(opts, output);
}

await main();
