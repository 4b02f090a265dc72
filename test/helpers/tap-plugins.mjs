// Run by `npm test` before tap: builds tap's Test class for package.json's plugin set when the one
// in node_modules was built for another (npm ci installs tap's default set). tap's runner notices
// too, but rebuilds only for later runs: the test processes of the run that notices still start
// with the old set's loaders, and one of them (@tapjs/mock's module.register hooks) cannot share a
// process with test/helpers/preload.cjs's synchronous ones, so a fresh clone's first `tap` failed
// every file. Checking costs ~0.2 s; building, once, ~10 s.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TapConfig } from '@tapjs/config';

const require = createRequire(import.meta.url);
const built = readFileSync(join(dirname(require.resolve('@tapjs/test/package.json')), 'test-built/dist/esm/index.js'), 'utf8');
const current = /export const signature = `([^`]*)`/.exec(built)?.[1]?.trim();
const wanted = (await TapConfig.load()).pluginSignature;
if (current !== wanted) {
  const tap = join(dirname(require.resolve('tap/package.json')), JSON.parse(readFileSync(require.resolve('tap/package.json'), 'utf8')).bin.tap);
  console.error('tap: building its Test class for the plugin set in package.json (once after npm ci)');
  execFileSync(process.execPath, [tap, 'build'], { stdio: 'inherit' });
}
