// Benchmark 4: `modelship check` of a one-model production promotion on generated
// repositories with a year of history (N models × 244 versions × 3 environments, promotions on
// main). Its time must stay under 3 s and grow with the change, not with the repository: the same
// run measures 30 → 150 → 600 models at 20k commits, and 1k → 20k commits at 600 models.
// Each size is measured cold (the validate cache deleted before the run) and warm (run again
// right after, reading the manifests it validated from <git dir>/modelship/validate-cache).
// References measured in the same rounds on each repository: `git log --first-parent --oneline
// main | wc -l` (a walk of the whole history) and `git ls-tree -r main | wc -l` (a listing of
// every file, which grows with the models).

import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
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
const runs = 3;
const target = 3000;
/** How much growth (models or commits) still counts as flat. */
const flat = 1.25;
const environments = ['staging', 'production', 'eu-production'];
const versions = 244;
/** The repositories: every model count at the most commits, and the fewest commits at the most models. */
export const sizes: Array<{ models: number; commits: number }> = [
  { models: 30, commits: 20000 },
  { models: 150, commits: 20000 },
  { models: 600, commits: 20000 },
  { models: 600, commits: 1000 },
];
const modelSeries = sizes.filter((x) => x.commits === 20000);
const commitSeries = sizes.filter((x) => x.models === 600).sort((a, b) => a.commits - b.commits);
export const shape = (models: number): RepoShape => ({ models, versions, environments });

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Round { cold: Measured; warm: Measured; log: Measured; files: Measured }
type Mode = 'cold' | 'warm';
/** check's validate cache in a generated repository (validate-cache.ts cacheFileIn) */
const cacheFile = (r: GeneratedHistory) => join(r.dir, '.git', 'modelship', 'validate-cache');
/** the 1-minute load average when the measured rounds began (the machine may be shared) */
let loadAtRounds: number | undefined;
type Size = (typeof sizes)[number];

