// `modelship <args>` in this process, for the demo and the tests: the built program
// (dist/program.js: the same parsing, commands, output and exit codes as the binary) with its own
// environment and working folder, without a Node start-up and the client libraries' load time per
// command. Commands run one at a time: for a command's duration process.env is exactly the
// environment given (restored afterwards), since commands read their settings from it.

import { fileURLToPath } from 'node:url';

const program = fileURLToPath(new URL('../../dist/program.js', import.meta.url));

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs `modelship <args>` with exactly `env` as its environment, in `cwd` (default: where this process is). */
export function runModelship(args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<Ran> {
  const run = queue.then(() => runNow(args, options));
  queue = run.catch(() => undefined);
  return run;
}

async function runNow(args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string }): Promise<Ran> {
  const { runCommand } = (await import(program)) as typeof import('../../src/program.js');
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  replaceEnv(options.env);
  if (options.cwd) process.chdir(options.cwd);
  let stdout = '';
  let stderr = '';
  try {
    const code = await runCommand(args, { out: (s) => (stdout += s + '\n'), err: (s) => (stderr += s + '\n'), progress: () => {} });
    return { code, stdout, stderr };
  } finally {
    process.chdir(savedCwd);
    replaceEnv(savedEnv);
  }
}

function replaceEnv(env: NodeJS.ProcessEnv): void {
  for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
}
