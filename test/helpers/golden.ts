// Golden files: generated output compared with a committed copy. UPDATE_GOLDEN=1 rewrites them;
// review the diff before committing.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Test } from 'tap';
import { projectRoot } from './cli.js';

export function golden(t: Test, name: string, actual: string): void {
  const file = join(projectRoot, 'test/fixtures/golden', name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (!existsSync(file) && process.env.CI) {
      t.fail(`golden file ${name} is missing; run UPDATE_GOLDEN=1 npm test locally and commit it`);
      return;
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  t.equal(actual, readFileSync(file, 'utf8'), `matches test/fixtures/golden/${name}`);
}
