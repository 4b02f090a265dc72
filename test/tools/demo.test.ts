// `npm run demo` (tools/demo): the whole story runs, says what it did, and leaves no process and (without
// --keep) no folder behind — also when interrupted.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readmeExample } from '../helpers/golden.js';
import { processesMentioning, spawnDemo } from './demo-process.js';

function runDemo(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnDemo(args, cwd).process;
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('the story from registration to the regulator\'s answer, in one run', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'modelship-demo-test-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const dir = join(parent, 'demo');
  const r = await runDemo(['--keep', '--dir', dir], parent);
  t.equal(r.code, 0, 'exit 0');
  if (r.code !== 0) t.comment(r.stdout + r.stderr);
  const out = r.stdout;
  t.match(out, /\[1\/13\] set up/);
  t.match(out, /registered fraud-detector@2026\.11\.20-1/);
  t.match(out, /pull request #1 opened/);
  t.match(out, /\$ MODELSHIP_AUDIT_KEY_FILE=\.\/keys\/audit-demo\.pem POD_NAME=modelship-0 MODELSHIP_CANARY_EVERY=2s modelship serve --app-id 4242 --private-key-file \.\/serve\/app-private-key\.pem --webhook-secret-file \.\/serve\/webhook-secret .*\n\s+authenticated as GitHub App modelship-acme \(id 4242\)/, 'serve runs as the GitHub App, its key and secret in files');
  t.match(out, /the GitHub stand-in sends no webhooks/, 'the story says who delivers the webhooks');
  t.match(out, /GitHub → serve: pull_request\.opened of #1, signed with the webhook secret → 202 queued: #1 at [0-9a-f]{12}/);
  t.match(out, /check run "modelship" on [0-9a-f]{12} by modelship-acme\[bot\]: failure — every gate passes; waiting for approval: 0 of 1 required approval\n/, 'the App\'s check run before the approval');
  t.match(out, /GitHub → serve: pull_request_review\.submitted of #1.*\n\s+check run "modelship" on [0-9a-f]{12} by modelship-acme\[bot\]: success — every gate passes; ready to merge/, 'and after it');
  t.match(out, /pull_request_review\.submitted of #3.*\n.*\n.*pull_request_review\.submitted of #3.*\n\s+check run "modelship" on [0-9a-f]{12} by modelship-acme\[bot\]: success/, 'the revert passes with two approvals');
  t.match(out, /POD_NAME=modelship-0 .*modelship serve .* --repository acmerisk\/model-releases --environments staging,production /, 'serve runs the agent too');
  t.match(out, /agent: staging: converged at [0-9a-f]{12} in [0-9.]+ s: 3 writes\n(.*\n)*?\s+agent: production: converged at [0-9a-f]{12} in [0-9.]+ s: 4 writes/, 'the agent brings both environments to main at start');
  t.match(out, /\[5\/13\] merge.*\n\s+GitHub → serve: push to main [0-9a-f]{12} → ([0-9a-f]{12}), signed with the webhook secret → 202 reconciling: refs\/heads\/main at \1\n(.*\n)*?\s+agent: staging: converged at \1 in [0-9.]+ s: 2 writes\n(.*\n)*?\s+agent: staging: audit staging: 1 record written to s3:\/\/acme-audit-trail\/staging \(seq 1\)/, 'the merge is pushed, the agent converges staging and records it');
  // 3 writes: the canary's InferenceService, the route, and the stable's, which logs its answers to
  // the prediction log while the canary runs (environments/production.yaml inferenceLog).
  t.match(out, /\[7\/13\] merge.*\n\s+GitHub → serve: push to main [0-9a-f]{12} → ([0-9a-f]{12}).*\n(.*\n)*?\s+agent: production: converged at \1 in [0-9.]+ s: 3 writes/, 'the canary merge converges production');
  t.match(out, /\[9\/13\] the agent's canary watch.*\n\s+agent: production: canary watch production: fraud-detector 2026\.11\.20-1 at 5%: BREACHED\n(.*\n)*?\s+agent: .*revert pull request #3 opened/, 'the agent\'s own canary watch notices the breach and opens the revert');
  t.match(out, /agent: production: audit production: 1 record written to s3:\/\/acme-audit-trail\/production \(seq 2\)/, 'the revert\'s deployment is recorded');
  t.match(out, /production runs 2026\.11\.06-1 again/);
  t.match(out, /production: OK: 3 records verified/);
  t.match(out, /canary 2026\.11\.20-1, 5% of online traffic\n\s+live +\S+ until \S+\n\s+promoted by +PR #2/);
  // The shadow step: the shadow is merged and synced (its InferenceService, the route's mirror and
  // the stable's logger), then the pull request promoting it is blocked by the shadow gate with the numbers.
  t.match(out, /\[12\/13\] .*shadow.*\n(.*\n)*?\s+agent: production: converged at [0-9a-f]{12} in [0-9.]+ s: 3 writes\n(.*\n)*?\s+check run "modelship" on [0-9a-f]{12} by modelship-acme\[bot\]: failure — blocked: 2 blocking results \(shadow, approvals\) in 1 of 1 change\n\s+shadow gate: ❌ fail \(blocking\) — shadow 2026\.11\.20-1 vs champion 2026\.11\.06-1: score PSI \d+\.\d{3} ≥ 0\.25; decision agreement 50\.0% at 0\.5, need ≥ 98\.0%; slice region=eu: decision agreement 50\.0%, need ≥ 98\.0% \(ANALYTICS\.INFERENCE\.PREDICTION_LOG, 24h to \S+\)\n/, 'the shadow gate blocks the promotion with the numbers');
  t.match(out, /\[13\/13\] where everything is(.*\n)*?\s+shadow fraud-detector: 2026\.11\.20-1 vs champion 2026\.11\.06-1 \(.*\): coverage 100\.0% of 24,000 requests; error rate 0\.00% vs 0\.00%; latency p50 14\.0 vs 13\.0 ms, p99 17\.0 vs 16\.0 ms; score PSI \d+\.\d{3}; agreement 50\.0% at 0\.5 → shadow gate would BLOCK: /, 'status shows the running shadow with its live numbers');
  t.match(out, /Done in \d+\.\d s/, 'how long it took is measured by npm run bench -- demo, not asserted here');
  for (const f of ['reports/production-canary.md', 'dashboard/index.html', 'transcript.txt']) t.ok(existsSync(join(dir, f)), f);
  t.ok(readdirSync(join(dir, 's3/acme-audit-trail')).length > 0, 'the audit trail is in the S3 stand-in\'s bucket');
  t.match(readFileSync(join(dir, 'serve/serve.log'), 'utf8'), /stopped; 0 queued evaluations dropped/, 'serve was stopped with SIGTERM and said so');
  const dashboard = readFileSync(join(dir, 'dashboard/index.html'), 'utf8');
  t.match(dashboard, /fraud-detector/);
  t.match(dashboard, /<div class="card" data-shadow="production\/fraud-detector">(.|\n)*?shadow gate: <span class="state b-bad">would BLOCK: score PSI/, 'the dashboard\'s card of the running shadow');
  t.same(processesMentioning(dir), [], 'no process left behind');
  // The README shows the step lines of this run (timings vary; the full output is in transcript.txt).
  const steps = out.split('\n').filter((l) => /^\[\d+\/\d+\] /.test(l)).map((l) => l.replace(/\s+\(\d+\.\d s\)$/, ''));
  readmeExample(t, 'demo', ['$ npm run demo', out.split('\n')[0]!, ...steps].join('\n'));
});