export async function checkBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'modelship-bench-check-'));
  let s3: RunningS3 | undefined;
  let client: S3Client | undefined;
  try {
    const repos: GeneratedHistory[] = [];
    for (const models of [...new Set(sizes.map((x) => x.models))]) {
      let started = Date.now();
      options.log(`check: generating the layout (${models} models × ${versions} versions × ${environments.length} environments)`);
      const template = prepareTemplate(join(work, 'template'), shape(models));
      options.log(`check: layout generated in ${secs(started)}`);
      rmSync(join(work, 'template'), { recursive: true, force: true });
      for (const [i, size] of sizes.entries()) {
        if (size.models !== models) continue;
        started = Date.now();
        const repo = await generateHistory(join(work, `history-${models}-${size.commits}`), template, size.commits);
        options.log(`check: ${label(size)} generated in ${secs(started)} (git fast-import, repack, checkout): ${repo.commits} commits on main + 1 on ${repo.branch}`);
        repos[i] = repo;
      }
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
    // (The generated repositories are valid by construction; the 30-model one is validated in
    // full as a guard on the generator, the larger ones would take minutes.)
    const v = await measure(process.execPath, [cli, 'validate', '-C', repos[0]!.dir, '--rev', repos[0]!.branch], { env });
    if (v.code !== 0) throw new Error(`validate exited ${v.code} on the generated ${label(sizes[0]!)} repository:\n${clip(v.stdout + v.stderr)}`);
    const reportBytes: number[] = [];
    for (const [i, r] of repos.entries()) {
      const m = await measure(process.execPath, checkArgs(r), { env });
      const verdict = expectPromotion(r, m);
      reportBytes[i] = Buffer.byteLength(m.stdout);
      options.log(`check: ${label(sizes[i]!)}: ${r.promotion.model} ${r.promotion.from} → ${r.promotion.to} in ${r.promotion.environment}: ${verdict} (report ${(reportBytes[i]! / 1024).toFixed(0)} KiB)`);
    }

    loadAtRounds = loadavg()[0]!;
    options.log(`check: ${runs} rounds, interleaved: check cold (cache deleted), check warm (again), git log | wc -l, git ls-tree -r | wc -l on each repository`);
    const rounds = await repeat(runs, async () => {
      const out: Round[] = [];
      for (const r of repos) {
        rmSync(cacheFile(r), { force: true });
        out.push({
          cold: await measure(process.execPath, checkArgs(r), { env }),
          warm: await measure(process.execPath, checkArgs(r), { env }),
          log: await measure('sh', ['-c', 'git log --first-parent --oneline main | wc -l'], { cwd: r.dir, env }),
          files: await measure('sh', ['-c', 'git ls-tree -r main | wc -l'], { cwd: r.dir, env }),
        });
      }
      return out;
    });
    for (const round of rounds) for (const [i, x] of round.entries()) for (const mode of ['cold', 'warm'] as const) {
      if (x[mode].code !== 0) throw new Error(`check (${mode}) on ${label(sizes[i]!)} exited ${x[mode].code}:\n${clip(x[mode].stdout + x[mode].stderr)}`);
    }
    const wall = (size: Size, key: keyof Round) => median(rounds.map((r) => r[sizes.indexOf(size)]![key].wallMs));
    return rows(wall, (size) => reportBytes[sizes.indexOf(size)]!);
  } finally {
    client?.destroy();
    await s3?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function label(size: Size): string {
  return `${size.models} models, ${size.commits / 1000}k commits`;
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

function rows(wall: (size: Size, key: keyof Round) => number, reportBytes: (size: Size) => number): Row[] {
  const smallest = modelSeries[0]!;
  const out: Row[] = [];
  for (const mode of ['cold', 'warm'] as const) {
    const how = mode === 'cold' ? 'cold (validate cache deleted)' : 'warm (run again: manifests from the validate cache)';
    for (const size of sizes) {
      out.push({
        figure: `check, one-model promotion, ${size.models} models × ${versions} versions, ${size.commits / 1000}k commits, ${how}, median of ${runs}`,
        target: `< ${ms(target)}`,
        measured: ms(wall(size, mode)),
        reference: `${mode} check at ${label(smallest)}: ${ms(wall(smallest, mode))}`,
        ratio: ratio(wall(size, mode), wall(smallest, mode)),
        met: wall(size, mode) < target,
      });
    }
  }
  const growth = (mode: Mode, series: Size[], what: string, ref: keyof Round, refWhat: string): Row => {
    const [a, b] = [series[0]!, series.at(-1)!];
    const g = wall(b, mode) / wall(a, mode);
    return {
      figure: `check growth ${what}, ${mode} (same one-model change)`,
      target: `≤ ${flat}× (flat)`,
      measured: `${g.toFixed(2)}×`,
      reference: `${refWhat}: ${(wall(b, ref) / wall(a, ref)).toFixed(2)}×`,
      ratio: 'n/a',
      met: g <= flat,
    };
  };
  for (const mode of ['cold', 'warm'] as const) {
    out.push(growth(mode, modelSeries, `${modelSeries[0]!.models} → ${modelSeries.at(-1)!.models} models at 20k commits`, 'files', 'git ls-tree -r'));
    out.push(growth(mode, commitSeries, `1k → 20k commits at ${commitSeries[0]!.models} models`, 'log', 'git log --first-parent'));
  }
  const series = (key: keyof Round) => sizes.map((x) => `${x.models}/${x.commits / 1000}k ${ms(wall(x, key))}`).join(' · ');
  for (const [key, what] of [['log', 'git log --first-parent --oneline main | wc -l'], ['files', 'git ls-tree -r main | wc -l']] as const) {
    out.push({
      figure: `reference: ${what}, median of ${runs} (models/commits)`,
      target: 'informational',
      measured: series(key),
      reference: `check cold ${series('cold')}`,
      ratio: `600/20k vs 30/20k: ${ratio(wall(modelSeries.at(-1)!, key), wall(smallest, key))}`,
    });
  }
  out.push({
    figure: 'check --format json report size (models/commits)',
    target: 'grows with the change',
    measured: sizes.map((x) => `${x.models}/${x.commits / 1000}k ${(reportBytes(x) / 1024).toFixed(0)} KiB`).join(' · '),
    reference: 'before #16: 7.2 MB at 600 models',
    ratio: `600/20k vs 30/20k: ${ratio(reportBytes(modelSeries.at(-1)!), reportBytes(smallest))}`,
  });
  return out;
}

/** Notes for the results table. */
export function checkNotes(): string[] {
  return [
    `check: generated repositories of ${sizes.map(label).join(' / ')} (${versions} versions per model, ${environments.length} environments; promotions spread over a year, git fast-import, repacked with window 2), each with a PR branch promoting one model to production; \`check --base main --head <branch> --format json --at ${checkTime.toISOString()}\`, every gate passing (approvals left to GitHub). ${versions} versions per model rather than the issue's 1,000: generating 600 × 1,000 manifests took over 4 minutes on the shared machine before any history, so the largest honest shape in the bench's time is 146,400 version files; check reads only the pinned ones, but lists every file of base and head (git ls-tree, and the loader classifies each path), which grows with the version count. No remote calls: the policies read the dbt manifest from the repository (dbt/manifest.json), and the integrity gate's artifact HEAD and registration-record HEAD go to s3rver on loopback holding the candidate's object and register's record of its manifest. Cold: check's validate cache (<git dir>/modelship/validate-cache) deleted before the run; warm: the same check run again right after, so the pinned manifests come from that cache (never reported as one figure: both are listed). Check rows' ratio: vs ${label(modelSeries[0]!)} in the same mode. Each promotion reaches production ≥ 48 h after staging. No commit-graph is written.${loadAtRounds === undefined ? '' : ` Load average when the rounds began: ${loadAtRounds.toFixed(1)}.`}`,
  ];
}

function secs(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function clip(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines.length > 40 ? [...lines.slice(0, 40), `... (${lines.length - 40} more lines)`].join('\n') : lines.join('\n');
}
