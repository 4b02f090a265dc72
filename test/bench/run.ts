// Entry of `npm run bench [-- register|validate|startup|check|sync|audit|serve|agent|demo|shadow ...]`: runs the chosen benchmarks, prints
// one table and writes it as Markdown to test/bench/results.md. BENCH_SIZE_MIB shrinks the register
// artifact (default 1024); BENCH_REPEAT repeats each register measurement and takes the median.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { agentBench, agentNotes } from './agent.js';
import { auditBench, auditNotes } from './audit.js';
import { demoBench } from './demo.js';
import { checkBench, checkNotes } from './check.js';
import { gnuTime, peakRssMethod } from './measure.js';
import { registerBench } from './register.js';
import { serveBench, serveNotes } from './serve.js';
import { shadowBench, shadowNotes } from './shadow.js';
import { startupBench } from './startup.js';
import { syncBench, syncNotes } from './sync.js';
import { machine, renderMarkdown, renderText, type Machine, type Row } from './table.js';
import { validateBench } from './validate.js';

const resultsFile = fileURLToPath(new URL('./results.md', import.meta.url));
const storeFile = fileURLToPath(new URL('./results.json', import.meta.url));
const readmeFile = fileURLToPath(new URL('../../README.md', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);

const sizeMiB = positiveNumber('BENCH_SIZE_MIB', 1024);
const repeatCount = Math.round(positiveNumber('BENCH_REPEAT', 1));

const benchmarks: Record<string, () => Promise<Row[]>> = {
  register: () => registerBench({ sizeMiB, repeat: repeatCount, log }),
  validate: () => validateBench({ log }),
  startup: () => startupBench({ log }),
  check: () => checkBench({ log }),
  sync: () => syncBench({ log }),
  audit: () => auditBench({ log }),
  serve: () => serveBench({ log }),
  agent: () => agentBench({ log }),
  demo: () => demoBench({ log }),
  shadow: () => shadowBench({ log }),
};
const aliases: Record<string, string> = { version: 'startup', '--version': 'startup' };

// `--render`: measure nothing; render results.md and the README's table again from results.json
// (after a merge that brought figures of different benchmarks together).
const renderOnly = process.argv.includes('--render');
const asked = process.argv.slice(2).filter((a) => a !== '--render').map((a) => aliases[a] ?? a);
const unknown = asked.filter((a) => !(a in benchmarks));
if (unknown.length) {
  log(`unknown benchmark ${unknown.join(', ')}; choose from: ${Object.keys(benchmarks).join(', ')}`);
  process.exit(2);
}
const chosen = renderOnly ? [] : asked.length ? Object.keys(benchmarks).filter((b) => asked.includes(b)) : Object.keys(benchmarks);

const rows: Array<Row & { bench: string }> = [];
let failed = false;
for (const name of chosen) {
  const started = Date.now();
  try {
    rows.push(...(await benchmarks[name]!()).map((r) => ({ ...r, bench: name })));
    log(`${name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    failed = true;
    log(`${name}: failed: ${(e as Error).stack ?? e}`);
    rows.push({ bench: name, figure: name, target: '', measured: `failed: ${(e as Error).message.split('\n')[0]}`, reference: '', ratio: '' });
  }
}

const shared = 'Ratio = measured / reference. ✓/✗: target met or missed.';
const notesOf: Record<string, string[]> = {
  register: [
    `register: artifact ${sizeMiB} MiB of random bytes, s3rver on loopback behind the sandbox's checksum layer (tools/sandbox/s3-checksums.ts), which verifies what each client sends as S3 does: register's parts carry x-amz-checksum-sha256 and, as the signed payload hash, the same digest in x-amz-content-sha256 (the layer hashes each part once for both); aws s3 cp (CLI v1, botocore) signs its payload over plain HTTP (x-amz-content-sha256) and, if it sends Content-MD5, the layer checks that too. What each client pays itself: register one SHA-256 per part (main thread) and the whole file's SHA-256 (worker thread); aws s3 cp its payload SHA-256 plus whatever MD5 it sends. The layer's bytes hashed and CPU time, and s3rver's CPU time (it MD5s every part and again the assembled object), are shown per upload in the \"stand-ins' share\" row; all of it runs on the same 2 cores as the client, so on a busy machine the clients' own CPU time (GNU time, user + system, all threads) is the steadier comparison. Default register: --concurrency 4 --part-size 16; ${repeatCount === 1 ? 'one run' : `median of ${repeatCount} runs`} each; peak RSS by ${peakRssMethod}; --part-size 200 is checked to be refused (exit 2) before anything is sent.`,
    ...(gnuTime ? [] : ['GNU time is not installed: peak RSS was polled, so a short spike could be missed.']),
  ],
  check: checkNotes(),
  sync: syncNotes(),
  audit: auditNotes(),
  serve: serveNotes(),
  agent: agentNotes(),
  shadow: shadowNotes(),
};
const m = machine();
process.stdout.write(`\n${renderText(rows, m, [...chosen.flatMap((b) => notesOf[b] ?? []), shared])}\n`);

// Each benchmark's latest figures are kept (results.json), so running one benchmark updates its
// rows and leaves the others' standing; results.md and the README's table are rendered from all.
const stored: Record<string, { rows: Row[]; notes: string[]; machine: Machine }> = existsSync(storeFile) ? JSON.parse(readFileSync(storeFile, 'utf8')) : {};
for (const name of chosen) stored[name] = { rows: rows.filter((r) => r.bench === name).map(({ bench: _b, ...r }) => r), notes: notesOf[name] ?? [], machine: m };
writeFileSync(storeFile, JSON.stringify(stored, null, 2) + '\n');
const order = Object.keys(benchmarks).filter((b) => stored[b]);
const table = renderMarkdown(order.flatMap((b) => stored[b]!.rows), order.map((b) => ({ name: b, machine: stored[b]!.machine, notes: stored[b]!.notes })), shared);
writeFileSync(resultsFile, table);
const readme = readFileSync(readmeFile, 'utf8');
const open = readme.indexOf('<!-- bench -->\n');
const close = readme.indexOf('<!-- /bench -->');
if (open >= 0 && close > open) writeFileSync(readmeFile, readme.slice(0, open) + '<!-- bench -->\n' + table + readme.slice(close));
log(`\nwrote ${resultsFile}, ${storeFile} and the README's benchmark table`);
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
