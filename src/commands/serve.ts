// `modelship serve`: the checker as a GitHub App webhook service. Reads its flags (each with an
// environment fallback) and the key and secret files, starts the service (src/serve/) and runs
// until SIGTERM or SIGINT, then lets running evaluations finish for --shutdown-grace.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { defaultMaxPayloadBytes, startService } from '../serve/service.js';
import { commandOptions } from './context.js';
import { printError, type Output } from './output.js';

interface Options {
  appId?: string; privateKeyFile?: string; webhookSecretFile?: string; githubApiUrl?: string; listen?: string;
  mirrorDir?: string; concurrency?: string; releaseBranch?: string; maxPayload?: string; shutdownGrace?: string; prometheusUrl?: string;
}

const env = process.env;

export async function run(args: unknown[], output: Output): Promise<number> {
  const o = commandOptions<Options>(args);
  try {
    const appId = positive('--app-id', o.appId ?? env.MODELSHIP_GITHUB_APP_ID);
    const privateKey = readSecret('--private-key-file', o.privateKeyFile ?? env.MODELSHIP_GITHUB_PRIVATE_KEY_FILE);
    const webhookSecret = readSecret('--webhook-secret-file', o.webhookSecretFile ?? env.MODELSHIP_WEBHOOK_SECRET_FILE).trim();
    const graceMs = positive('--shutdown-grace', o.shutdownGrace ?? env.MODELSHIP_SHUTDOWN_GRACE ?? '30') * 1000;
    const apiUrl = o.githubApiUrl ?? env.MODELSHIP_GITHUB_API_URL;
    const releaseBranch = o.releaseBranch ?? env.MODELSHIP_RELEASE_BRANCH;
    const prometheusUrl = o.prometheusUrl ?? env.MODELSHIP_PROMETHEUS_URL;
    const service = await startService({
      appId, privateKey, webhookSecret, ...(apiUrl ? { apiUrl } : {}), ...(releaseBranch ? { releaseBranch } : {}), ...(prometheusUrl ? { prometheusUrl } : {}),
      listen: o.listen ?? env.MODELSHIP_LISTEN ?? '0.0.0.0:8080',
      mirrorDir: resolve(o.mirrorDir ?? env.MODELSHIP_MIRROR_DIR ?? 'mirrors'),
      concurrency: positive('--concurrency', o.concurrency ?? env.MODELSHIP_CONCURRENCY ?? '2'),
      maxPayloadBytes: positive('--max-payload', o.maxPayload ?? env.MODELSHIP_MAX_PAYLOAD ?? String(defaultMaxPayloadBytes)),
      log: (line) => output.err(`${new Date().toISOString()} ${line}`),
    });
    output.err(`modelship serve: webhooks at ${service.webhookUrl}, probes at /healthz and /readyz`);
    const signal = await new Promise<string>((done) => {
      process.once('SIGTERM', () => done('SIGTERM'));
      process.once('SIGINT', () => done('SIGINT'));
    });
    output.err(`${signal}: finishing running evaluations (up to ${graceMs / 1000} s)`);
    const { dropped, abandoned } = await service.stop(graceMs);
    // GitHub does not redeliver by itself: a dropped or abandoned pull request is re-run from its check run (or its next push).
    output.err(`stopped; ${dropped} queued evaluation${dropped === 1 ? '' : 's'} dropped${abandoned.length ? `, abandoned: ${abandoned.join(', ')}` : ''}`);
    return 0;
  } catch (e) {
    return printError(e, output, false);
  }
}

function positive(flag: string, text: string | undefined): number {
  if (text === undefined) throw new UsageError(`${flag} is required (or its environment variable; see modelship serve --help)`);
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} expects a positive whole number, found ${JSON.stringify(text)}`);
  return n;
}

function readSecret(flag: string, path: string | undefined): string {
  if (!path) throw new UsageError(`${flag} is required (or its environment variable; see modelship serve --help)`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${path}: ${(e as Error).message}`);
  }
}
