// The demo's world: a throw-away copy of this repository's release files (a bare origin and a
// clone in a temp folder) and the local stand-ins the commands talk to — S3 (s3rver), the
// Kubernetes API, Snowflake (SQL run in DuckDB) and GitHub — each on loopback, all stopped by
// close(). Only for the demo (`npm run demo`); see tools/sandbox/ for what each stand-in does not do.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../src/errors.js';
import { parse, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface World {
  dir: string;
  /** the clone the story works in */
  repo: string;
  origin: string;
  /** environment for every command: the stand-ins' addresses and credentials */
  env: Record<string, string>;
  github: import('../sandbox/github/server.js').GitHubStandIn;
  kube: import('../sandbox/kubernetes/server.js').KubernetesStandIn;
  snow: import('../sandbox/snowflake/server.js').SnowflakeStandIn;
  /** the GitHub App `modelship serve` authenticates as (installed on the release repository) */
  app: import('./serve.js').DemoApp;
  /** starts `modelship serve` (as a child process, stopped by close()) with these extra arguments */
  startServe(args?: string[], extraEnv?: Record<string, string>): Promise<import('./serve.js').RunningServe>;
  git(...args: string[]): string;
  /** git in another folder (the bare origin: what GitHub does on its side) */
  gitIn(cwd: string, ...args: string[]): string;
  /** git with author and committer dates set to `at` (the story's clock) */
  gitAt(at: string, ...args: string[]): string;
  close(): Promise<void>;
}

export const owner = 'acmerisk';
export const repoName = 'model-releases';
const token = 'ghs_modelship_demo_token';
/** Who plays the people of the story (the GitHub stand-in's teams). */
export const people = {
  author: 'ada-ml',
  leads: ['grace-lead', 'alan-lead'],
  modelRisk: ['katherine-risk'],
  oncall: ['linus-oncall'],
};

/** How long close() waits for one stand-in (serve's own grace is 10 s before SIGKILL). */
const stopWithinMs = 15_000;

/** Starts everything; on any failure what was started is stopped again. */
export async function createWorld(options: { dir?: string } = {}): Promise<World> {
  if (options.dir && existsSync(options.dir) && readdirSync(options.dir).length > 0) {
    throw new UsageError(`${options.dir} is not empty; give the demo an empty or new folder`);
  }
  const dir = options.dir ? (mkdirSync(options.dir, { recursive: true }), options.dir) : mkdtempSync(join(tmpdir(), 'modelship-demo-'));
  const stops: Array<{ what: string; stop: () => Promise<void> }> = [];
  // Once, however many ask (Ctrl-C and the story's own ending both do), newest first; a stand-in
  // that does not stop in time is named and left to the process's exit rather than hanging it.
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= (async () => {
    for (const { what, stop } of stops.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          process.stderr.write(`demo: ${what} did not stop within ${stopWithinMs / 1000} s; going on\n`);
          resolve();
        }, stopWithinMs);
      });
      await Promise.race([stop().catch(() => undefined), late]);
      clearTimeout(timer);
    }
  })());
  try {
    const origin = join(dir, 'origin.git');
    const repo = join(dir, 'acmerisk-model-releases');
    const git = (cwd: string, ...args: string[]) => gitIn(cwd, {}, args);
    git(dir, 'init', '-q', '--bare', '-b', 'main', origin);
    git(dir, 'init', '-q', '-b', 'main', repo);
    for (const [k, v] of Object.entries({ 'user.name': 'Ada Engineer', 'user.email': 'ada@acmerisk.example', 'commit.gpgsign': 'false' })) git(repo, 'config', k, v);
    git(repo, 'remote', 'add', 'origin', origin);
    for (const d of ['environments', 'models', 'policies']) cpSync(join(projectRoot, d), join(repo, d), { recursive: true });
    mkdirSync(join(dir, 'runs'));
    cpSync(join(projectRoot, 'test/fixtures/runs/fraud-detector-run-8812'), join(dir, 'runs/fraud-detector-run-8812'), { recursive: true });
    withoutPrometheus(join(repo, 'policies/production.yaml'));
    withoutFreezes(join(repo, 'policies/production.yaml'));
    git(repo, 'add', '-A');
    gitIn(repo, { GIT_AUTHOR_DATE: '2026-11-16T09:00:00Z', GIT_COMMITTER_DATE: '2026-11-16T09:00:00Z' }, ['commit', '-q', '-m', 'AcmeRisk release repository']);
    git(repo, 'push', '-q', '-u', 'origin', 'main');

    const [{ startS3rver, s3rverCredentials }, { startKubernetesStandIn }, { startSnowflakeStandIn, snowflakeStandInCredentials }, { startGitHub }, { demoApp, startServe }] = await Promise.all([
      import('../sandbox/s3rver.js'), import('../sandbox/kubernetes/server.js'), import('../sandbox/snowflake/server.js'), import('../sandbox/github/server.js'), import('./serve.js'),
    ]);
    const app = demoApp();
    const [s3, kube, snow, github] = await Promise.all([
      // the audit bucket is versioned, as Object Lock requires (verify lists its versions and delete markers)
      startS3rver({ buckets: ['acme-model-registry', 'acme-dbt-artifacts', 'acme-training', 'acme-audit-trail'], versioned: ['acme-audit-trail'], dir: join(dir, 's3') }),
      startKubernetesStandIn({ namespaces: ['ml-staging', 'ml-serving'], controller: { delayMs: 150 } }),
      startSnowflakeStandIn({ setup: warehouseTables }),
      startGitHub({
        // The token is the ML engineer's: the pull requests the story opens are hers.
        owner, repo: repoName, token, login: people.author,
        // where git fetches the repository from (GET /repos/{owner}/{repo}'s clone_url): the demo's bare origin
        cloneUrl: origin,
        users: [people.author, ...people.leads, ...people.modelRisk, ...people.oncall],
        teams: { 'fraud-ml-leads': people.leads, 'model-risk': people.modelRisk, 'ml-oncall': people.oncall, 'ml-platform': people.leads, 'disputes-ml': [] },
        // The checker's GitHub App, installed on the repository: `modelship serve` authenticates as it.
        apps: [{ id: app.id, slug: app.slug, publicKey: app.publicKey, installationId: app.installationId }],
      }),
    ]);
    stops.push({ what: 'the S3 stand-in (s3rver)', stop: () => s3.stop() }, { what: 'the Kubernetes stand-in', stop: () => kube.stop() },
      { what: 'the Snowflake stand-in', stop: () => snow.stop() }, { what: 'the GitHub stand-in', stop: () => github.stop() });

    const env: Record<string, string> = {
      AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3rverCredentials.secretAccessKey,
      AWS_REGION: 'us-east-1', MODELSHIP_S3_ENDPOINT: s3.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      MODELSHIP_KUBE_SERVER: kube.url, MODELSHIP_KUBE_TOKEN: kube.token!,
      SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password,
      MODELSHIP_SNOWFLAKE_URL: snow.url,
      GITHUB_TOKEN: token, GITHUB_API_URL: github.url, GITHUB_REPOSITORY: `${owner}/${repoName}`,
    };
    await seedRegistry(env);
    return {
      dir, repo, origin, env, github, kube, snow, app,
      async startServe(args = [], extraEnv = {}) {
        mkdirSync(join(dir, 'serve'), { recursive: true });
        // The service's environment: the stand-ins' addresses and credentials, without the ML
        // engineer's GitHub token (serve speaks to GitHub as its App only).
        const serveEnv: NodeJS.ProcessEnv = { FORCE_COLOR: '0' };
        for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|GITHUB_|GH_|MODELSHIP_|SNOWFLAKE_)/.test(k)) serveEnv[k] = v;
        for (const [k, v] of Object.entries(env)) if (!/^GITHUB_/.test(k)) serveEnv[k] = v;
        Object.assign(serveEnv, extraEnv);
        const serve = await startServe({ app, githubUrl: github.url, dir: join(dir, 'serve'), env: serveEnv, args, logFile: join(dir, 'serve/serve.log'), shownFrom: dir });
        stops.push({ what: 'modelship serve', stop: () => serve.stop() }); // stopped first (close() runs the stops in reverse)
        return serve;
      },
      git: (...args) => git(repo, ...args),
      gitIn: (cwd, ...args) => git(cwd, ...args),
      gitAt: (at, ...args) => gitIn(repo, { GIT_AUTHOR_DATE: at, GIT_COMMITTER_DATE: at }, args),
      close: async () => {
        await close();
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Removes the demo's folder (the caller keeps it with --keep). */
export function removeWorld(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function gitIn(cwd: string, extra: Record<string, string>, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', ...extra } });
}

/**
 * The registry holds the artifacts of the versions the example repository already pins (they
 * were registered before the story starts) and the dbt manifest the feature gate reads.
 */
async function seedRegistry(env: Record<string, string>): Promise<void> {
  const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: env.MODELSHIP_S3_ENDPOINT, forcePathStyle: true, region: env.AWS_REGION, requestChecksumCalculation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
  const puts: Array<Promise<unknown>> = [];
  for (const run of ['fraud-detector-run-8610', 'fraud-detector-run-8702', 'fraud-detector-run-8755', 'chargeback-risk-run-311', 'chargeback-risk-run-342']) {
    const dir = join(projectRoot, 'test/fixtures/runs', run);
    const meta = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as { model: string; artifact: { file: string; sha256: string } };
    const body = readFileSync(join(dir, meta.artifact.file));
    const key = `${meta.model}/${meta.artifact.sha256}/${meta.artifact.file}`;
    puts.push(client.send(new PutObjectCommand({ Bucket: 'acme-model-registry', Key: key, Body: body, ChecksumSHA256: Buffer.from(meta.artifact.sha256, 'hex').toString('base64') })));
  }
  puts.push(client.send(new PutObjectCommand({ Bucket: 'acme-dbt-artifacts', Key: 'prod/manifest.json', Body: readFileSync(join(projectRoot, 'test/fixtures/dbt/manifest-v12.json')) })));
  await Promise.all(puts);
  // The registration records register would have written for the example's manifests (they
  // predate records): the same function register calls, so the integrity gate accepts them.
  const { recordRegistration } = await import('../../src/registry/register.js');
  const { ArtifactStore } = await import('../../src/adapters/s3/store.js');
  const store = new ArtifactStore(client);
  for (const model of readdirSync(join(projectRoot, 'models'))) {
    const card = parse(readFileSync(join(projectRoot, 'models', model, 'model.yaml'), 'utf8')) as { registry: string };
    for (const f of readdirSync(join(projectRoot, 'models', model, 'versions')).filter((n) => n.endsWith('.yaml'))) {
      await recordRegistration(store, card.registry, model, f.slice(0, -5), readFileSync(join(projectRoot, 'models', model, 'versions', f)));
    }
  }
  client.destroy();
}

/**
 * The warehouse tables the story reads: the canary check's ANALYTICS.DECISIONS.AUTHORISATIONS, the
 * prediction log the shadow gate joins (ANALYTICS.INFERENCE.PREDICTION_LOG), and
 * the models' scoring logs (serving.batch.target), which the checker's drift gate aggregates. The
 * logs start empty: the demo scores nothing, so drift compares with the live version's training
 * data and the report says "no serving rows".
 */
async function warehouseTables(conn: import('@duckdb/node-api').DuckDBConnection): Promise<void> {
  await conn.run("ATTACH ':memory:' AS ANALYTICS");
  // production's prediction log (environments/production.yaml inferenceLog), in the documented
  // schema plus the REGION column the shadow gate's slice names; empty until the shadow runs
  const { createPredictionLog } = await import('../sandbox/snowflake/prediction-log.js');
  await createPredictionLog(conn, 'ANALYTICS.INFERENCE.PREDICTION_LOG', ['REGION']);
  await conn.run('CREATE SCHEMA ANALYTICS.DECISIONS');
  await conn.run('CREATE TABLE ANALYTICS.DECISIONS.AUTHORISATIONS (ts TIMESTAMPTZ, model VARCHAR, version VARCHAR, decision VARCHAR)');
  await conn.run('CREATE SCHEMA ANALYTICS.SCORES');
  await conn.run(`CREATE TABLE ANALYTICS.SCORES.FRAUD_SCORES (SCORED_AT TIMESTAMPTZ, MODEL_VERSION VARCHAR, TXN_AMOUNT DOUBLE, MERCHANT_CATEGORY VARCHAR,
    CARD_AGE_DAYS BIGINT, TXN_COUNT_1H BIGINT, AMOUNT_ZSCORE_30D DOUBLE, IS_CARD_PRESENT BOOLEAN, FRAUD_SCORE DOUBLE)`);
  await conn.run(`CREATE TABLE ANALYTICS.SCORES.CHARGEBACK_SCORES (SCORED_AT TIMESTAMPTZ, MODEL_VERSION VARCHAR, TXN_AMOUNT DOUBLE,
    MERCHANT_DISPUTE_RATE_90D DOUBLE, CUSTOMER_TENURE_DAYS BIGINT, IS_CROSS_BORDER BOOLEAN, CHARGEBACK_PROBABILITY DOUBLE)`);
}

/**
 * No Prometheus runs in the demo: its copy of the production policy keeps the canary guardrails
 * the warehouse measures (the decline-rate ratio, in DuckDB) and drops the PromQL ones.
 */
function withoutPrometheus(file: string): void {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const checks = doc.getIn(['canary', 'checks']) as YAMLSeq<YAMLMap>;
  checks.items = checks.items.filter((c) => c.get('source') !== 'prometheus');
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
}

/**
 * The checker (modelship serve) judges at the real time, as it does in production, while the git
 * history runs on the story's clock: the demo's copy of the production policy has no freeze
 * windows, so a real month-end close does not stop the story on the day someone runs it.
 */
function withoutFreezes(file: string): void {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.delete('freeze');
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
}

export function versionOf(repo: string, env: string, model: string): string {
  const doc = parse(readFileSync(join(repo, 'environments', `${env}.yaml`), 'utf8')) as { models: Record<string, { version: string }> };
  return doc.models[model]!.version;
}
