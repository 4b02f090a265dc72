// Build step (npm run build): writes dist/config/validators.generated.cjs, the schemas compiled
// once by ajv into plain functions, so no command pays for compiling them at startup.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as standalone from 'ajv/dist/standalone/index.js';
import { schemaCompiler, standaloneExports } from './schema.js';

// CommonJS with a default export; under NodeNext it arrives wrapped.
type Generate = (ajv: ReturnType<typeof schemaCompiler>, refs: Record<string, string>) => string;
const generate = ((standalone as unknown as { default: { default?: Generate } & Generate }).default.default ?? (standalone as unknown as { default: Generate }).default);
const out = fileURLToPath(new URL('./validators.generated.cjs', import.meta.url));
writeFileSync(out, generate(schemaCompiler(true), standaloneExports()));
process.stdout.write(`wrote ${out}\n`);
