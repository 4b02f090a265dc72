// A release repository with the loopback Kubernetes and Snowflake stand-ins running, and the CLI
// pointed at them: what the sync, status and GitHub-deployment tests start from.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { runCli, type CliResult } from './cli.js';
import { makeReleaseRepo } from './repo.js';
import { startKubernetesStandIn, type KubernetesStandIn } from '../../tools/sandbox/kubernetes/server.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn, type SnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';

export interface Stage {
  kube: KubernetesStandIn;
  snow: SnowflakeStandIn;
  env: Record<string, string>;
  root: string;
  git: (...args: string[]) => string;
  cli: (...args: string[]) => Promise<CliResult>;
}

/**
 * `onWrite` is called on every write either stand-in receives; while `refuse` says so, both refuse
 * every request (as if the client were gone: Kubernetes answers 403, Snowflake an access error);
 * `setup` prepares the warehouse (DuckDB) before the first query; `reuse`: the repository may be a
 * copy of one made earlier in this process (see makeReleaseRepo), when its first commit's time does
 * not matter to the test.
 */
export async function stage(t: Test, options: { onWrite?: () => void; refuse?: () => boolean; setup?: (c: import('@duckdb/node-api').DuckDBConnection) => Promise<void>; reuse?: boolean } = {}): Promise<Stage> {
  const repo = makeReleaseRepo({ reuse: options.reuse ?? false });
  t.teardown(repo.cleanup);
  let count: () => void = () => {};
  const kube = await startKubernetesStandIn({
    namespaces: ['ml-serving', 'ml-staging'], controller: { delayMs: 20 },
    fail: (req) => {
      if (options.refuse?.()) return { status: 403, message: 'the agent is gone (refused by the test)' };
      if (req.method !== 'GET') count();
      return undefined;
    },
  });
  const snow = await startSnowflakeStandIn({
    onQuery: (sql) => {
      if (options.refuse?.()) snow.inject({ match: /[\s\S]*/, code: '003001', message: 'Insufficient privileges: the agent is gone (refused by the test)', sqlState: '42501' });
      else if (!/^\s*(SHOW|SELECT)\b/i.test(sql)) count();
    },
    ...(options.setup ? { setup: options.setup } : {}),
  });
  count = () => options.onWrite?.();
  t.teardown(async () => { await kube.stop(); await snow.stop(); });
  const env = {
    MODELSHIP_KUBE_SERVER: kube.url, MODELSHIP_KUBE_TOKEN: kube.token!,
    SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password,
    MODELSHIP_SNOWFLAKE_URL: snow.url,
  };
  return { kube, snow, env, root: repo.root, git: repo.git, cli: (...args) => runCli([...args, '-C', repo.root], { env }) };
}

/** What production runs, as the systems hold it: managed objects' specs and labels, tasks' state and config. */
export function production(s: Stage) {
  const objects = [...s.kube.list('serving.kserve.io/v1beta1', 'InferenceService', 'ml-serving'), ...s.kube.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'ml-serving')]
    .map((o) => ({ kind: o.kind, name: o.metadata.name, labels: o.metadata.labels, version: o.metadata.annotations?.['modelship.io/version'], hash: o.metadata.annotations?.['modelship.io/spec-hash'], spec: o.spec }))
    .sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
  const tasks = ['MODELSHIP_FRAUD_DETECTOR', 'MODELSHIP_CHARGEBACK_RISK'].map((n) => s.snow.tasks.get(`ML_PROD.SCORING.${n}`)).filter(Boolean)
    .map((task) => {
      // Each test's repository has its own commit ids; everything else must match.
      const { commit: _commit, ...comment } = JSON.parse(task!.comment ?? '{}') as Record<string, unknown>;
      return { name: task!.name, state: task!.state, config: task!.config, comment };
    });
  return { objects, tasks };
}

export const writes = (s: Stage) => s.kube.writes().length + s.snow.queries.filter((q) => !/^\s*(SHOW|SELECT)\b/i.test(q.sqlText)).length;

/** Main moves production's fraud-detector from 2026.11.06-1 to `version` in one commit; returns the commit. */
export function promoteFraudDetector(s: Stage, version: string, message = `promote(production): fraud-detector 2026.11.06-1 → ${version}`): string {
  const file = join(s.root, 'environments/production.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('version: 2026.11.06-1', `version: ${version}`));
  s.git('commit', '-qam', message);
  return s.git('rev-parse', 'HEAD').trim();
}

/** Writes the systems took (answered without error): what a client that died left behind. */
export const applied = (s: Stage) => s.kube.writes().filter((w) => (w.status ?? 0) < 400).length
  + s.snow.queries.filter((q) => !/^\s*(SHOW|SELECT)\b/i.test(q.sqlText) && q.error === undefined).length;
