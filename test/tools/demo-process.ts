// The demo as its tests start it: `npm run demo`'s command (its TypeScript loaded as the tests' own
// is, by test/helpers/ts-hooks.mjs: tsx's transformer, without tsx's start-up cost), on a
// tether (tools/sandbox/tether.ts), so that a test killed by tap's timeout takes the demo — and
// with it the stand-ins and serve the demo tethered to itself — down too. SIGINT and SIGTERM sent
// to the returned process reach the demo; its exit code is the demo's.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnTethered, type TetheredProcess } from '../../tools/sandbox/tether.js';
import { cleanEnv, projectRoot } from '../helpers/cli.js';

const demoArgs = ['--import', pathToFileURL(join(projectRoot, 'test/helpers/ts-hooks.mjs')).href, join(projectRoot, 'tools/demo/cli.ts')];

/** Starts the demo with `args` in `cwd`: `process` is its tether (stdout and stderr piped), `pid` the demo's own. */
export function spawnDemo(args: string[], cwd: string): TetheredProcess {
  return spawnTethered(process.execPath, [...demoArgs, ...args], { env: cleanEnv(), cwd });
}

/** Processes whose command line mentions `text` (the demo's folder): the stand-ins and commands it started. */
export function processesMentioning(text: string): string[] {
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes(text) && !l.includes('ps -eo'));
}
