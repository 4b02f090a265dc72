// Cold start: a well-formed YAML file is parsed by js-yaml alone, so the `yaml` package (the
// document model, only for problems and positions) is not even loaded; `&` and `*` in quoted text
// do not count as anchors, real anchors still go through the alias limit.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseYaml } from '../../src/config/yaml.js';

// tap itself loads `yaml`, so whether we do is looked at in a fresh node running the build.
const built = new URL('../../dist/config/yaml.js', import.meta.url).href;
const probe = `
  import { createRequire } from 'node:module';
  import { parseYaml } from ${JSON.stringify(built)};
  const cache = createRequire(import.meta.url).cache;
  const loaded = () => Object.keys(cache).some((k) => /[\\/]node_modules[\\/]yaml[\\/]/.test(k));
  const before = loaded();
  const r = parseYaml('p.yaml', 'schedule: { cron: "0 2 * * *", timezone: UTC }\\nteam: "R&D"\\nnote: \\'a*b & c\\'\\n');
  const afterParse = loaded();
  const position = r.locate(['team']);
  console.log(JSON.stringify({ before, afterParse, afterLocate: loaded(), data: r.data, problems: r.problems, position }));
`;

t.test('quoted cron lines and ampersands take the fast path: `yaml` is not loaded', async (t) => {
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' }));
  t.same(out, {
    before: false, afterParse: false, afterLocate: true,
    data: { schedule: { cron: '0 2 * * *', timezone: 'UTC' }, team: 'R&D', note: 'a*b & c' },
    problems: [], position: { line: 2, col: 7 },
  });
});

t.test('an anchor among quoted stars still goes through the alias limit', async (t) => {
  const aliases = Array.from({ length: 21 }, () => '*x').join(', ');
  const r = parseYaml('p.yaml', `cron: "0 2 * * *"\na: &x [1]\nb: [${aliases}]\n`);
  t.match(r.problems.map((p) => p.message), [/^too many aliases: 21; at most 20 are allowed/]);
  t.equal(r.data, undefined);
});

t.test('an anchor without aliases parses as before', async (t) => {
  const r = parseYaml('p.yaml', 'team: "R&D"\na: &x 1\n');
  t.same(r.problems, []);
  t.same(r.data, { team: 'R&D', a: 1 });
});
