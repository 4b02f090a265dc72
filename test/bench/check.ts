// Benchmark 4: cold `modelship check` of a one-model production promotion on generated
// repositories with a year of history (30 models × 244 versions × 3 environments; 1k, 5k and 20k
// promotions on main). Its time must stay under 3 s and grow with the change, not the history.
// References measured in the same rounds: `validate --rev <branch>` (loads everything) and
// `git log --first-parent --oneline main | wc -l` (a walk of the whole history) on each repository.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { ArtifactStore } from '../../src/adapters/s3/store.js';
import { recordRegistration } from '../../src/registry/register.js';
import { artifactBody } from './generate-repo.js';
import { parseS3Uri } from '../../src/adapters/s3/store.js';
import { startS3rver, s3rverCredentials, type RunningS3 } from '../../tools/sandbox/s3rver.js';
import { checkTime, generateHistory, prepareTemplate, type GeneratedHistory } from './generate-history.js';
import { type RepoShape } from './generate-repo.js';
import { childEnv, measure, median, repeat, type Measured } from './measure.js';
import { ms, ratio, type Row } from './table.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const runs = 5;
const target = 3000;
/** How much growth from 1k to 20k commits still counts as "not with the history". */
const flat = 1.25;
export const historySizes = [1000, 5000, 20000];
export const shape: RepoShape = { models: 30, versions: 244, environments: ['staging', 'production', 'eu-production'] };

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Round { check: Measured; validate: Measured; log: Measured }

