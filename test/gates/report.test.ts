// The report renderers: one report model (from evaluate(), on AcmeRisk's own release files and
// plain evidence) rendered as text for logs, markdown for GitHub and JSON for machines, and the
// markdown cut to GitHub's size limits without ever exceeding them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadRepository } from '../../src/config/load.js';
import { withChanges, workingTree } from '../../src/config/snapshot.js';
import { readDbtIndex } from '../../src/adapters/dbt.js';
import { diffStates } from '../../src/gates/changes.js';
import { commentMarker, renderJson, renderMarkdown, renderText } from '../../src/gates/report/render.js';
import { evaluate, type Evidence, type Report } from '../../src/gates/run.js';
import { checkRunTextLimit, commentLimit } from '../../src/adapters/github/client.js';
import { projectRoot } from '../helpers/cli.js';

const head = 'c0ffee0000000000000000000000000000000001';
const now = new Date('2026-11-20T10:00:00Z');
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);

/**
 * A pull request promoting fraud-detector 2026.11.13-1 to production, judged by the production
 * policy: the artifact's HEAD timed out (integrity: error), one of two approvals is in
 * (approvals: fail), everything else passes.
 */
async function productionPromotion(edit: { manifest?: (yaml: string) => string } = {}): Promise<Report> {
  const tree = workingTree(projectRoot);
  const manifestPath = 'models/fraud-detector/versions/2026.11.13-1.yaml';
  const files = edit.manifest ? withChanges(tree, new Map([[manifestPath, Buffer.from(edit.manifest(readFileSync(join(projectRoot, manifestPath), 'utf8')))]])) : tree;
  const base = await loadRepository(files, { versions: 'all' });
  const edited = readFileSync(join(projectRoot, 'environments/production.yaml'), 'utf8').replace('version: 2026.11.06-1', 'version: 2026.11.13-1');
  const headRepo = await loadRepository(withChanges(files, new Map([['environments/production.yaml', Buffer.from(edited)]])), { versions: 'all' });
  const changes = diffStates({ base, head: headRepo, files: [{ path: 'environments/production.yaml', status: 'modified' }] });
  const dbt = await readDbtIndex(join(projectRoot, 'test/fixtures/dbt/manifest-v12.json'), { root: projectRoot });
  const evidence: Evidence = {
    now,
    artifacts: new Map([['fraud-detector@2026.11.13-1', { error: 'HeadObject timed out after 15s' }]]),
    dbt: new Map([['s3://acme-dbt-artifacts/prod/manifest.json', dbt]]),
    timelines: new Map([['staging', [
      { commit: 'a'.repeat(40), at: hoursAgo(72), subject: 'promote(staging): fraud-detector 2026.11.06-1 → 2026.11.13-1', trailers: {}, pins: { 'fraud-detector': { version: '2026.11.13-1' } } },
      { commit: 'b'.repeat(40), at: hoursAgo(240), subject: 'promote(staging): fraud-detector 2026.10.30-1 → 2026.11.06-1', trailers: {}, pins: { 'fraud-detector': { version: '2026.11.06-1' } } },
    ]]]),
    canaries: new Map(),
    serving: new Map(),
    holds: new Map([['production/fraud-detector@2026.11.13-1', []]]),
    review: {
      author: 'ada', headSha: head, teamMembers: { '@acmerisk/fraud-ml-leads': ['grace'], '@acmerisk/model-risk': ['barbara'], '@acmerisk/disputes-ml': ['ken'] },
      reviews: [{ user: 'grace', state: 'APPROVED', commitId: head, submittedAt: '2026-11-20T09:30:00Z' }],
    },
  };
  return evaluate({ base: { ...base, label: 'main (3f2a1c9d0e4b)' }, head: { ...headRepo, label: head.slice(0, 12) }, changes }, evidence);
}

