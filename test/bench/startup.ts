// Benchmark 3: cold start of `modelship --version`, against the start of a bare `node -e ''`.

import { fileURLToPath } from 'node:url';
import { childEnv, expectSuccess, measure, median, repeat } from './measure.js';
import { ms, ratio, type Row } from './table.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const runs = 20;
const target = 300;

export async function startupBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const env = childEnv();
  options.log(`startup: ${runs} runs each of modelship --version and node -e ''`);
  // Interleaved, so a change in machine load affects both sides alike.
  const pairs = await repeat(runs, async () => ({
    version: expectSuccess('modelship --version', await measure(process.execPath, [cli, '--version'], { env })),
    bare: expectSuccess("node -e ''", await measure(process.execPath, ['-e', ''], { env })),
  }));
  const cold = median(pairs.map((p) => p.version.wallMs));
  const node = median(pairs.map((p) => p.bare.wallMs));
  return [{
    figure: `modelship --version, cold start, median of ${runs}`,
    target: `< ${ms(target)}`,
    measured: ms(cold),
    reference: `node -e '': ${ms(node)}`,
    ratio: ratio(cold, node),
    met: cold < target,
  }];
}
