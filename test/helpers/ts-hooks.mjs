// Loaded into every test process (package.json tap.node-arg): runs the TypeScript of src/, test/
// and tools/ as tsx would, for a third of the start-up cost. tsx resolves and loads every module of
// the process (tap's, the client libraries') through hooks on another thread; an empty test file
// cost ~0.6 s of CPU with it, ~0.25 s with these, and a file that loads the sandbox stand-ins and
// the CLI about 1 s less. Here, in the test's own thread (module.registerHooks):
//  - resolve: a relative import of `x.js` from our code, when there is no x.js but an x.ts, is x.ts
//    (the imports are written for the compiled dist/, as tsc wants them);
//  - load: our .ts files are turned into JavaScript by Node's own TypeScript support
//    (module.stripTypeScriptTypes, mode 'transform': parameter properties and enums too), with an
//    inline source map so stack traces point at the TypeScript. node_modules is left to Node.
// On a Node without these (before 22.15), tsx does it as before.
import module from 'node:module';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const { registerHooks, stripTypeScriptTypes } = module;

if (typeof registerHooks !== 'function' || typeof stripTypeScriptTypes !== 'function') {
  await import('tsx');
} else {
  const isFile = (url) => {
    try {
      return statSync(fileURLToPath(url)).isFile();
    } catch {
      return false;
    }
  };
  // Node 22 warns once that stripTypeScriptTypes is experimental; that is known here, and a test
  // that reads this process's stderr must not see it.
  const strip = (source, url) => {
    const emit = process.emitWarning;
    process.emitWarning = (w, ...rest) => (/stripTypeScriptTypes/.test(String(w)) ? undefined : emit.call(process, w, ...rest));
    try {
      return stripTypeScriptTypes(source, { mode: 'transform', sourceMap: true, sourceUrl: url });
    } finally {
      process.emitWarning = emit;
    }
  };
  // Turning a file into JavaScript takes ~2 ms per KB, and every test process loads the same files:
  // the result is kept by content (and URL, which the source map names) in node_modules/.cache.
  const cacheDir = fileURLToPath(new URL('../../node_modules/.cache/modelship-ts-hooks/', import.meta.url));
  const transformed = (source, url) => {
    const key = createHash('sha256').update(`${process.version}\0${url}\0${source}`).digest('hex');
    const file = `${cacheDir}${key}.js`;
    try {
      return readFileSync(file, 'utf8');
    } catch {
      const out = strip(source, url);
      try {
        mkdirSync(cacheDir, { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, out);
        renameSync(tmp, file);
      } catch {
        // no cache: the next process transforms the file again
      }
      return out;
    }
  };
  const ours = (url) => url.startsWith('file:') && !url.includes('/node_modules/');
  registerHooks({
    resolve(specifier, context, next) {
      if (specifier.endsWith('.js') && /^(\.{1,2}\/|\/|file:)/.test(specifier) && context.parentURL && ours(context.parentURL)) {
        const url = new URL(specifier, context.parentURL);
        if (!isFile(url)) {
          const ts = `${url.href.slice(0, -3)}.ts`;
          if (isFile(ts)) return next(ts, context);
        }
      }
      return next(specifier, context);
    },
    load(url, context, next) {
      if (ours(url) && /\.m?ts$/.test(new URL(url).pathname)) {
        return { format: 'module', source: transformed(readFileSync(fileURLToPath(url), 'utf8'), url), shortCircuit: true };
      }
      return next(url, context);
    },
  });
}
