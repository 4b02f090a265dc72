// The status dashboard is HTML built from data (model problems quoting the systems, read errors,
// drift features and reasons, deployment rows, the reasons a shadow's or A/B's numbers are unknown): every value is escaped, in text and in attributes.
import t from 'tap';
import { dashboardHtml } from '../../src/status/html.js';
import type { ModelDrift } from '../../src/metrics/drift-monitor.js';
import type { StatusSnapshot } from '../../src/status/snapshot.js';

const tag = '<img src=x onerror=alert(1)>';
const attr = '"><script>alert(2)</script>';

t.test('values from the systems and the repository are escaped in the dashboard', async (t) => {
  const snapshot: StatusSnapshot = {
    generatedAt: '2026-11-20T10:00:00.000Z', commit: 'a'.repeat(40), syncGraceMs: 900_000,
    environments: [{
      environment: 'production', commit: 'a'.repeat(40), errors: [`kubernetes: ${tag}`],
      models: [{
        environment: 'production', model: 'fraud-detector', state: 'out-of-sync',
        problems: [{ kind: 'out-of-sync', message: `task FRAUD says 'v1' & ${attr}` }],
        // a warehouse error quoted as the reason the numbers are unknown
        shadow: { champion: '2026.11.06-1', candidate: '2026.11.13-1', unknown: `Object ${tag} does not exist`, gate: { status: 'error', summary: attr, findings: [] } },
        ab: { a: '2026.11.06-1', b: '2026.11.13-1', traffic: 50, unknown: attr, says: `unknown: ${attr}` },
      }],
    }],
  };
  const drift = {
    environment: 'production', model: 'fraud-detector', version: '2026.11.13-1', status: 'fail', summary: 'drifted',
    features: [{ feature: tag, psi: 0.4, status: 'fail', reasons: [`PSI 0.4 on ${attr}`] }],
  } as unknown as ModelDrift;
  const html = dashboardHtml({ snapshot, history: { production: [] }, drift: [drift], canaries: [] });
  t.notMatch(html, '<img', 'no tag from data');
  t.notMatch(html, '<script', 'no script from data');
  t.match(html, '<p class="b-unknown">unknown: Object &lt;img src=x onerror=alert(1)&gt; does not exist</p>');
  t.match(html, 'verdict: <span class="state b-unknown">unknown: &quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;</span>');
  t.match(html, '<li class="p-unknown">cannot read kubernetes: &lt;img src=x onerror=alert(1)&gt;</li>');
  t.match(html, '<li class="p-bad"><b>fraud-detector</b>: task FRAUD says &#39;v1&#39; &amp; &quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;</li>');
  t.match(html, '<text x="144" y="18" text-anchor="end">&lt;img src=x onerror=alert(1)&gt;</text>');
  t.match(html, '<title>&lt;img src=x onerror=alert(1)&gt;: PSI 0.400 — PSI 0.4 on &quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;</title>');
});
