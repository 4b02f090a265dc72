// Preloaded (--require, package.json tap.node-arg) into every test process. 1. Before tap's own
// --import of @tapjs/processinfo. processinfo is tap's coverage bookkeeping: it records every
// module a test process loads (re-reading each file, measuring its line lengths) and puts itself
// into the NODE_OPTIONS of every child process the test spawns. On Node 22 it does the recording
// through module.register, hooks on a separate thread that every import of the process then goes
// through. The suite runs with coverage disabled (tap.disable-coverage), so none of it is used;
// it cost about a third of the CPU of a test process (test/commands/sync.test.ts: 10.2 s -> 6.9 s)
// and ~0.3 s of an empty one. When tap collects no coverage (TAP_DISABLE_COVERAGE=1, set by the
// runner from that option), its import resolves to an empty module, and the NODE_OPTIONS our
// children inherit no longer load it. Turn coverage on and this steps aside by itself.
// Our own hooks (ts-hooks.mjs) run in the test's thread (module.registerHooks, Node >= 22.15);
// on an older Node this file does nothing.
'use strict';
const Module = require('node:module');

if (process.env.TAP_DISABLE_COVERAGE === '1' && typeof Module.registerHooks === 'function') {
  const processinfo = /\/node_modules\/@tapjs\/processinfo\/dist\/esm\/import\.mjs$/;
  Module.registerHooks({
    resolve(specifier, context, next) {
      if (processinfo.test(specifier)) return { url: 'data:text/javascript,', format: 'module', shortCircuit: true };
      return next(specifier, context);
    },
  });
  if (process.env.NODE_OPTIONS) {
    process.env.NODE_OPTIONS = process.env.NODE_OPTIONS.replace(/"?--import=[^\s"]*\/@tapjs\/processinfo\/[^\s"]*"?/g, '').replace(/\s+/g, ' ').trim();
  }
}

// V8's compile cache for every module the test process loads (the client libraries alone are
// thousands of files, ~0.8 s of compiling per process that loads them): kept next to ts-hooks'
// cache, so the second test file that loads a library compiles none of it. Only this process
// uses it: enableCompileCache does not set NODE_COMPILE_CACHE, so the CLI processes tests spawn
// keep their own (test/cli-compile-cache.test.ts checks theirs).
Module.enableCompileCache?.(require('node:path').join(__dirname, '../../node_modules/.cache/modelship-test-compile'));
