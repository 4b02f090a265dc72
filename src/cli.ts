#!/usr/bin/env node
// The modelship command line: runs the program (src/program.ts) on process.argv, prints to the
// terminal, and sets the exit code. Nothing else.

import type { Output } from './commands/output.js';

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

// A bare `--help` on a pipe or file (80 columns, no terminal width to follow) is the text the
// build wrote (src/build-help.ts), and a bare `--version` is package.json's version, both printed
// without loading the program: the same bytes, a fraction of the start-up (test/cli-help.test.ts).
// Anything else, or no such file, goes through the program.
const args = process.argv.slice(2);
const text = args.length !== 1 ? undefined
  : (args[0] === '--help' || args[0] === '-h') && !process.stdout.isTTY ? readBuilt('./help.generated.txt')
  : args[0] === '--version' || args[0] === '-V' ? versionLine(readBuilt('../package.json'))
  : undefined;
if (text) process.stdout.write(text);
else process.exitCode = await run();

function readBuilt(path: string): string | undefined {
  try {
    return process.getBuiltinModule('node:fs').readFileSync(new URL(path, import.meta.url), 'utf8');
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

  const { runCommand } = await import('./program.js');

  return runCommand(args, output);
}
