// Build step (after tsc): writes dist/help.generated.txt, the top-level `modelship --help` as the
// program prints it when stdout is not a terminal (80 columns). src/cli.ts prints it for a bare
// `--help`/`-h` without loading the program and commander: Node's own start is most of a help's
// time, and the rest was loading what help does not need. test/cli-help.test.ts checks the file
// against the program.

import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCommand } from './program.js';

const file = fileURLToPath(new URL('./help.generated.txt', import.meta.url));
rmSync(file, { force: true });
// commander wraps help to the terminal's width when stdout is one; the file is the pipe's (80)
Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
let help = '';
const code = await runCommand(['--help'], { out: (s) => (help += `${s}\n`), err: (s) => process.stderr.write(`${s}\n`), progress: () => {} });
if (code !== 0 || !help) throw new Error(`modelship --help exited ${code} with ${help.length} characters`);
writeFileSync(file, help);
process.stdout.write(`wrote ${file}\n`);
