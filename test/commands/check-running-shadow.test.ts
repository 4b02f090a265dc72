// `modelship check` of a pull request that changes production while fraud-detector runs a shadow
// there (and the pull request neither promotes nor stops it): the report gains "Running shadows"
// with the shadow's live figures over the policy's window, read from the prediction log in the
// Snowflake stand-in through the real snowflake-sdk, and what the shadow gate would say now.
// Informational: the verdict is the same with the figures, without them, and without a shadow.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runCli } from '../helpers/cli.js';
import { renderMarkdown, renderText } from '../../src/gates/report/render.js';
import type { Report } from '../../src/gates/run.js';
import type { TestRepo } from '../helpers/repo.js';
import { startCheckerS3, type TestS3 } from '../helpers/s3.js';
import { hours } from '../helpers/clock.js';
import { candidate, champion, dated, predictionLog, shadowedRepository, table, warehouseWithLog } from '../helpers/shadow.js';

let s3: TestS3;
let built: Promise<TestRepo> | undefined;
t.before(async () => {
  s3 = await startCheckerS3();
});
t.teardown(async () => {
  (await built?.catch(() => undefined))?.cleanup();
  await s3.stop();
});

const cli = (root: string, env: NodeJS.ProcessEnv, ...args: string[]) => runCli([...args, '-C', root], { env: { ...s3.env, ...env } });

/** The shadow in production since 48h; at 72h a branch `prod` changing chargeback-risk's schedule in production and a branch `stage` changing staging. */
async function repository(): Promise<TestRepo> {
  const repo = await shadowedRepository(s3.env);
  dated(hours(72));
  for (const [branch, file, from, to] of [['prod', 'production', '"0 5 * * *"', '"0 6 * * *"'], ['stage', 'staging', '"0 4 * * *"', '"0 6 * * *"']] as const) {
    repo.git('checkout', '-q', '-b', branch, 'main');
    const path = join(repo.root, 'environments', `${file}.yaml`);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(from)) throw new Error(`${file}.yaml has no ${from}`);
    writeFileSync(path, text.replace(from, to));
    repo.git('commit', '-q', '-am', `Run chargeback-risk later in ${file}`);
  }
  // `stop`: the shadow taken out of production; `promote`: the shadow promoted there.
  repo.git('checkout', '-q', '-b', 'stop', 'main');
  const path = join(repo.root, 'environments', 'production.yaml');
  const text = readFileSync(path, 'utf8');
  const stopped = text.replace(/\n    shadow:(?: \{[^\n]*\}[^\n]*|(?:\n      [^\n]*)+)/, '');
  if (stopped === text) throw new Error(`production.yaml has no shadow to stop:\n${text}`);
  writeFileSync(path, stopped);
  repo.git('commit', '-q', '-am', 'Stop the fraud-detector shadow in production');
  repo.git('checkout', '-q', 'main');
  const p = await cli(repo.root, {}, 'promote', `fraud-detector@${candidate}`, '--to', 'production', '--json');
  if (p.code !== 0) throw new Error(p.stderr);
  repo.git('checkout', '-q', 'main');
  promoted = JSON.parse(p.stdout).branch as string;
  return repo;
}
let promoted = '';

/** 24,000 requests between 49h and 71h, each answered by both, the shadow's score 1% above the champion's. */
const log = () => predictionLog((score) => Math.min(1, score * 1.01));

async function check(t: Test, head: string, format: string, warehouse: boolean) {
  built ??= repository();
  const repo = await built;
  let env: NodeJS.ProcessEnv = {};
  if (warehouse) {
    env = (await warehouseWithLog(t, log())).env;
  }
  return cli(repo.root, env, 'check', '--base', 'main', '--head', head, '--at', hours(72), '--format', format);
}

const figures = /2026\.11\.20-1 vs champion 2026\.11\.06-1 \(2026-\S+ \S+Z to 2026-\S+ \S+Z\): coverage 100\.0% of 24,000 requests; error rate 0\.00% vs 0\.00%; latency p50 14\.0 vs 13\.0 ms, p99 17\.0 vs 16\.0 ms; score PSI 0\.0\d\d; agreement 99\.\d% at 0\.5 → shadow gate would pass/;

