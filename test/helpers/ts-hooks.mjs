// Loaded into every test process (package.json tap.node-arg): runs the TypeScript of src/, test/
// and tools/ as tsx does, at a fraction of the start-up cost. tsx resolves and loads every module
// of the process (tap's, the client libraries') through hooks on another thread; an empty test
// file cost ~0.6 s of CPU with it, ~0.25 s with these, and a file that loads the stand-ins and the
// CLI about 1 s less. Here, in the test's own thread (module.registerHooks):
//  - resolve: a relative import of `x.js` from our code, when there is no x.js but an x.ts, is x.ts
//    (the imports are written for the compiled dist/, as tsc wants them);
//  - load: our .ts files are turned into JavaScript by esbuild, the transformer tsx itself uses
//    (taken from tsx's own dependencies): types removed, imports used only as types dropped,
//    parameter properties, an inline source map so stack traces point at the TypeScript. The
//    result is kept by content in node_modules/.cache/modelship-ts-hooks, so esbuild runs only for
//    a file that changed. node_modules is left to Node.
// On a Node without module.registerHooks (before 22.15), tsx does it all, as before.
import module, { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

if (typeof module.registerHooks !== 'function') {
  await import('tsx');
} else {
  const isFile = (url) => {
    try {
      return statSync(fileURLToPath(url)).isFile();
    } catch {
      return false;
    }
  };
  let esbuild;
  const transform = (source, file) => {
    esbuild ??= createRequire(fileURLToPath(import.meta.resolve('tsx')))('esbuild');
    return esbuild.transformSync(source, {
      loader: 'ts', format: 'esm', target: `node${process.versions.node}`, sourcemap: 'inline', sourcefile: file,
      // tsconfig.json: target ES2022, whose class fields are defined as JavaScript defines them
      tsconfigRaw: { compilerOptions: { useDefineForClassFields: true } },
    }).code;
  };
  const cacheDir = fileURLToPath(new URL('../../node_modules/.cache/modelship-ts-hooks/', import.meta.url));
  const transformed = (source, file) => {
    const key = createHash('sha256').update(`${process.version}\0${file}\0${source}`).digest('hex');
    const cached = `${cacheDir}${key}.js`;
    try {
      return readFileSync(cached, 'utf8');
    } catch {
      const out = transform(source, file);
      try {
        mkdirSync(cacheDir, { recursive: true });
        const tmp = `${cached}.${process.pid}.tmp`;
        writeFileSync(tmp, out);
        renameSync(tmp, cached);
      } catch {
        // no cache: the next process transforms the file again
      }
      return out;
    }
  };
  const ours = (url) => url.startsWith('file:') && !url.includes('/node_modules/');
  module.registerHooks({
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
        const file = fileURLToPath(url);
        return { format: 'module', source: transformed(readFileSync(file, 'utf8'), file), shortCircuit: true };
      }
      return next(url, context);
    },
  });
}
