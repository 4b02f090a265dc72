// Entry of `npm run bench [-- register|validate|startup|check ...]`: runs the chosen benchmarks, prints
// one table and writes it as Markdown to test/bench/results.md. BENCH_SIZE_MIB shrinks the register
// artifact (default 1024); BENCH_REPEAT repeats each register measurement and takes the median.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkBench, checkNotes } from './check.js';
import { gnuTime, peakRssMethod } from './measure.js';
import { registerBench } from './register.js';
import { startupBench } from './startup.js';
import { machine, renderMarkdown, renderText, type Row } from './table.js';
import { validateBench } from './validate.js';

const resultsFile = fileURLToPath(new URL('./results.md', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);

const sizeMiB = positiveNumber('BENCH_SIZE_MIB', 1024);
const repeatCount = Math.round(positiveNumber('BENCH_REPEAT', 1));

const benchmarks: Record<string, () => Promise<Row[]>> = {
  register: () => registerBench({ sizeMiB, repeat: repeatCount, log }),
  validate: () => validateBench({ log }),
  startup: () => startupBench({ log }),
  check: () => checkBench({ log }),
};
const aliases: Record<string, string> = { version: 'startup', '--version': 'startup' };

const asked = process.argv.slice(2).map((a) => aliases[a] ?? a);
const unknown = asked.filter((a) => !(a in benchmarks));
if (unknown.length) {
  log(`unknown benchmark ${unknown.join(', ')}; choose from: ${Object.keys(benchmarks).join(', ')}`);
  process.exit(2);
}
const chosen = asked.length ? Object.keys(benchmarks).filter((b) => asked.includes(b)) : Object.keys(benchmarks);

const rows: Row[] = [];
let failed = false;
for (const name of chosen) {
  const started = Date.now();
  try {
    rows.push(...(await benchmarks[name]!()));
    log(`${name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    failed = true;
    log(`${name}: failed: ${(e as Error).stack ?? e}`);
    rows.push({ figure: name, target: '', measured: `failed: ${(e as Error).message.split('\n')[0]}`, reference: '', ratio: '' });
  }
}

const notes = [
  ...(chosen.length < Object.keys(benchmarks).length ? [`Subset run: ${chosen.join(', ')}.`] : []),
  ...(chosen.includes('register')
    ? [`register: artifact ${sizeMiB} MiB of random bytes, s3rver on loopback, ${repeatCount === 1 ? 'one run' : `median of ${repeatCount} runs`} each; peak RSS by ${peakRssMethod}.`]
    : []),
  ...(chosen.includes('check') ? checkNotes() : []),
  ...(chosen.includes('register') && !gnuTime ? ['GNU time is not installed: peak RSS was polled, so a short spike could be missed.'] : []),
  'Ratio = measured / reference. ✓/✗: target met or missed.',
];
const m = machine();
process.stdout.write(`\n${renderText(rows, m, notes)}\n`);
writeFileSync(resultsFile, renderMarkdown(rows, m, notes));
log(`\nwrote ${resultsFile}`);
process.exitCode = failed ? 1 : 0;

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!(n > 0)) {
    log(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}
