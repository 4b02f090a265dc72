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

/**
 * A README example: the block between `<!-- example: NAME -->` and `<!-- /example -->` must be
 * `text` as a console block. UPDATE_GOLDEN=1 writes it, so examples are generated, never typed.
 */
export function readmeExample(t: Test, name: string, text: string, as: 'console' | 'markdown' = 'console'): void {
  const file = join(projectRoot, 'README.md');
  const readme = readFileSync(file, 'utf8');
  const open = `<!-- example: ${name} -->\n`;
  const close = '<!-- /example -->';
  const start = readme.indexOf(open);
  const end = start < 0 ? -1 : readme.indexOf(close, start);
  if (start < 0 || end < 0) {
    t.fail(`README.md has no "${open.trim()} ... ${close}" block`);
    return;
  }
  // Markdown goes in as it is, so GitHub renders the report the way a pull request shows it.
  const block = as === 'markdown' ? `${open}${text.trimEnd()}\n` : `${open}\`\`\`console\n${text.trimEnd()}\n\`\`\`\n`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, readme.slice(0, start) + block + readme.slice(end));
  t.equal(readFileSync(file, 'utf8').slice(start, start + block.length + close.length), block + close, `README.md example "${name}" is up to date (UPDATE_GOLDEN=1 rewrites it)`);
}
