// Every path of the repository has a code owner (issue #14: the code, how it is built and the
// workflows were nobody's). GitHub reads .github/CODEOWNERS top to bottom and the LAST matching
// line decides (docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners),
// so the default owner is the first rule and the lines below narrow it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { projectRoot } from './helpers/cli.js';

const rules = readFileSync(join(projectRoot, '.github/CODEOWNERS'), 'utf8').split('\n')
  .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).map((l) => l.split(/\s+/))
  .map(([pattern, ...owners]) => ({ pattern: pattern!, owners }));

/** The patterns this file uses, as GitHub reads them: `*` everything, `/dir/` a folder from the root, `/file` one file. */
function matches(pattern: string, path: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.startsWith('/') || pattern.includes('*')) throw new Error(`this test does not read the pattern ${pattern}; teach it`);
  return pattern.endsWith('/') ? `/${path}`.startsWith(pattern) : `/${path}` === pattern || `/${path}`.startsWith(`${pattern}/`);
}
const owners = (path: string) => rules.filter((r) => matches(r.pattern, path)).at(-1)?.owners ?? [];

t.test('the default owner comes first, so every other line narrows it', async (t) => {
  t.same(rules[0], { pattern: '*', owners: ['@acmerisk/ml-platform'] });
  t.equal(rules.filter((r) => r.pattern === '*').length, 1);
});

t.test('every path has an owner: code, build, deployment, tests, workflows and this file', async (t) => {
  for (const path of ['src/cli.ts', 'tools/sandbox/github/server.ts', 'test/workflows.test.ts', 'deploy/agent.yaml', 'package.json',
    'package-lock.json', '.npmrc', '.github/CODEOWNERS', 'CODEOWNERS', '.github/workflows/ci.yml', 'README.md', 'docs/x.png']) {
    t.same(owners(path), ['@acmerisk/ml-platform'], path);
  }
});

t.test('the narrower lines still decide their paths', async (t) => {
  t.same(owners('policies/production.yaml'), ['@acmerisk/ml-platform', '@acmerisk/model-risk']);
  t.same(owners('models/fraud-detector/versions/2026.11.20-1.yaml'), ['@acmerisk/fraud-ml-leads']);
  t.same(owners('models/chargeback-risk/model.yaml'), ['@acmerisk/disputes-ml']);
  t.same(owners('environments/production.yaml'), ['@acmerisk/fraud-ml-leads', '@acmerisk/model-risk', '@acmerisk/disputes-ml']);
  t.same(owners('environments/staging.yaml'), ['@acmerisk/fraud-ml-leads', '@acmerisk/disputes-ml'], 'a staging pin asks the model teams, not the platform team');
  t.same(owners('environments/qa.yaml'), ['@acmerisk/ml-platform'], 'a new environment falls to the default owner');
});
