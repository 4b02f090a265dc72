// How commands talk to the terminal: plain text by default, JSON with --json, and the one place
// where errors become messages and exit codes.

import { ExitCode, ExternalError, formatProblem, ModelshipError, RefusedError, ValidationError } from '../errors.js';
import { terminalText } from '../model/escape.js';

export interface Output {
  out(line: string): void;
  err(line: string): void;
  /** a transient progress line (only drawn on a terminal) */
  progress(line: string): void;
}

/**
 * The print boundary: what commands print carries data from git (commit messages, author names,
 * refs, file names), manifests and remote systems, so escape sequences, other control characters
 * and bidi overrides in it are shown as `\u001b`, `\u202e` instead of reaching the terminal
 * (model/escape.ts terminalText). JSON output stays valid and means the same.
 */
export function terminalOutput(output: Output): Output {
  return {
    out: (line) => output.out(terminalText(line)),
    err: (line) => output.err(terminalText(line)),
    progress: (line) => output.progress(terminalText(line)),
  };
}

/** Prints an error the way a user should see it and returns the exit code. */
export function printError(e: unknown, output: Output, json: boolean): number {
  output.progress('');
  if (json) {
    output.out(JSON.stringify({ ok: false, error: errorJson(e) }, null, 2));
    return e instanceof ModelshipError ? e.exitCode : ExitCode.internal;
  }
  if (e instanceof ValidationError) {
    for (const p of e.problems) output.err(formatProblem(p));
    output.err(`error: ${e.message}`);
  } else if (e instanceof RefusedError) {
    output.err(`error: ${e.message}`);
    if (e.hint) output.err(`hint: ${e.hint}`);
  } else if (e instanceof ExternalError) {
    output.err(`error: ${e.message}`);
    if (e.details.hint) output.err(`hint: ${e.details.hint}`);
  } else if (e instanceof ModelshipError) {
    output.err(`error: ${e.message}`);
  } else {
    output.err(`internal error: ${(e as Error)?.stack ?? String(e)}`);
    output.err('This is a bug in modelship; please report it with the command you ran.');
    return ExitCode.internal;
  }
  return e.exitCode;
}

function errorJson(e: unknown): Record<string, unknown> {
  if (e instanceof ValidationError) return { kind: 'validation', message: e.message, problems: e.problems };
  if (e instanceof RefusedError) return { kind: 'refused', message: e.message, hint: e.hint };
  if (e instanceof ExternalError) return { kind: 'external', system: e.system, operation: e.operation, message: e.message, status: e.details.status, hint: e.details.hint };
  if (e instanceof ModelshipError) return { kind: e.name, message: e.message };
  return { kind: 'internal', message: String((e as Error)?.message ?? e) };
}
