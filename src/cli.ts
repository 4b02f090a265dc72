#!/usr/bin/env node
// The modelship command line: runs the program (src/program.ts) on process.argv, prints to the
// terminal, and sets the exit code. Nothing else.

import type { Output } from './commands/output.js';
import { runCommand } from './program.js';

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
