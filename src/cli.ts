#!/usr/bin/env node
// The modelship command line: runs the program (src/program.ts) on process.argv, prints to the
// terminal, and sets the exit code. Nothing else.

import type { Output } from './commands/output.js';

// A bare `--help` on a pipe or file (80 columns, no terminal width to follow) is the text the
// build wrote (src/build-help.ts), and a bare `--version` is package.json's version, both printed
// without loading the program: the same bytes, a fraction of the start-up (test/cli-help.test.ts).
// Anything else, or no such file, goes through the program. This path touches neither
// process.stdout nor a module beyond node:fs: creating the stdout stream object alone (net or
// tty, and their streams) was ~5 ms of a 35 ms --help (test/bench/startup.ts).
const args = process.argv.slice(2);
const fs = process.getBuiltinModule('node:fs');
const text = args.length !== 1 ? undefined
  : (args[0] === '--help' || args[0] === '-h') && stdoutIsPipeOrFile() ? readBuilt('./help.generated.txt')
  : args[0] === '--version' || args[0] === '-V' ? versionLine(readBuilt('../package.json'))
  : undefined;
if (text) writeOut(text);
else process.exitCode = await run();

/** fd 1 is a pipe, a socket (what Node's child_process gives for 'pipe') or a regular file: not a terminal, whose width the help would follow. */
function stdoutIsPipeOrFile(): boolean {
  try {
    const s = fs.fstatSync(1);
    return s.isFIFO() || s.isSocket() || s.isFile();
  } catch {
    return false; // closed or odd: the program decides
  }
}

/** Writes to fd 1 directly; a closed pipe (`| head`) ends quietly, as below; a non-blocking
 * pipe that is full hands the rest to the stream, which waits for it. */
function writeOut(s: string): void {
  let rest = Buffer.from(s);
  try {
    while (rest.length) rest = rest.subarray(fs.writeSync(1, rest));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return;
    if (code !== 'EAGAIN') throw e;
    process.stdout.write(rest);
  }
}

function readBuilt(path: string): string | undefined {
  try {
    return fs.readFileSync(new URL(path, import.meta.url), 'utf8');
  } catch {
    return undefined; // not built: the program prints it
  }
}

function versionLine(pkg: string | undefined): string | undefined {
  try {
    const version = (JSON.parse(pkg ?? '') as { version?: unknown }).version;
    return typeof version === 'string' && version ? `${version}\n` : undefined;
  } catch {
    return undefined;
  }
}

async function run(): Promise<number> {
  const output: Output = {
    out: (s) => process.stdout.write(s + '\n'),
    err: (s) => process.stderr.write(s + '\n'),
    progress: process.stderr.isTTY ? (s) => process.stderr.write(`\r\x1b[2K${s}`) : () => {},
  };
  // `modelship ... | head` closes the pipe early; that is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }

  // Node's compile cache keeps V8's compiled code of our modules and their dependencies between
  // runs (~10 % of every command's start-up; measured in test/bench/startup.ts). A quiet
  // optimisation: the directory is NODE_COMPILE_CACHE if set, else the user's own cache directory
  // ($XDG_CACHE_HOME/modelship, else ~/.cache/modelship, as the XDG spec says) — never node's
  // default under the shared temp directory, where another local user could plant compiled code
  // this process would run. It is safe to delete; when it cannot be written the cache is simply
  // off (enableCompileCache never throws). NODE_DISABLE_COMPILE_CACHE=1 turns it off. It must be
  // enabled before the program is imported, hence the dynamic import below.
  const { enableCompileCache } = process.getBuiltinModule('node:module');
  const absolute = (p: string | undefined) => (p?.startsWith('/') ? p : undefined); // the XDG spec: a relative path is ignored
  const home = absolute(process.env.HOME);
  const userCache = absolute(process.env.XDG_CACHE_HOME) ?? (home ? `${home}/.cache` : undefined);
  const dir = process.env.NODE_COMPILE_CACHE || (userCache ? `${userCache}/modelship/compile-cache` : undefined);
  if (dir) enableCompileCache?.(dir);
  // Worker threads (sync's Snowflake driver, the parallel YAML loader) are Node instances of their
  // own: the cache enabled here is not theirs, but they read NODE_COMPILE_CACHE when they start.
  // Without it the Snowflake worker compiled snowflake-sdk anew on every run.
  if (dir && process.getBuiltinModule('node:module').getCompileCacheDir?.()) process.env.NODE_COMPILE_CACHE = dir;

  const { runCommand } = await import('./program.js');

  return runCommand(args, output);
}
