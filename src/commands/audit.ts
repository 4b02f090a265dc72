// `modelship audit mirror|verify|trace|keygen`: the environment's signed, hash-chained,
// write-once trail of what was deployed. mirror runs after sync (the in-cluster agent); verify
// proves the trail complete and unaltered or names what is wrong; trace answers "which version
// served this environment at that time, approved by whom, trained on what".

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ExitCode, UsageError } from '../errors.js';
import { mirrorTrail, traceModel, trustRootAt, verifyTrails } from '../audit/flows.js';
import { traceText, verifyText } from '../audit/render.js';
import { newSigningKey } from '../audit/signer.js';
import { commandOptions, repoRoot } from './context.js';
import { printError, type Output } from './output.js';

interface Options {
  env?: string | string[];
  rev?: string;
  recordDir?: string;
  report?: string;
  store?: string;
  checkpointStore?: string;
  checkpoints?: string;
  /** verify: one file per environment; trace: one */
  trustRoot?: string | string[];
  keyFile?: string;
  kmsKey?: string;
  nextKeyFile?: string;
  nextKmsKey?: string;
  github?: boolean;
  since?: string;
  model?: string;
  at?: string;
  cacheDir?: string;
  id?: string;
  out?: string;
  json?: boolean;
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export async function run(args: unknown[], output: Output): Promise<number> {
  const opts = commandOptions<Options>(args);
  const name = (args[args.length - 1] as Command).name();
  try {
    const root = repoRoot(opts.repo);
    switch (name) {
      case 'mirror': return await mirrorCommand(root, opts, output);
      case 'verify': return await verifyCommand(root, opts, output);
      case 'trace': return await traceCommand(root, opts, output);
      case 'keygen': return keygenCommand(opts, output);
      case 'trust-root': {
        output.out(JSON.stringify(await trustRootAt(root, opts.rev ?? 'HEAD', single(opts.env)), null, 2));
        return ExitCode.ok;
      }
      default: throw new UsageError(`unknown audit command ${name}`);
    }
  } catch (e) {
    return printError(e, output, !!opts.json);
  }
}

async function mirrorCommand(root: string, opts: Options, output: Output): Promise<number> {
  const environment = single(opts.env);
  if (!opts.recordDir) throw new UsageError('audit mirror needs --record-dir DIR: the folder sync --record-dir wrote the deployment records to');
  const result = await mirrorTrail({
    root, environment, rev: opts.rev ?? 'HEAD', recordDir: opts.recordDir, github: !!opts.github, recorderVersion: pkg.version,
    key: { kmsKey: opts.kmsKey ?? process.env.MODELSHIP_AUDIT_KMS_KEY, keyFile: opts.keyFile ?? process.env.MODELSHIP_AUDIT_KEY_FILE, pem: process.env.MODELSHIP_AUDIT_KEY },
    nextKey: { kmsKey: opts.nextKmsKey ?? process.env.MODELSHIP_AUDIT_NEXT_KMS_KEY, keyFile: opts.nextKeyFile ?? process.env.MODELSHIP_AUDIT_NEXT_KEY_FILE },
    ...(opts.report ? { reportFile: opts.report } : {}),
    ...(opts.store !== undefined ? { store: opts.store } : {}),
    ...(opts.checkpointStore !== undefined ? { checkpointStore: opts.checkpointStore } : {}),
    log: (line) => output.err(line),
  });
  const { store, ...written } = result;
  if (opts.json) output.out(JSON.stringify({ ok: true, store, ...written }, null, 2));
  else if (result.nothing) output.out(`${environment}: nothing to record: ${result.nothing}`);
  else output.out(`${environment}: ${result.written.length} record${result.written.length === 1 ? '' : 's'} written to ${store} (seq ${result.written.map((w) => w.seq).join(', ')})`);
  const c = result.checkpoint;
  if (c && !opts.json) output.out(`${environment}: checkpoint at ${c.size} record${c.size === 1 ? '' : 's'} ${c.written ? 'signed and written to' : 'already in'} ${c.store}`);
  return ExitCode.ok;
}

async function verifyCommand(root: string, opts: Options, output: Output): Promise<number> {
  const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
  const verified = await verifyTrails({
    root, rev: opts.rev ?? 'HEAD',
    ...(opts.env ? { environments: ([] as string[]).concat(opts.env) } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(opts.store !== undefined ? { store: opts.store } : {}),
    ...(opts.checkpoints !== undefined ? { checkpoints: opts.checkpoints } : {}),
    ...(opts.trustRoot !== undefined ? { trustRoots: ([] as string[]).concat(opts.trustRoot) } : {}),
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
  }, (v) => {
    if (!opts.json) output.out(verifyText(v.result, { ...(v.head ? { head: v.head } : {}), keys: v.keys, ...(v.checkpoint ? { checkpoint: v.checkpoint } : {}) }));
  });
  const code = verified.every((v) => v.result.ok) ? ExitCode.ok : ExitCode.checkFailed;
  if (opts.json) {
    const environments = verified.map((v) => ({ environment: v.environment, ok: v.result.ok, checked: v.result.checked, head: v.head, store: v.store, ...(v.checkpoint ? { checkpoint: v.checkpoint } : {}), findings: v.result.findings }));
    output.out(JSON.stringify({ ok: code === ExitCode.ok, environments }, null, 2));
  }
  return code;
}

async function traceCommand(root: string, opts: Options, output: Output): Promise<number> {
  const environment = single(opts.env);
  if (!opts.model) throw new UsageError('audit trace needs --model <name>');
  if (!opts.at) throw new UsageError('audit trace needs --at <time>, e.g. 2026-08-14T10:22:00Z');
  const at = parseTime(opts.at, '--at');
  const answer = await traceModel({
    root, rev: opts.rev ?? 'HEAD', environment, model: opts.model, at,
    ...(opts.store !== undefined ? { store: opts.store } : {}),
    ...(typeof opts.trustRoot === 'string' ? { trustRoot: opts.trustRoot } : {}),
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
    log: (line) => output.err(line),
  });
  output.out(opts.json ? JSON.stringify({ ok: true, ...answer }, null, 2) : traceText(answer));
  return ExitCode.ok;
}

/** Writes a new Ed25519 private key and prints its policy entry. */
function keygenCommand(opts: Options, output: Output): number {
  if (!opts.id || !opts.out) throw new UsageError('audit keygen needs --id <key id> and --out <file>');
  const entry = newSigningKey(opts.id, opts.out, new Date());
  output.err(`wrote the private key to ${opts.out}; add this to audit.keys in policies/<env>.yaml (a reviewed change):`);
  output.out(entry);
  return ExitCode.ok;
}

function single(env: string | string[] | undefined): string {
  const list = env === undefined ? [] : ([] as string[]).concat(env);
  if (list.length !== 1) throw new UsageError('name one environment with --env <name>');
  return list[0]!;
}

function parseSince(text: string): number | Date {
  if (/^\d+$/.test(text)) return Number(text);
  return parseTime(text, '--since');
}

function parseTime(text: string, flag: string): Date {
  const d = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(d.getTime())) throw new UsageError(`${flag} expects a time such as 2026-08-14T10:22:00Z, found ${JSON.stringify(text)}`);
  return d;
}
