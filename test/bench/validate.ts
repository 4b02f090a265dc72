// Benchmark 2: `modelship validate` of a generated 30 models × 250 versions × 3 environments
// repository (a year of a busy model line: ~7,500 version files), in the working tree and at a git
// revision, cold (no validate cache: every file parsed) and warm (the cache of version files that
// loaded cleanly, src/config/validate-cache.ts), against process start and reading the files.
// Growth: the same measurements on half the history (30 × 125) in the same run, as per-file cost.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRepo, type RepoShape } from './generate-repo.js';
import { childEnv, measure, median, repeat, type Measured } from './measure.js';
import { mb, ms, ratio, type Row } from './table.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const runs = 5;
const coldTarget = 3000;
const warmTarget = 1000;
const memoryTarget = 200e6;
const growthTarget = 1.25;

export const shape: RepoShape = { models: 30, versions: 250, environments: ['staging', 'production', 'eu-production'] };
const half: RepoShape = { ...shape, versions: 125 };

export async function validateBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const base = mkdtempSync(join(tmpdir(), 'modelship-bench-validate-'));
  try {
    const dir = join(base, 'year');
    const small = join(base, 'half');
    options.log(`validate: generating ${shape.models} models × ${shape.versions} versions × ${shape.environments.length} environments, and × ${half.versions}`);
    const repo = generateRepo(dir, shape);
    const repoHalf = generateRepo(small, half);
    commit(dir);
    commit(small);
    const env = childEnv();
    const run = (where: string, args: string[], warm: boolean): Promise<Measured> => {
      if (!warm) rmSync(join(where, '.git', 'modelship'), { recursive: true, force: true });
      return measure(process.execPath, [cli, 'validate', '-C', where, ...args], { env, peakRss: true });
    };

    // The generated repository is valid by construction; if validate disagrees, that is a finding.
    const exits: Record<string, number | null> = {};
    for (const [mode, args] of [['tree', []], ['rev', ['--rev', 'HEAD']]] as const) {
      const first = await run(dir, [...args], false);
      exits[mode] = first.code;
      if (first.code !== 0) options.log(`validate ${args.join(' ')} exited ${first.code} on the generated repository (a bug):\n${clip(first.stdout + first.stderr)}`);
    }

    options.log(`validate: ${runs} rounds of validate cold and warm, --rev HEAD cold and warm, at both sizes, node -e '', cat`);
    // Interleaved, so a change in machine load affects every command alike. Each cold run starts
    // with no cache; the warm run after it finds the one it wrote.
    const rounds = await repeat(runs, async () => ({
      cold: await run(dir, [], false),
      warm: await run(dir, [], true),
      revCold: await run(dir, ['--rev', 'HEAD'], false),
      revWarm: await run(dir, ['--rev', 'HEAD'], true),
      halfCold: await run(small, [], false),
      halfWarm: await run(small, [], true),
      start: await measure(process.execPath, ['-e', ''], { env }),
      cat: await measure('sh', ['-c', 'find environments models policies -type f -exec cat {} + > /dev/null'], { cwd: dir, env }),
    }));
    type Key = keyof (typeof rounds)[number];
    const wall = (key: Key) => median(rounds.map((r) => r[key].wallMs));
    const rss = (key: Key) => Math.max(...rounds.map((r) => r[key].peakRssBytes ?? 0));
    const [start, cat] = [wall('start'), wall('cat')];
    const floor = start + cat;
    const what = `${shape.models}×${shape.versions}×${shape.environments.length}, ${repo.files} files, ${(repo.bytes / 2 ** 20).toFixed(1)} MiB`;
    const reference = `node -e '' ${ms(start)} + cat all files ${ms(cat)} = ${ms(floor)}`;
    const failed = (mode: string) => (exits[mode] === 0 ? '' : ` (but exited ${exits[mode]} on a valid repository)`);
    // Per-file cost: time beyond process start, per file, at a year over at half a year.
    const perFile = (key: Key, files: number) => (wall(key) - start) / files;
    const growth = (bigKey: Key, smallKey: Key) => perFile(bigKey, repo.files) / perFile(smallKey, repoHalf.files);
    const row = (figure: string, key: Key, target: number, mode: string, ref = reference, refMs = floor): Row => ({
      figure: `${figure}, median of ${runs}`,
      target: `< ${ms(target)}, < ${mb(memoryTarget)}`,
      measured: `${ms(wall(key))}, ${mb(rss(key))}${failed(mode)}`,
      reference: ref, ratio: ratio(wall(key), refMs),
      met: wall(key) < target && rss(key) < memoryTarget && exits[mode] === 0,
    });
    return [
      row(`validate (${what}), cold (no cache)`, 'cold', coldTarget, 'tree'),
      row(`validate (same repository), warm (cache of validated version files)`, 'warm', warmTarget, 'tree', `cold ${ms(wall('cold'))}`, wall('cold')),
      row(`validate --rev HEAD (same repository, objects packed as in a clone), cold`, 'revCold', coldTarget, 'rev'),
      row(`validate --rev HEAD, warm`, 'revWarm', warmTarget, 'rev', `cold ${ms(wall('revCold'))}`, wall('revCold')),
      {
        figure: `validate growth: per-file time beyond start, ${repo.files} files over ${repoHalf.files} (same run), warm and cold`,
        target: `≤ ${growthTarget.toFixed(2)}×`,
        measured: `warm ${ratio(perFile('warm', repo.files), perFile('halfWarm', repoHalf.files))}, cold ${ratio(perFile('cold', repo.files), perFile('halfCold', repoHalf.files))}`,
        reference: `half: warm ${ms(wall('halfWarm'))}, cold ${ms(wall('halfCold'))}; year: warm ${ms(wall('warm'))}, cold ${ms(wall('cold'))}`,
        ratio: ratio(perFile('warm', repo.files), perFile('halfWarm', repoHalf.files)),
        met: growth('warm', 'halfWarm') <= growthTarget && growth('cold', 'halfCold') <= growthTarget,
      },
    ];
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

function commit(dir: string): void {
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  };
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'generated release repository');
  // As a clone or a CI checkout holds them: packed. (Freshly added, the 7.6k objects are loose,
  // and git needs ~0.35 s more just to read them.)
  git('gc', '-q');
}

function clip(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines.length > 40 ? [...lines.slice(0, 40), `... (${lines.length - 40} more lines)`].join('\n') : lines.join('\n');
}