t.test('the report model: a production promotion blocked by an unreadable artifact and a missing approval', async (t) => {
  const report = await productionPromotion();
  t.equal(report.verdict, 'blocked');
  t.equal(report.headline, 'blocked: 2 blocking results (integrity, approvals) in 1 of 1 change');
  t.same(report.changes[0]!.gates.map((g) => `${g.gate} ${g.status}`), [
    'schema pass', 'features pass', 'integrity error', 'performance pass', 'soak pass', 'drift pass', 'held pass', 'freeze pass', 'approvals fail',
  ]);
});

t.test('markdown: marker, verdict line, gate table, metrics table, PSI chart, details folded, binding', async (t) => {
  const report = await productionPromotion();
  const md = renderMarkdown(report);
  const lines = md.split('\n');
  t.equal(lines[0], commentMarker, 'the sticky comment is found again by its first line');
  t.equal(lines[1], '### ❌ modelship: blocked: 2 blocking results (integrity, approvals) in 1 of 1 change');
  t.match(md, '<sub>base `main (3f2a1c9d0e4b)` · head `c0ffee000000` · evaluated 2026-11-20T10:00:00.000Z</sub>');

  const table = lines.slice(lines.indexOf('| change | gate | result | |') + 2).filter((l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('|')));
  t.same(table.map((row) => row.split(' | ').slice(1, 3).join(' ')), [
    'schema ✅ pass', 'features ✅ pass', 'integrity ⛔ error **(blocking)**', 'performance ✅ pass',
    'soak ✅ pass', 'drift ✅ pass', 'held ✅ pass', 'freeze ✅ pass', 'approvals ❌ fail **(blocking)**',
  ], 'one row per gate, in order; blocking results marked');
  t.match(table[0], /^\| \*\*production\*\* · promote<br>fraud-detector 2026\.11\.06-1 → 2026\.11\.13-1 \| schema/, 'the change is named on its first row');
  t.match(table[8], /1 of 2 required approvals \(grace \(@&#8203;acmerisk\/fraud-ml-leads\)\)/, 'teams are named, not pinged on every push');

  t.match(md, '**Metrics: fraud-detector 2026.11.13-1 vs 2026.11.06-1 in production**');
  t.match(md, '| metric | slice | candidate | 2026.11.06-1 | Δ | bound | |');
  t.match(md, /\n\| auc \| overall \| [0-9.]+ \| [0-9.]+ \| [+−±][0-9.]+ \| higher is better; ≥ 0\.920; regression ≤ 0\.005 \| ✅ \|/);

  const chart = /```mermaid\nxychart-beta\n {2}title "PSI by feature \(largest first\)"\n {2}x-axis \[(.*)\]\n {2}y-axis "PSI" 0 --> ([0-9.]+)\n {2}bar \[(.*)\]\n```/.exec(md);
  t.ok(chart, 'a mermaid bar chart of PSI by feature');
  const features = chart![1]!.split(', ');
  const bars = chart![3]!.split(', ').map(Number);
  t.equal(features.length, bars.length, 'one bar per feature');
  t.same(bars, [...bars].sort((a, b) => b - a), 'largest first');
  t.match(md, '| feature | PSI | null rate Δ | L∞ | |');

  t.match(md, /<details><summary>✅ features · fraud-detector 2026\.11\.06-1 → 2026\.11\.13-1<\/summary>\n\n- pass {2}txn_amount ← /, 'details are folded');
  t.match(md, /<details><summary>❌ approvals · [^<]*<\/summary>\n\n- counted: grace \(@&#8203;acmerisk\/fraud-ml-leads\)\n/);
  t.equal(md.split('<details>').length, md.split('</details>').length, 'every fold is closed');
  const binding = /<!-- modelship:binding (.*) -->$/.exec(md);
  t.same(JSON.parse(binding![1]!).models, { 'fraud-detector@2026.11.13-1': report.binding!.models['fraud-detector@2026.11.13-1'] });
});

t.test('text, markdown and JSON say the same things: one report model, three renderings', async (t) => {
  const report = await productionPromotion();
  const text = renderText(report);
  const md = renderMarkdown(report);
  const json = JSON.parse(renderJson(report)) as Report;

  t.equal(json.verdict, 'blocked');
  t.equal(json.headline, report.headline);
  t.equal(text.split('\n')[0], `BLOCKED: ${json.headline.replace(/^blocked: /, '')}`, 'the verdict is said once');
  t.equal(text.split('\n')[1], '  base main (3f2a1c9d0e4b), head c0ffee000000');
  t.match(text, '\npromote production: fraud-detector 2026.11.06-1 → 2026.11.13-1\n');
  for (const g of json.changes[0]!.gates) {
    t.match(text, `  ${g.status.padEnd(7)} ${g.gate.padEnd(11)}  ${g.summary}`, `text: ${g.gate}`);
    t.match(md, `| ${g.gate} | `, `markdown: ${g.gate}`);
  }
  t.match(text, /\n {2}fail {4}approvals {4}[^\n]*\n {23}· counted: grace \(@acmerisk\/fraud-ml-leads\)$/, 'details are listed under a result that is not a pass');
  t.notMatch(text, /txn_amount ←/, "and not under a pass (the features gate's)");
  t.notMatch(text, /```|<details>|\| change \|/, 'no markdown in the text');
  t.equal(json.evaluatedAt, '2026-11-20T10:00:00.000Z');
  t.same(json.binding, report.binding);
});

t.test('a report longer than the limit is cut at a section, says so, and never exceeds the limit', async (t) => {
  const report = await productionPromotion();
  const full = renderMarkdown(report);
  t.notMatch(full, /Report truncated/);

  const cut = renderMarkdown(report, { limit: 1500 });
  t.ok(cut.length <= 1500, `${cut.length} characters`);
  t.ok(cut.startsWith(`${commentMarker}\n### ❌ modelship: blocked`), 'the marker and the verdict survive');
  t.match(cut, /\n\n> \*\*Report truncated:\*\* \d+ more sections? did not fit GitHub's 1,500-character limit\. Run `modelship check --format markdown` locally for the whole report\.$/);
  t.ok(full.startsWith(cut.slice(0, cut.indexOf('\n\n> **Report truncated'))), 'what is kept is the report, unaltered');

  const linked = renderMarkdown(report, { limit: 1500, fullReportUrl: 'https://github.com/acmerisk/model-releases/runs/42' });
  t.match(linked, /\[Full report\]\(https:\/\/github\.com\/acmerisk\/model-releases\/runs\/42\)\.$/);

  for (let limit = 200; limit <= full.length + 400; limit += 97) {
    const md = renderMarkdown(report, { limit });
    if (md.length > limit) t.fail(`limit ${limit}: ${md.length} characters`);
  }
  t.pass('no rendering exceeds its limit, from 200 characters up to the whole report');
});

t.test("a report too large for GitHub is cut to its comment and check-run limits", async (t) => {
  const report = await productionPromotion();
  // Sixty promotions in one pull request: far more than a comment can hold.
  const huge: Report = { ...report, changes: Array.from({ length: 60 }, () => report.changes[0]!) };
  t.ok(renderMarkdown(huge, { limit: 10_000_000 }).length > commentLimit, 'the whole report is too long for GitHub');
  for (const [what, limit] of [['comment', commentLimit], ['check run summary', checkRunTextLimit]] as const) {
    const md = renderMarkdown(huge, { limit });
    t.ok(md.length <= limit, `${what}: ${md.length} ≤ ${limit}`);
    t.match(md, /> \*\*Report truncated:\*\* \d+ more sections did not fit GitHub's 65,53[56]-character limit/);
    t.ok(md.startsWith(commentMarker));
  }
});

t.test('values from a manifest reach the markdown escaped: no tag, link, table cell or @mention comes out of a slice name', async (t) => {
  const evil = ['<img src=x onerror=alert(1)>', '@acmerisk/model-risk', '[click](https://evil)', 'a|b'];
  const report = await productionPromotion({
    manifest: (yaml) => yaml
      .replace('- name: region=us', `- name: '${evil[0]}'`).replace('- name: region=eu', `- name: '${evil[1]}'`)
      .replace('- name: card_present=false\n      rows: 187300\n      metrics: {auc: 0.919}', `- name: '${evil[2]}'\n      rows: 187300\n      metrics: {auc: 0.919}\n    - name: '${evil[3]}'\n      rows: 50000\n      metrics: {auc: 0.85}`),
  });
  const perf = report.changes[0]!.gates.find((g) => g.gate === 'performance')!;
  t.same([...new Set((perf.data!.rows as Array<{ slice?: string }>).flatMap((r) => (r.slice ? [r.slice] : [])))], evil, 'the slices are the manifest\'s, as written');
  const md = renderMarkdown(report);
  t.notMatch(md, '<img', 'no raw tag');
  t.notMatch(md, /@acmerisk\/model-risk/, 'no mention of the team');
  t.notMatch(md, '](https://evil)', 'no link');
  const rows = md.split('\n').filter((l) => l.startsWith('| auc | ') && !l.includes('| overall |'));
  t.same(rows, [
    '| auc | &lt;img src=x onerror=alert(1)&gt; | 0.943 |  |  | higher is better; ≥ 0.880; regression ≤ 0.010 | ✅ |',
    '| auc | @&#8203;acmerisk/model-risk | 0.928 |  |  | higher is better; ≥ 0.880; regression ≤ 0.010 | ✅ |',
    '| auc | &#91;click&#93;(https&#8203;://evil) | 0.919 |  |  | higher is better; ≥ 0.880; regression ≤ 0.010 | ✅ |',
    '| auc | a&#124;b | 0.85 |  |  | higher is better; ≥ 0.880; regression ≤ 0.010 | ❌ |',
  ], 'one row per slice, seven cells each, the names inert');
  t.match(md, '| performance | ❌ fail **(blocking)** | auc on a&#124;b 0.850 is below the minimum 0.880 |', 'the summary quoting the slice');
  t.match(md, ['<details><summary>❌ performance · fraud-detector 2026.11.06-1 → 2026.11.13-1</summary>', '',
    '- auc on a&#124;b 0.850 is below the minimum 0.880',
    '- auc on &lt;img src=x onerror=alert(1)&gt;: no slice &lt;img src=x onerror=alert(1)&gt; in production 2026.11.06-1; regression not judged',
    '- auc on @&#8203;acmerisk/model-risk: no slice @&#8203;acmerisk/model-risk in production 2026.11.06-1; regression not judged',
    '- auc on &#91;click&#93;(https&#8203;://evil): no slice &#91;click&#93;(https&#8203;://evil) in production 2026.11.06-1; regression not judged',
  ].join('\n'), 'the details too (inside a raw HTML block, where only references work)');
});

t.test('JSON counts the preview\'s unchanged objects instead of listing them; Markdown counts the same', async (t) => {
  const report = await productionPromotion();
  const object = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ml-serving' } });
  const action = (op: 'update' | 'noop', name: string, extra = {}) => ({ op, target: 'kubernetes' as const, key: `ConfigMap/ml-serving/${name}`, model: name, desired: object(name), live: object(name), reason: op, ...extra });
  report.preview = {
    plans: [{ environment: 'production', commit: 'c0ffee'.padEnd(40, '0'), actions: [
      action('update', 'changed'), action('noop', 'same-1'), action('noop', 'same-2'), action('noop', 'warned', { warning: 'edited by hand' }),
    ] }],
    problems: [],
  } as unknown as Report['preview'];
  const json = JSON.parse(renderJson(report)) as { preview: { plans: Array<{ actions: Array<{ key: string }>; unchanged: number }> } };
  t.same(json.preview.plans[0]!.actions.map((a) => a.key), ['ConfigMap/ml-serving/changed', 'ConfigMap/ml-serving/warned'], 'what changes, and the unchanged object with a warning');
  t.equal(json.preview.plans[0]!.unchanged, 3);
  t.match(renderMarkdown(report), '0 to delete, 3 unchanged', 'Markdown counts the same objects');
  t.equal(report.preview!.plans[0]!.actions.length, 4, 'the report itself keeps every action');
});
