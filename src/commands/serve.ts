// `modelship serve`: the checker as a GitHub App webhook service and, with --environments, the
// in-cluster agent that reconciles them from the release branch (roles: --roles). Reads its flags
// (each with an environment fallback) and the key and secret files, starts the service
// (src/serve/) and runs until SIGTERM or SIGINT, then lets running work finish for --shutdown-grace.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { parseDuration } from '../model/durations.js';
import type { ServeOptions } from '../serve/service.js';
import { defaultMaxPayloadBytes, startService } from '../serve/service.js';
import { commandOptions } from './context.js';
import { printError, type Output } from './output.js';

interface Options {
  appId?: string; privateKeyFile?: string; webhookSecretFile?: string; githubApiUrl?: string; listen?: string;
  mirrorDir?: string; concurrency?: string; releaseBranch?: string; maxPayload?: string; shutdownGrace?: string; prometheusUrl?: string;
  roles?: string; repository?: string; environments?: string; resync?: string; leaseDuration?: string; selfHeal?: boolean;
}

const env = process.env;

export async function run(args: unknown[], output: Output): Promise<number> {
  const o = commandOptions<Options>(args);
  try {
    const roles = rolesFrom(o);
    const appId = positive('--app-id', o.appId ?? env.MODELSHIP_GITHUB_APP_ID);
    const privateKey = readSecret('--private-key-file', o.privateKeyFile ?? env.MODELSHIP_GITHUB_PRIVATE_KEY_FILE);
    const webhookSecret = readSecret('--webhook-secret-file', o.webhookSecretFile ?? env.MODELSHIP_WEBHOOK_SECRET_FILE).trim();
    const graceMs = positive('--shutdown-grace', o.shutdownGrace ?? env.MODELSHIP_SHUTDOWN_GRACE ?? '30') * 1000;
    const apiUrl = o.githubApiUrl ?? env.MODELSHIP_GITHUB_API_URL;
    const releaseBranch = o.releaseBranch ?? env.MODELSHIP_RELEASE_BRANCH;
    const prometheusUrl = o.prometheusUrl ?? env.MODELSHIP_PROMETHEUS_URL;
    const service = await startService({
      ...roles, appId, privateKey, webhookSecret, ...(apiUrl ? { apiUrl } : {}), ...(releaseBranch ? { releaseBranch } : {}), ...(prometheusUrl ? { prometheusUrl } : {}),
      listen: o.listen ?? env.MODELSHIP_LISTEN ?? '0.0.0.0:8080',
      mirrorDir: resolve(o.mirrorDir ?? env.MODELSHIP_MIRROR_DIR ?? 'mirrors'),
      concurrency: positive('--concurrency', o.concurrency ?? env.MODELSHIP_CONCURRENCY ?? '2'),
      maxPayloadBytes: positive('--max-payload', o.maxPayload ?? env.MODELSHIP_MAX_PAYLOAD ?? String(defaultMaxPayloadBytes)),
      log: (line) => output.err(`${new Date().toISOString()} ${line}`),
    });
    output.err(`modelship serve (${[roles.check ? 'checker' : '', roles.agent ? `agent of ${roles.agent.environments.join(', ')}` : ''].filter(Boolean).join(', ')}): webhooks at ${service.webhookUrl}, probes at /healthz and /readyz`);
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

/** Which roles run: --roles (default: the checker, and the agent when --environments names environments), validated. */
function rolesFrom(o: Options): Pick<ServeOptions, 'check' | 'agent'> {
  const rolesText = o.roles ?? env.MODELSHIP_ROLES;
  const environmentsText = o.environments ?? env.MODELSHIP_ENVIRONMENTS;
  const roles = rolesText === undefined ? ['check', ...(environmentsText !== undefined ? ['agent'] : [])] : rolesText.split(',').map((r) => r.trim());
  if (!roles.length || roles.some((r) => r !== 'check' && r !== 'agent')) {
    throw new UsageError(`--roles expects a comma-separated list of check and agent, found ${JSON.stringify(rolesText)}`);
  }
  if (!roles.includes('agent')) {
    if (environmentsText !== undefined) throw new UsageError(`--environments names the agent's environments, but --roles ${JSON.stringify(rolesText)} does not run the agent`);
    return { check: true };
  }
  if (environmentsText === undefined) throw new UsageError('the agent role needs --environments (or MODELSHIP_ENVIRONMENTS): the environments it reconciles, e.g. staging,production');
  const environments = environmentsText.split(',').map((e) => e.trim());
  const bad = environments.find((e) => !/^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,29}$/.test(e));
  if (bad !== undefined) throw new UsageError(`--environments expects environment names separated by commas (e.g. staging,production), found ${JSON.stringify(bad)} in ${JSON.stringify(environmentsText)}`);
  const repositoryText = o.repository ?? env.MODELSHIP_REPOSITORY;
  if (repositoryText === undefined) throw new UsageError('the agent role needs --repository (or MODELSHIP_REPOSITORY): the release repository as owner/name');
  const repository = /^([A-Za-z0-9-]+)\/((?!\.{1,2}$)[A-Za-z0-9._-]+)$/.exec(repositoryText);
  if (!repository) throw new UsageError(`--repository expects owner/name (e.g. acmerisk/model-releases), found ${JSON.stringify(repositoryText)}`);
  const resyncMs = duration('--resync', o.resync ?? env.MODELSHIP_RESYNC ?? '3m', '3m');
  const leaseMs = duration('--lease-duration', o.leaseDuration ?? env.MODELSHIP_LEASE_DURATION ?? '15s', '15s');
  const selfHealText = o.selfHeal ? 'true' : env.MODELSHIP_SELF_HEAL?.trim() || 'false';
  if (selfHealText !== 'true' && selfHealText !== 'false') throw new UsageError(`MODELSHIP_SELF_HEAL expects true or false, found ${JSON.stringify(selfHealText)}`);
  return {
    check: roles.includes('check'),
    agent: {
      repository: { owner: repository[1]!, repo: repository[2]! }, environments: [...new Set(environments)], resyncMs,
      // connections (Kubernetes, Snowflake) as configured when serve started
      leaseDurationSeconds: leaseMs / 1000, env: { ...env }, selfHeal: selfHealText === 'true',
    },
  };
}

function duration(flag: string, text: string, example: string): number {
  const ms = parseDuration(text);
  if (!ms) throw new UsageError(`${flag} expects a duration of at least 1s such as ${example} (units s, m, h), found ${JSON.stringify(text)}`);
  return ms;
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
