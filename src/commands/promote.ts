import type { Output } from './output.js';
export async function run(_args: unknown[], output: Output): Promise<number> { output.err('not yet'); return 2; }
