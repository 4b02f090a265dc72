// Benchmark 7: the demo (`npm run demo` after the build), the whole story, from spawn to exit (the README promises under a
// minute), against the same machine running `npm run build`'s compiler-free part: a cold
// `modelship validate` of this repository, as a yardstick of process start-up cost here.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv, expectSuccess, measure, median } from './measure.js';
import { ms, ratio, type Row } from './table.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const runs = 3;
const targetMs = 60_000;

export async function demoBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const env = childEnv();
  const walls: number[] = [];
  const validate: number[] = [];
  for (let i = 0; i < runs; i++) {
    const parent = mkdtempSync(join(tmpdir(), 'modelship-bench-demo-'));
    try {
      options.log(`demo: run ${i + 1} of ${runs}`);
      walls.push(expectSuccess('npm run demo', await measure(process.execPath, ['--import', import.meta.resolve('tsx'), join(projectRoot, 'tools/demo/cli.ts'), '--dir', join(parent, 'demo')], { env, cwd: parent })).wallMs);
      validate.push(expectSuccess('modelship validate', await measure(process.execPath, [cli, 'validate', '-C', projectRoot], { env })).wallMs);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }
  const wall = median(walls);
  const reference = median(validate);
  return [{
    figure: `the demo (13 steps: 9 modelship commands in one process beside modelship serve as checker and agent, stand-ins started and stopped), median of ${runs}`,
    target: `< ${ms(targetMs)}`,
    measured: ms(wall),
    reference: `modelship validate (one cold command): ${ms(reference)}`,
    ratio: ratio(wall, reference),
    met: wall < targetMs,
  }];
}
