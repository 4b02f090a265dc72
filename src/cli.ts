#!/usr/bin/env node
// The modelship command line: runs the program (src/program.ts) on process.argv, prints to the
// terminal, and sets the exit code. Nothing else.

import type { Output } from './commands/output.js';

// Node's compile cache keeps V8's compiled code of our modules and their dependencies between
// runs (~10 % of every command's start-up; measured in test/bench/startup.ts). A quiet
// optimisation: the directory is NODE_COMPILE_CACHE if set, else $XDG_CACHE_HOME/modelship, else
// node's own default (<OS temp dir>/node-compile-cache); it is safe to delete, and when it cannot
// be written the cache is simply off (enableCompileCache never throws).
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. It must be enabled before the program is imported,
// hence the dynamic import below.
const { enableCompileCache } = process.getBuiltinModule('node:module');
const xdgCache = process.env.XDG_CACHE_HOME?.startsWith('/') ? process.env.XDG_CACHE_HOME : undefined; // the XDG spec: absolute, else ignored
enableCompileCache?.(process.env.NODE_COMPILE_CACHE || !xdgCache ? undefined : `${xdgCache}/modelship/compile-cache`);

const { runCommand } = await import('./program.js');

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

process.exitCode = await runCommand(process.argv.slice(2), output);
