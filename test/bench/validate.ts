// Benchmark 2: cold `modelship validate` of a generated 30 models × 250 versions × 3 environments
// repository, in the working tree and at a git revision, against process start and reading the files.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRepo, type RepoShape } from './generate-repo.js';
import { childEnv, measure, median, repeat } from './measure.js';
import { ms, ratio, type Row } from './table.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const runs = 5;
const target = 2000;

export const shape: RepoShape = { models: 30, versions: 250, environments: ['staging', 'production', 'eu-production'] };

export async function validateBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-bench-validate-'));
  try {
    options.log(`validate: generating ${shape.models} models × ${shape.versions} versions × ${shape.environments.length} environments`);
    const repo = generateRepo(dir, shape);
    commit(dir);
    const env = childEnv();

    // The generated repository is valid by construction; if validate disagrees, that is a finding.
    const exits: Record<string, number | null> = {};
    for (const [mode, args] of [['tree', []], ['rev', ['--rev', 'HEAD']]] as const) {
      const first = await measure(process.execPath, [cli, 'validate', '-C', dir, ...args], { env });
      exits[mode] = first.code;
      if (first.code !== 0) options.log(`validate ${args.join(' ')} exited ${first.code} on the generated repository (a bug):\n${clip(first.stdout + first.stderr)}`);
    }

    options.log(`validate: ${runs} cold runs each of validate, validate --rev HEAD, node -e '', cat`);
    // Interleaved, so a change in machine load affects every command alike.
    const rounds = await repeat(runs, async () => ({
      tree: await measure(process.execPath, [cli, 'validate', '-C', dir], { env }),
      rev: await measure(process.execPath, [cli, 'validate', '-C', dir, '--rev', 'HEAD'], { env }),
      start: await measure(process.execPath, ['-e', ''], { env }),
      cat: await measure('sh', ['-c', 'find environments models policies -type f -exec cat {} + > /dev/null'], { cwd: dir, env }),
    }));
    const wall = (key: keyof (typeof rounds)[number]) => median(rounds.map((r) => r[key].wallMs));
    const [tree, rev, start, cat] = [wall('tree'), wall('rev'), wall('start'), wall('cat')];
    const floor = start + cat;
    const what = `${shape.models}×${shape.versions}×${shape.environments.length}, ${repo.files} files, ${(repo.bytes / 2 ** 20).toFixed(1)} MiB`;
    const reference = `node -e '' ${ms(start)} + cat all files ${ms(cat)} = ${ms(floor)}`;
    const failed = (mode: string) => (exits[mode] === 0 ? '' : ` (but exited ${exits[mode]} on a valid repository)`);
    return [
      {
        figure: `validate (${what}), cold, median of ${runs}`,
        target: `< ${ms(target)}`, measured: ms(tree) + failed('tree'), reference, ratio: ratio(tree, floor),
        met: tree < target && exits.tree === 0,
      },
      {
        figure: `validate --rev HEAD (same repository, objects packed as in a clone), cold, median of ${runs}`,
        target: `< ${ms(target)}`, measured: ms(rev) + failed('rev'), reference, ratio: ratio(rev, floor),
        met: rev < target && exits.rev === 0,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