export async function checkBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'modelship-bench-check-'));
  let s3: RunningS3 | undefined;
  let client: S3Client | undefined;
  try {
    let started = Date.now();
    options.log(`check: generating the layout (${shape.models} models × ${shape.versions} versions × ${shape.environments.length} environments)`);
    const template = prepareTemplate(join(work, 'template'), shape);
    options.log(`check: layout generated in ${secs(started)}`);
    rmSync(join(work, 'template'), { recursive: true, force: true });

    const repos: GeneratedHistory[] = [];
    for (const n of historySizes) {
      started = Date.now();
      const repo = await generateHistory(join(work, `history-${n}`), template, n);
      options.log(`check: ${n} commits generated in ${secs(started)} (git fast-import, repack, checkout): ${repo.commits} commits on main + 1 on ${repo.branch}`);
      // Valid by construction; if validate disagrees, the generator (or validate) has a bug.
      const v = await measure(process.execPath, [cli, 'validate', '-C', repo.dir], { env: childEnv() });
      if (v.code !== 0) throw new Error(`validate exited ${v.code} on the generated ${n}-commit repository:\n${clip(v.stdout + v.stderr)}`);
      repos.push(repo);
    }

    // The registry: s3rver on loopback holding each candidate's artifact object, so the integrity
    // gate's HEAD answers (and passes) in a few milliseconds instead of erroring.
    s3 = await startS3rver({ buckets: [...new Set(repos.map((r) => parseS3Uri(r.artifact.uri).bucket))] });
    client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3rverCredentials, requestChecksumCalculation: 'WHEN_REQUIRED' });
    const store = new ArtifactStore(client);
    for (const r of repos) {
      // What register leaves in the registry: the artifact with S3's SHA-256 checksum, and the
      // registration record of the candidate's manifest (written by register's own function).
      const loc = parseS3Uri(r.artifact.uri);
      const { model, to } = r.promotion;
      await store.putSmall(loc, artifactBody(model, to, r.artifact.size), r.artifact.sha256, 'application/octet-stream');
      await recordRegistration(store, r.artifact.uri.slice(0, r.artifact.uri.indexOf(`/${model}/`)), model, to, r.manifest);
    }
    const env = childEnv({
      MODELSHIP_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3rverCredentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(work, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
    });
    const checkArgs = (r: GeneratedHistory) => [cli, 'check', '--base', 'main', '--head', r.branch, '-C', r.dir, '--format', 'json', '--at', checkTime.toISOString()];

    // One unmeasured run each: the report must be the one promotion with every gate passing.
    for (const [i, r] of repos.entries()) {
      const verdict = expectPromotion(r, await measure(process.execPath, checkArgs(r), { env }));
      options.log(`check: ${historySizes[i]} commits: ${r.promotion.model} ${r.promotion.from} → ${r.promotion.to} in ${r.promotion.environment}: ${verdict}`);
    }

    options.log(`check: ${runs} cold rounds, interleaved: check, validate --rev <branch>, git log | wc -l on each repository`);
    const rounds = await repeat(runs, async () => {
      const out: Round[] = [];
      for (const r of repos) {
        out.push({
          check: await measure(process.execPath, checkArgs(r), { env }),
          validate: await measure(process.execPath, [cli, 'validate', '-C', r.dir, '--rev', r.branch], { env }),
          log: await measure('sh', ['-c', 'git log --first-parent --oneline main | wc -l'], { cwd: r.dir, env }),
        });
      }
      return out;
    });
    for (const round of rounds) for (const [i, x] of round.entries()) {
      if (x.check.code !== 0) throw new Error(`check on ${historySizes[i]} commits exited ${x.check.code}:\n${clip(x.check.stdout + x.check.stderr)}`);
      if (x.validate.code !== 0) throw new Error(`validate --rev on ${historySizes[i]} commits exited ${x.validate.code}:\n${clip(x.validate.stdout + x.validate.stderr)}`);
    }
    const wall = (i: number, key: keyof Round) => median(rounds.map((r) => r[i]![key].wallMs));
    return rows(wall);
  } finally {
    client?.destroy();
    await s3?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Checks the JSON report: exactly the PR's promotion, every gate but approvals passing. Returns a one-line summary. */
function expectPromotion(r: GeneratedHistory, m: Measured): string {
  let report: { verdict: string; changes: Array<{ change: { kind: string; environment: string; model?: string; candidate?: string }; gates: Array<{ gate: string; status: string; summary: string }> }> };
  try {
    report = JSON.parse(m.stdout);
  } catch {
    throw new Error(`check did not print a JSON report (exit ${m.code}):\n${clip(m.stdout + m.stderr)}`);
  }
  const p = r.promotion;
  const c = report.changes[0]?.change;
  if (report.changes.length !== 1 || c?.kind !== 'promote' || c.environment !== p.environment || c.model !== p.model || c.candidate !== p.to) {
    throw new Error(`check did not see the one promotion ${p.model} ${p.from} → ${p.to} in ${p.environment}:\n${clip(m.stdout)}`);
  }
  const bad = report.changes[0]!.gates.filter((g) => g.status !== 'pass' && !(g.gate === 'approvals' && g.status === 'skipped'));
  if (bad.length || m.code !== 0) {
    throw new Error(`check exit ${m.code}, verdict ${report.verdict}; gates not passing: ${bad.map((g) => `${g.gate} ${g.status}: ${g.summary}`).join('; ')}`);
  }
  return `${report.verdict}; ${report.changes[0]!.gates.map((g) => `${g.gate} ${g.status}`).join(', ')}`;
}

function rows(wall: (i: number, key: keyof Round) => number): Row[] {
  const label = (n: number) => `${n / 1000}k`;
  const first = label(historySizes[0]!);
  const base = wall(0, 'check');
  const out: Row[] = historySizes.map((n, i) => ({
    figure: `check, one-model promotion, ${label(n)} commits on main, cold, median of ${runs}`,
    target: `< ${ms(target)}`,
    measured: ms(wall(i, 'check')),
    reference: `check at ${first}: ${ms(base)}`,
    ratio: ratio(wall(i, 'check'), base),
    met: wall(i, 'check') < target,
  }));
  const last = historySizes.length - 1;
  const growth = wall(last, 'check') / base;
  out.push({
    figure: `check growth ${first} → ${label(historySizes[last]!)} commits (same one-model change)`,
    target: `≤ ${flat}× (flat in history)`,
    measured: `${growth.toFixed(2)}×`,
    reference: `git log --first-parent: ${(wall(last, 'log') / wall(0, 'log')).toFixed(2)}×`,
    ratio: 'n/a',
    met: growth <= flat,
  });
  const series = (key: keyof Round) => historySizes.map((n, i) => `${label(n)} ${ms(wall(i, key))}`).join(' · ');
  for (const [key, what] of [['validate', 'validate --rev <branch> (loads everything)'], ['log', 'git log --first-parent --oneline main | wc -l']] as const) {
    out.push({
      figure: `reference: ${what}, median of ${runs}`,
      target: 'informational',
      measured: series(key),
      reference: `check ${series('check')}`,
      ratio: `${label(historySizes[last]!)}/${first}: ${ratio(wall(last, key), wall(0, key))}`,
    });
  }
  return out;
}

/** Notes for the results table. */
export function checkNotes(): string[] {
  return [
    `check: generated repositories of ${shape.models} models × ${shape.versions} versions (${shape.models * shape.versions} version files) × ${shape.environments.length} environments, with ${historySizes.map((n) => `${n / 1000}k`).join(' / ')} promotion commits on main over a year (git fast-import), and a PR branch promoting one model to production; \`check --base main --head <branch> --format json --at ${checkTime.toISOString()}\`, every gate passing (approvals left to GitHub). No remote calls: the policies read the dbt manifest from the repository (dbt/manifest.json), and the integrity gate's artifact HEAD and registration-record HEAD go to s3rver on loopback (behind the sandbox's checksum layer) holding the candidate's object and register's record of its manifest. Check rows' ratio: vs the 1k figure. Each promotion reaches production ≥ 48 h after staging; at 20k commits a model's staging pin changes every ~39 h, so only the PR's candidate is sure to have soaked 48 h there. The packs are repacked after fast-import (as a clone would receive them); no commit-graph is written.`,
  ];
}

function secs(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function clip(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines.length > 40 ? [...lines.slice(0, 40), `... (${lines.length - 40} more lines)`].join('\n') : lines.join('\n');
}