t.test('a change to production shows the shadow running there, with its live numbers, in text, Markdown and JSON', async (t) => {
  const text = await check(t, 'prod', 'text', true);
  t.match(text.stdout, /\nRunning shadows \(informational: not part of the verdict\):\n  production\/fraud-detector: shadow /);
  t.match(text.stdout, figures);
  const md = await check(t, 'prod', 'markdown', true);
  t.match(md.stdout, /\n\*\*Running shadows\*\* <sub>\(informational: not part of the verdict\)<\/sub>\n\n- ✅ \*\*production · fraud-detector\*\*: shadow 2026\.11\.20-1 vs champion/);
  t.match(md.stdout, /coverage 100\.0% of 24,000 requests; error rate 0\.00% vs 0\.00%; latency p50 14\.0 vs 13\.0 ms, p99 17\.0 vs 16\.0 ms; score PSI 0\.0\d\d; agreement 99\.\d% at 0\.5 → shadow gate would pass/);
  const json = JSON.parse((await check(t, 'prod', 'json', true)).stdout);
  t.same(json.changes.map((c: { change: { kind: string } }) => c.change.kind), ['config'], 'the pull request changes config only');
  t.equal(json.runningShadows.length, 1);
  t.match(json.runningShadows[0], { environment: 'production', model: 'fraud-detector', champion, candidate, gate: { status: 'pass' }, figures: { championRequests: 24_000, bothAnswered: 24_000, coverage: 1 } });
  t.equal(json.runningShadows[0].window.start, hours(48).replace('Z', '.000Z'), 'the window starts when the shadow was pinned');
  const without = JSON.parse((await check(t, 'prod', 'json', false)).stdout);
  t.equal(json.verdict, without.verdict, 'the figures do not change the verdict');
});

t.test('without a Snowflake connection the section says unknown, and the verdict is unchanged', async (t) => {
  const r = await check(t, 'prod', 'text', false);
  t.match(r.stdout, `\n  production/fraud-detector: shadow ${candidate} vs champion ${champion}: unknown: the prediction log ${table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT) → shadow gate unknown (never a pass)`);
  t.notMatch(r.stdout, /^BLOCKED/, 'an unknown running shadow blocks nothing');
  const md = await check(t, 'prod', 'markdown', false);
  t.match(md.stdout, `- ⛔ **production · fraud-detector**: shadow ${candidate} vs champion ${champion}: unknown: the prediction log ${table} was not read: no Snowflake connection is configured (SNOWFLAKE_ACCOUNT) → shadow gate unknown (never a pass)`);
  const json = JSON.parse((await check(t, 'prod', 'json', false)).stdout);
  t.equal(json.runningShadows[0].gate.status, 'error');
  t.notOk(json.changes.flatMap((c: { gates: Array<{ gate: string }> }) => c.gates).some((g: { gate: string }) => g.gate === 'shadow'), 'no shadow gate among the change\'s gates');
});

t.test('no section when no shadow runs in the changed environment', async (t) => {
  const text = await check(t, 'stage', 'text', false);
  t.equal(text.code, 0, text.stderr);
  t.notMatch(text.stdout, /Running shadows/);
  const md = await check(t, 'stage', 'markdown', false);
  t.notMatch(md.stdout, /Running shadows/);
  t.notOk('runningShadows' in JSON.parse((await check(t, 'stage', 'json', false)).stdout));
});

t.test('no section for a shadow the pull request stops or promotes', async (t) => {
  for (const [head, kind] of [['stop', 'shadow-stop'], ['promote', 'shadow-promote']] as const) {
    const json = JSON.parse((await check(t, head === 'promote' ? promoted : head, 'json', false)).stdout);
    t.same(json.changes.map((c: { change: { kind: string } }) => c.change.kind), [kind], head);
    t.notOk('runningShadows' in json, `${head}: the shadow does not keep running`);
  }
});

t.test('what a running shadow shows reaches Markdown escaped, and the text unchanged', async (t) => {
  const report: Report = {
    verdict: 'ready', headline: 'every gate passes', base: { label: 'main' }, head: { label: 'prod' }, changes: [], evaluatedAt: hours(72),
    runningShadows: [{ environment: 'production', model: 'fraud-detector', champion, candidate,
      gate: { status: 'error', summary: 'x', findings: [] }, unknown: 'the log <img src=x> failed for @octocat [here](http://evil)' }],
  };
  const md = renderMarkdown(report);
  t.match(md, '- ⛔ **production · fraud-detector**: shadow 2026.11.20-1 vs champion 2026.11.06-1: unknown: the log &lt;img src=x&gt; failed for @&#8203;octocat &#91;here&#93;(http&#8203;://evil) → shadow gate unknown (never a pass)');
  t.notMatch(md, /<img|@octocat|\[here\]\(/, 'no tag, mention or link survives');
  t.match(renderText(report), '\nRunning shadows (informational: not part of the verdict):\n  production/fraud-detector: shadow 2026.11.20-1 vs champion 2026.11.06-1: unknown: the log <img src=x> failed for @octocat [here](http://evil) → shadow gate unknown (never a pass)');
});
