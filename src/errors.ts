// The error values modelship throws. Each carries the context a user needs and maps to one
// documented exit code; the CLI edge is the only place that catches and prints them.

/** Exit codes, as documented in the README. */
export const ExitCode = {
  ok: 0,
  /** a check failed: invalid files, a refused registration, a blocking gate */
  checkFailed: 1,
  /** the command line was wrong */
  usage: 2,
  /** an external system (S3, git, GitHub, ...) failed or refused */
  external: 3,
  /** `sync`: another agent holds the environment's lease; nothing was done there */
  leaseHeld: 4,
  /**
   * `sync`: an environment's targets are not its own: the cluster is not the one
   * kubernetes.cluster names, or an object it wants belongs to another environment or is not
   * modelship's; or the revision would move it backwards (not a descendant of the commit live
   * there, or that commit unknown to the repository: sync/forward.ts); nothing was written there
   */
  targetRefused: 5,
  /** a bug in modelship itself (EX_SOFTWARE) */
  internal: 70,
  /** interrupted by a signal (Ctrl-C) after cleaning up */
  interrupted: 130,
} as const;

/** One problem in one file, with its position and what was expected. */
export interface Problem {
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole */
  line: number;
  col: number;
  /** field path inside the document, dotted (`models.fraud-detector.version`); '' for the root */
  path: string;
  message: string;
  expected?: string;
  found?: string;
  severity: 'error' | 'warning';
}

export abstract class ModelshipError extends Error {
  abstract readonly exitCode: number;
}

/** Command-line misuse: unknown flag, missing argument, contradictory options. */
export class UsageError extends ModelshipError {
  readonly exitCode = ExitCode.usage;
  override name = 'UsageError';
}

/** One or more files are invalid. Carries every problem found, not only the first. */
export class ValidationError extends ModelshipError {
  readonly exitCode = ExitCode.checkFailed;
  override name = 'ValidationError';
  constructor(readonly problems: Problem[], summary?: string) {
    super(summary ?? ValidationError.summarize(problems));
  }
  static summarize(problems: Problem[]): string {
    const errors = problems.filter((p) => p.severity === 'error');
    const files = new Set(errors.map((p) => p.file));
    return `${errors.length} problem${errors.length === 1 ? '' : 's'} in ${files.size} file${files.size === 1 ? '' : 's'}`;
  }
}

/** A request modelship refuses on principle: re-registering a version with other content, and the like. */
export class RefusedError extends ModelshipError {
  readonly exitCode = ExitCode.checkFailed;
  override name = 'RefusedError';
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

/** sync: an environment's targets are not its own (another cluster, another environment's objects); nothing was written there. */
export class TargetRefusedError extends ModelshipError {
  readonly exitCode = ExitCode.targetRefused;
  override name = 'TargetRefusedError';
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

/** An external system failed. `system` and `operation` name what was being done. */
export class ExternalError extends ModelshipError {
  readonly exitCode = ExitCode.external;
  override name = 'ExternalError';
  constructor(
    readonly system: 's3' | 'git' | 'github' | 'filesystem' | 'prometheus' | 'snowflake' | 'kubernetes',
    readonly operation: string,
    message: string,
    readonly details: { status?: number; retryable?: boolean; cause?: unknown; hint?: string } = {},
  ) {
    super(`${system}: ${operation}: ${message}`, { cause: details.cause });
  }
}

/** KMS failed or refused (the audit signer). */
export class KmsError extends ModelshipError {
  readonly exitCode = ExitCode.external;
  override name = 'KmsError';
  constructor(readonly operation: string, message: string, readonly hint?: string, options?: { cause?: unknown }) {
    super(`kms: ${operation}: ${message}${hint ? `; ${hint}` : ''}`, options);
  }
}

/** A file that is not a dbt manifest modelship can read. The message names the file and says why. */
export class DbtManifestError extends ModelshipError {
  readonly exitCode = ExitCode.checkFailed;
  override name = 'DbtManifestError';
}

/**
 * A signed note or audit checkpoint that does not parse or verify (audit/note.ts,
 * audit/checkpoint.ts): evidence that fails, so a failed check. The message is the Go
 * reference's where it has one ('malformed note', 'invalid signature for key <name>+<id>').
 */
export class SignedNoteError extends ModelshipError {
  readonly exitCode = ExitCode.checkFailed;
  override name = 'SignedNoteError';
}

/** The user interrupted the command; cleanup has run. */
export class InterruptedError extends ModelshipError {
  readonly exitCode = ExitCode.interrupted;
  override name = 'InterruptedError';
}

/** Formats a problem as `file:line:col  path  message` for terminals and CI logs. */
export function formatProblem(p: Problem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  const path = p.path ? `  ${p.path}` : '';
  const tag = p.severity === 'warning' ? '  warning:' : '';
  const detail = p.expected !== undefined && !p.message.includes('expected')
    ? `; expected ${p.expected}${p.found !== undefined ? `, found ${p.found}` : ''}` : '';
  return `${where}${path}${tag}  ${p.message}${detail}`;
}
