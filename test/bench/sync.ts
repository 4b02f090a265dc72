// Benchmark 5: `modelship sync` of generated repositories of 30, 150 and 600 models × 3
// environments (240, 1,200 and 4,800 managed objects) against the loopback Kubernetes and
// Snowflake stand-ins (the real @kubernetes/client-node and snowflake-sdk). At each size: the first
// sync from empty (wall time and peak RSS) and cold no-op syncs, each size with its references
// (`validate --rev HEAD` of that repository, `node -e ''`) measured in the same rounds, and the
// growth per object from one size to the next. At 30 models, cold CLI runs also measure (1) a no-op sync of all
// three environments: wall time, requests per managed object (Kubernetes requests + Snowflake
// statements, from the stand-ins' logs), zero writes; (2) a one-model change in production: only
// that model's objects are written; (3) merge-to-converged: the agent's time from start to
// "converged" for that change. References measured in the same rounds: `node -e ''` and
// `validate --rev HEAD` on the same repository.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { startKubernetesStandIn, type KubeRequest, type KubernetesStandIn } from '../../tools/sandbox/kubernetes/server.js';
import { snowflakeStandInCredentials, startSnowflakeStandIn, type SnowflakeStandIn } from '../../tools/sandbox/snowflake/server.js';
import { generateRepo, modelName, type RepoShape } from './generate-repo.js';
import { childEnv, measure, median, peakRssMethod, type Measured } from './measure.js';
import { ms, ratio, type Row } from './table.js';
import { freePort } from '../helpers/ports.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
/** What a sync loads besides its own code: the two clients it talks to the targets with. */
const libraryImports = "await import('@kubernetes/client-node'); await import('snowflake-sdk')";
const runs = 5;
const targets = { noopMs: 1000, requestsPerObject: 2, convergedMs: 5000, firstSyncMs: 10_000, firstSyncBytes: 300e6 };
/** The larger sizes (models), measured after the 30 of `shape`; the first-sync targets are the largest's. */
const largerSizes = [{ models: 150, rounds: 5 }, { models: 600, rounds: 3 }];
/** How long after a spec change the stand-in's toy KServe controller writes status. */
const controllerDelayMs = 0;
const watchIterations = 5;
const watchIntervalMs = 1000;

export const shape: RepoShape = { models: 30, versions: 4, environments: ['staging', 'production', 'eu-production'] };
/** One stand-in plays every cluster; eu-production (a copy of production) gets its own namespace there. */
export const namespaces: Record<string, string> = { staging: 'ml-staging', production: 'ml-serving', 'eu-production': 'ml-serving-eu' };
/** The models whose production pin each change round moves one version up. */
const changed = Array.from({ length: runs }, (_, i) => modelName(3 * i + 4, shape.models));

/**
 * Every measured run is cold: sync, like validate and check, keeps what it validated in
 * <git dir>/modelship/validate-cache, so the cache a run (or a reference) left is removed first.
 */
function measureCold(dir: string, args: string[], options: Parameters<typeof measure>[2]): ReturnType<typeof measure> {
  rmSync(join(dir, '.git', 'modelship', 'validate-cache'), { force: true });
  return measure(process.execPath, args, options);
}

const managedBy = 'app.kubernetes.io/managed-by';
const modelLabel = 'modelship.io/model';
const isWrite = (sql: string) => !/^\s*(SHOW|SELECT)\b/i.test(sql);
/** The statements one request carried: an anonymous block's (how sync puts a task in place), else the request's own. */
const statementsOf = (sql: string): string[] => {
  const block = /^BEGIN\n([\s\S]*);\nEND;$/.exec(sql);
  return block ? block[1]!.split(/;\n(?=  \S)/).map((x) => x.replace(/^  /gm, '')) : [sql];
};
const isLease = (r: KubeRequest) => r.path.includes('/leases');

interface Counts { kube: number; kubeWrites: KubeRequest[]; statements: number; sqlWrites: string[]; sqlWriteRequests: number; logins: number }

/** The generated repository of the sync benchmarks: each environment in a namespace of its own. */
export function generateSyncRepo(dir: string, of: RepoShape = shape): void {
  generateRepo(dir, of);
  for (const env of of.environments) {
    const file = join(dir, 'environments', `${env}.yaml`);
    const doc = parseDocument(readFileSync(file, 'utf8'));
    if (doc.getIn(['kubernetes', 'namespace']) !== namespaces[env]) doc.setIn(['kubernetes', 'namespace'], namespaces[env]);
    writeFileSync(file, doc.toString({ lineWidth: 0 }));
  }
}

export async function syncBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'modelship-bench-sync-'));
  const dir = join(work, 'repo');
  let kube: KubernetesStandIn | undefined;
  let snow: SnowflakeStandIn | undefined;
  try {
    options.log(`sync: generating ${shape.models} models × ${shape.versions} versions × ${shape.environments.length} environments`);
    generateSyncRepo(dir);
    const git = gitIn(dir);
    git('init', '-q');
    git('add', '-A');
    git('commit', '-q', '-m', 'generated release repository');
    git('gc', '-q');
    const plainEnv = childEnv();
    expectOk('validate', await measure(process.execPath, [cli, 'validate', '-C', dir], { env: plainEnv }));

    kube = await startKubernetesStandIn({ namespaces: Object.values(namespaces), controller: { delayMs: controllerDelayMs } });
    snow = await startSnowflakeStandIn();
    const env = childEnv({
      MODELSHIP_KUBE_SERVER: kube.url, MODELSHIP_KUBE_TOKEN: kube.token!,
      SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password,
      MODELSHIP_SNOWFLAKE_URL: snow.url,
    });
    const k = kube;
    const s = snow;
    const mark = () => ({ kube: k.requests.length, statements: s.queries.length, logins: s.logins.length });
    const since = (m: ReturnType<typeof mark>): Counts => ({
      kube: k.requests.length - m.kube,
      kubeWrites: k.requests.slice(m.kube).filter((r) => r.method !== 'GET'),
      statements: s.queries.length - m.statements,
      sqlWrites: s.queries.slice(m.statements).flatMap((q) => statementsOf(q.sqlText)).filter(isWrite),
      sqlWriteRequests: s.queries.slice(m.statements).filter((q) => isWrite(q.sqlText)).length,
      logins: s.logins.length - m.logins,
    });

    // Not held to a target: converge all three environments from empty.
    options.log('sync: initial sync of all environments (from empty)');
    let m = mark();
    const initial = expectOk('initial sync', await measureCold(dir, [cli, 'sync', '-C', dir], { env, peakRss: true }));
    const initialCounts = since(m);
    const objects = managedObjects(k, s);
    const total = Object.values(objects).reduce((a, b) => a + b.total, 0);
    options.log(`sync: initial sync converged in ${ms(initial.wallMs)}: ${total} managed objects (${Object.entries(objects).map(([e, o]) => `${e} ${o.total}`).join(', ')}), ${initialCounts.kubeWrites.length} Kubernetes writes, ${initialCounts.sqlWrites.length} Snowflake writes`);
    for (const e of shape.environments) if (!new RegExp(`^${e} at [0-9a-f]{12}: converged`, 'm').test(initial.stdout)) throw new Error(`the initial sync did not converge ${e}:\n${clip(initial.stdout)}`);

    // (1) no-op syncs, interleaved with the references.
    options.log(`sync: ${runs} cold rounds of no-op sync (all environments), validate --rev HEAD, node -e '', node importing the two client libraries`);
    const noop: Array<{ run: Measured; counts: Counts }> = [];
    const references: Array<{ validate: Measured; start: Measured; libraries: Measured }> = [];
    for (let i = 0; i < runs; i++) {
      m = mark();
      const run = expectOk('no-op sync', await measureCold(dir, [cli, 'sync', '-C', dir], { env }));
      noop.push({ run, counts: since(m) });
      for (const e of shape.environments) if (!new RegExp(`^${e} at [0-9a-f]{12}: no changes`, 'm').test(run.stdout)) throw new Error(`a no-op sync planned changes in ${e}:\n${clip(run.stdout)}`);
      references.push({
        validate: expectOk('validate --rev HEAD', await measureCold(dir, [cli, 'validate', '-C', dir, '--rev', 'HEAD'], { env: plainEnv })),
        start: expectOk("node -e ''", await measure(process.execPath, ['-e', ''], { env: plainEnv })),
        libraries: expectOk('import the client libraries', await measure(process.execPath, ['--input-type=module', '-e', libraryImports], { env: plainEnv, cwd: projectRoot })),
      });
    }

    // The same no-op in a running agent (`sync --watch`): the libraries are loaded once; each
    // iteration reads the repository at HEAD, plans and reads the targets again.
    options.log(`sync: ${watchIterations} warm no-op iterations of sync --watch --interval ${watchIntervalMs / 1000}s`);
    m = mark();
    const watch = await watchIterationsOf(dir, env, watchIterations);
    const watchCounts = since(m);

    // (2)+(3) one-model changes: each round promotes a different model one version in production
    // (a commit on main), then syncs production.
    const versions = versionsOf(dir, changed[0]!);
    options.log(`sync: ${runs} cold rounds of a one-model promotion in production + sync --env production (${changed.join(', ')})`);
    const change: Array<{ run: Measured; counts: Counts; model: string; written: string[]; others: string[]; record: SyncRecord }> = [];
    for (const [i, model] of changed.entries()) {
      const from = pin(dir, 'production', model);
      const to = versions[versions.indexOf(from) + 1];
      if (!to) throw new Error(`${model} in production is at ${from}, the newest version`);
      setPin(dir, 'production', model, to);
      git('commit', '-qam', `promote(production): ${model} ${from} → ${to}`);
      const before = snapshot(k, s, 'production');
      m = mark();
      const recordDir = join(work, `records-${i}`);
      const run = expectOk('one-model sync', await measureCold(dir, [cli, 'sync', '--env', 'production', '--record-dir', recordDir, '-C', dir], { env }));
      const counts = since(m);
      if (!/^production at [0-9a-f]{12}: converged/m.test(run.stdout)) throw new Error(`the one-model sync did not converge:\n${clip(run.stdout)}`);
      const after = snapshot(k, s, 'production');
      const touched = [...new Set([...before.keys(), ...after.keys()])].filter((key) => before.get(key)?.state !== after.get(key)?.state);
      const written = touched.filter((key) => (before.get(key) ?? after.get(key))!.model === model);
      const others = touched.filter((key) => (before.get(key) ?? after.get(key))!.model !== model);
      const commit = git('rev-parse', 'HEAD').trim();
      const record = JSON.parse(readFileSync(join(recordDir, 'production', `${commit}.json`), 'utf8')) as SyncRecord;
      change.push({ run, counts, model, written, others, record });
      options.log(`sync: ${model} ${from} → ${to}: ${ms(run.wallMs)}; objects written ${written.join(', ')}; other objects changed: ${others.length}; writes sent: ${describeWrites(counts)}`);
    }

    const noopWall = median(noop.map((x) => x.run.wallMs));
    const sizes: SizeFigures[] = [{
      models: shape.models, objects: total, firstMs: initial.wallMs, firstRss: initial.peakRssBytes ?? 0, firstWrites: initialCounts.kubeWrites.length + initialCounts.sqlWrites.length,
      firstWriteRequests: initialCounts.kubeWrites.length + initialCounts.sqlWriteRequests,
      noopMs: noopWall, noopRequests: median(noop.map((x) => x.counts.kube + x.counts.statements)), rounds: runs,
      validateMs: median(references.map((x) => x.validate.wallMs)), startMs: median(references.map((x) => x.start.wallMs)),
    }];
    await kube.stop();
    await snow.stop();
    kube = undefined;
    snow = undefined;
    for (const size of largerSizes) sizes.push(await measureSize(join(work, `size-${size.models}`), size.models, size.rounds, options.log));
    const validateWall = median(references.map((x) => x.validate.wallMs));
    const startWall = median(references.map((x) => x.start.wallMs));
    const librariesWall = median(references.map((x) => x.libraries.wallMs));
    const reference = `validate --rev HEAD ${ms(validateWall)}; node -e '' ${ms(startWall)}`;
    const perObject = noop.map((x) => (x.counts.kube + x.counts.statements) / total);
    const noopWrites = noop.map((x) => x.counts.kubeWrites.length + x.counts.sqlWrites.length);
    const last = noop[noop.length - 1]!.counts;
    const changeWall = median(change.map((x) => x.run.wallMs));
    const inProcess = median(change.map((x) => Date.parse(x.record.finishedAt) - Date.parse(x.record.startedAt)));
    const waited = median(change.map((x) => readinessWait(x.record)));
    const onlyThatModel = change.every((x) => x.others.length === 0 && x.written.length > 0);
    const objectsWritten = change.map((x) => x.written.length);
    const what = `${shape.models} models × ${shape.environments.length} environments, ${total} managed objects`;
    const ops = describeOps(change[0]!.record);
    const leaseWrites = median(change.map((x) => x.counts.kubeWrites.filter(isLease).length));
    const objectWrites = median(change.map((x) => x.counts.kubeWrites.filter((r) => !isLease(r)).length));
    const recordStatements = median(change.map((x) => x.counts.sqlWrites.filter((q) => /MODELSHIP_DEPLOYMENTS/i.test(q)).length));
    const taskStatements = median(change.map((x) => x.counts.sqlWrites.filter((q) => !/MODELSHIP_DEPLOYMENTS/i.test(q)).length));
    // What the stand-ins saw change and what the agent recorded writing must agree.
    for (const x of change) {
      if (x.record.objects.length !== x.written.length) throw new Error(`${x.model}: the record lists ${x.record.objects.length} objects written, the stand-ins show ${x.written.length} changed: ${x.written.join(', ')}`);
    }

    return [
      ...sizeRows(sizes),
      {
        figure: `no-op sync of all 3 environments (${what}), cold, median of ${runs}`,
        target: `< ${ms(targets.noopMs)}`,
        measured: ms(noopWall), reference: `${reference}; node importing @kubernetes/client-node + snowflake-sdk alone ${ms(librariesWall)}`,
        ratio: ratio(noopWall, validateWall),
        met: noopWall < targets.noopMs,
      },
      {
        figure: `no-op sync: requests per managed object (Kubernetes requests + Snowflake statements) / ${total}`,
        target: `< ${targets.requestsPerObject}, 0 writes`,
        measured: `${median(perObject).toFixed(3)} (${last.kube} Kubernetes requests + ${last.statements} Snowflake statements, ${last.logins} Snowflake logins); writes ${Math.max(...noopWrites)}`,
        reference: `${total} objects: ${Object.entries(objects).map(([e, o]) => `${e} ${o.describe}`).join('; ')}`,
        ratio: 'n/a',
        met: Math.max(...perObject) < targets.requestsPerObject && noopWrites.every((w) => w === 0),
      },
      {
        figure: `no-op iteration of a running agent (sync --watch, all 3 environments), warm, median of ${watch.deltas.length}`,
        target: 'informational',
        measured: `${ms(median(watch.deltas))}; ${((watchCounts.kube + watchCounts.statements) / watch.iterations / total).toFixed(3)} requests per object per iteration; writes ${watchCounts.kubeWrites.length + watchCounts.sqlWrites.length}`,
        reference: `cold no-op sync ${ms(noopWall)}`,
        ratio: ratio(median(watch.deltas), noopWall),
      },
      {
        figure: `one-model promotion in production, sync --env production: objects written, ${runs} runs`,
        target: "only that model's objects",
        measured: `${onlyThatModel ? 'only that model\'s' : 'OTHER MODELS\' TOO'}: ${Math.min(...objectsWritten) === Math.max(...objectsWritten) ? objectsWritten[0] : objectsWritten.join('/')} of ${objects.production!.total} objects (${ops}); other models' objects changed: ${change.reduce((a, x) => a + x.others.length, 0)}`,
        reference: `writes sent: Kubernetes ${objectWrites} to objects + ${leaseWrites} to the Lease; Snowflake ${taskStatements} task statements (suspend, create or alter, resume) + ${recordStatements} to MODELSHIP_DEPLOYMENTS (create if missing, insert)`,
        ratio: 'n/a',
        met: onlyThatModel,
      },
      {
        figure: `one-model promotion, merge-to-converged: cold sync --env production from spawn to exit with "converged", median of ${runs}`,
        target: `< ${ms(targets.convergedMs)}`,
        measured: `${ms(changeWall)} (apply phase: re-plan under the lease, writes, readiness ${ms(inProcess)}, of which waiting for ready ${ms(waited)}; controller delay ${controllerDelayMs} ms)`,
        reference, ratio: ratio(changeWall, validateWall),
        met: changeWall < targets.convergedMs,
      },
    ];
  } finally {
    await kube?.stop();
    await snow?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

export function syncNotes(): string[] {
  return [
    `sync: generated ${[shape.models, ...largerSizes.map((s) => s.models)].join(', ')} models × ${shape.versions} versions × ${shape.environments.length} environments (each size its own repository and fresh stand-ins; staging serverless: InferenceService + task per model; production and eu-production raw with a gateway: InferenceService + HTTPRoute + task per model), committed; the loopback Kubernetes stand-in (toy KServe controller, status ${controllerDelayMs} ms after a spec change) plays every cluster, so eu-production's namespace is moved to ml-serving-eu; the Snowflake stand-in answers the tasks and MODELSHIP_DEPLOYMENTS. At each size the first sync from empty is timed with its peak RSS (${peakRssMethod}), then cold no-op syncs interleaved with the references; growth rows divide time per object at one size by the size before. At 30 models: readiness waits poll the stand-in (first check at once, then after 100 ms, doubling). Cold CLI runs, each without the validate cache (which sync reads too: removed before every measured sync and validate); ratio vs validate --rev HEAD on the same repository. Requests are counted from the stand-ins' logs (every HTTP request to the Kubernetes stand-in, including discovery; every statement sent to Snowflake; logins shown separately). "Objects written" compares every managed object in production (its resourceVersion and status, a task's definition/state/comment) before and after each sync; each round promotes a different model one version.`,
  ];
}

/**
 * Runs `sync --watch` until it has finished `n` + 1 iterations and returns each later iteration's
 * time: the gap between consecutive iterations' end (/state lastRunAt) minus the interval (the
 * loop sleeps in 250 ms ticks, so a few ms of timer slop remain in each figure).
 */
async function watchIterationsOf(dir: string, env: NodeJS.ProcessEnv, n: number): Promise<{ deltas: number[]; iterations: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'sync', '--watch', '--interval', `${watchIntervalMs / 1000}s`, '--listen', `127.0.0.1:${port}`, '-C', dir], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  try {
    const ends: number[] = [];
    let iterations = 0;
    const deadline = Date.now() + 60_000;
    while (ends.length < n + 1) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`sync --watch did not run ${n + 1} iterations: ${clip(stderr)}`);
      try {
        const state = (await (await fetch(`http://127.0.0.1:${port}/state`)).json()) as { iterations: number; lastRunAt?: string; lastError?: string; environments?: Record<string, { converged: boolean; writes: number }> };
        if (state.lastError) throw new Error(`sync --watch: ${state.lastError}`);
        if (state.lastRunAt && state.iterations > iterations) {
          if (state.iterations !== iterations + 1 && iterations > 0) throw new Error('missed an iteration of sync --watch; poll faster');
          if (!Object.values(state.environments ?? {}).every((e) => e.converged && e.writes === 0)) throw new Error(`a watch iteration was not a no-op: ${JSON.stringify(state.environments)}`);
          iterations = state.iterations;
          ends.push(Date.parse(state.lastRunAt));
        }
      } catch (e) {
        if (!(e instanceof TypeError)) throw e; // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { deltas: ends.slice(1).map((t, i) => t - ends[i]! - watchIntervalMs), iterations };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}


interface SyncRecord { startedAt: string; finishedAt: string; objects: Array<{ key: string; target: string; op: string; appliedAt?: string; readyAt?: string }> }

/** The longest apply → ready span of the Kubernetes objects one sync wrote, summed over its waits (services, then routes). */
function readinessWait(record: SyncRecord): number {
  let total = 0;
  for (const kind of ['InferenceService/', 'HTTPRoute/']) {
    const spans = record.objects.filter((o) => o.key.startsWith(kind) && o.appliedAt && o.readyAt).map((o) => Date.parse(o.readyAt!) - Date.parse(o.appliedAt!));
    if (spans.length) total += Math.max(...spans);
  }
  return total;
}

/** Managed objects per environment, from what the stand-ins hold. */
export function managedObjects(kube: KubernetesStandIn, snow: SnowflakeStandIn, of: RepoShape = shape): Record<string, { total: number; describe: string }> {
  const out: Record<string, { total: number; describe: string }> = {};
  for (const env of of.environments) {
    const held = snapshot(kube, snow, env);
    const by = new Map<string, number>();
    for (const key of held.keys()) by.set(key.split('/')[0]!, (by.get(key.split('/')[0]!) ?? 0) + 1);
    out[env] = { total: held.size, describe: [...by].map(([kind, n]) => `${n} ${kind}`).join(' + ') };
  }
  return out;
}

/** Every managed object of `env`: key → its model and a fingerprint of what was written to it. */
export function snapshot(kube: KubernetesStandIn, snow: SnowflakeStandIn, env: string): Map<string, { model: string; state: string }> {
  const out = new Map<string, { model: string; state: string }>();
  for (const [apiVersion, kind] of [['serving.kserve.io/v1beta1', 'InferenceService'], ['gateway.networking.k8s.io/v1', 'HTTPRoute']] as const) {
    for (const o of kube.list(apiVersion, kind, namespaces[env])) {
      if (o.metadata?.labels?.[managedBy] !== 'modelship') continue;
      out.set(`${kind}/${o.metadata.name}`, { model: o.metadata.labels[modelLabel], state: JSON.stringify([o.metadata.resourceVersion, o.spec, o.status]) });
    }
  }
  for (const task of snow.tasks.tasks.values()) {
    let comment: { managedBy?: string; environment?: string; model?: string } = {};
    try { comment = JSON.parse(task.comment ?? '{}'); } catch { /* not modelship's */ }
    if (comment.managedBy !== 'modelship' || comment.environment !== env) continue;
    out.set(`task/${task.database}.${task.schema}.${task.name}`, { model: comment.model ?? '', state: JSON.stringify(task) });
  }
  return out;
}

/** "InferenceService create + HTTPRoute update + …" from the record of one sync. */
function describeOps(record: SyncRecord): string {
  return record.objects.map((o) => `${o.target === 'snowflake' ? 'task' : o.key.split('/')[0]} ${o.op}`).join(' + ');
}

function describeWrites(c: Counts): string {
  const kube = c.kubeWrites.map((r) => `${r.method} ${r.path.replace(/^.*\/namespaces\/[^/]+\//, '')}`);
  const sql = c.sqlWrites.map((q) => q.split('\n')[0]!.replace(/\s+/g, ' ').slice(0, 60));
  return [...kube, ...sql].join('; ');
}

export function versionsOf(dir: string, model: string): string[] {
  const r = spawnSync('git', ['ls-files', `models/${model}/versions`], { cwd: dir, encoding: 'utf8' });
  return r.stdout.trim().split('\n').map((f) => f.replace(/^.*\//, '').replace(/\.yaml$/, '')).sort();
}

export function pin(dir: string, env: string, model: string): string {
  return String(parseDocument(readFileSync(join(dir, 'environments', `${env}.yaml`), 'utf8')).getIn(['models', model, 'version']));
}

export function setPin(dir: string, env: string, model: string, version: string): void {
  const file = join(dir, 'environments', `${env}.yaml`);
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['models', model, 'version'], version);
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
}

export function gitIn(dir: string): (...args: string[]) => string {
  return (...args) => {
    const r = spawnSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
}

function expectOk(what: string, m: Measured): Measured {
  if (m.code !== 0) throw new Error(`${what} exited ${m.code}:\n${clip(m.stdout + m.stderr)}`);
  return m;
}

function clip(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines.length > 40 ? [...lines.slice(0, 40), `... (${lines.length - 40} more lines)`].join('\n') : lines.join('\n');
}

/** What one size measured: the first sync from empty and the no-op syncs, with their references. */
interface SizeFigures {
  models: number;
  objects: number;
  firstMs: number;
  firstRss: number;
  /** Kubernetes requests that write + Snowflake statements that write */
  firstWrites: number;
  /** the requests those writes took (a Snowflake request may carry several statements: an anonymous block) */
  firstWriteRequests: number;
  /** medians of `rounds` */
  noopMs: number;
  noopRequests: number;
  rounds: number;
  validateMs: number;
  startMs: number;
}

/**
 * One size on its own repository and fresh stand-ins: the first sync from empty (wall time, peak
 * RSS), then `rounds` cold no-op syncs, each round with `validate --rev HEAD` of the same
 * repository and `node -e ''`.
 */
async function measureSize(work: string, models: number, rounds: number, log: (s: string) => void): Promise<SizeFigures> {
  const of: RepoShape = { ...shape, models };
  const dir = join(work, 'repo');
  log(`sync: generating ${models} models × ${of.versions} versions × ${of.environments.length} environments`);
  generateSyncRepo(dir, of);
  const git = gitIn(dir);
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'generated release repository');
  git('gc', '-q');
  const kube = await startKubernetesStandIn({ namespaces: Object.values(namespaces), controller: { delayMs: controllerDelayMs } });
  const snow = await startSnowflakeStandIn();
  try {
    const plainEnv = childEnv();
    const env = childEnv({
      MODELSHIP_KUBE_SERVER: kube.url, MODELSHIP_KUBE_TOKEN: kube.token!,
      SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: snowflakeStandInCredentials.username, SNOWFLAKE_PASSWORD: snowflakeStandInCredentials.password,
      MODELSHIP_SNOWFLAKE_URL: snow.url,
    });
    log(`sync: first sync of ${models} models (from empty)`);
    const first = expectOk('initial sync', await measureCold(dir, [cli, 'sync', '-C', dir], { env, peakRss: true }));
    for (const e of of.environments) if (!new RegExp(`^${e} at [0-9a-f]{12}: converged`, 'm').test(first.stdout)) throw new Error(`the initial sync did not converge ${e}:\n${clip(first.stdout)}`);
    const objects = Object.values(managedObjects(kube, snow, of)).reduce((a, b) => a + b.total, 0);
    const firstWrites = kube.requests.filter((r) => r.method !== 'GET').length + snow.queries.flatMap((q) => statementsOf(q.sqlText)).filter(isWrite).length;
    const firstWriteRequests = kube.requests.filter((r) => r.method !== 'GET').length + snow.queries.filter((q) => isWrite(q.sqlText)).length;
    log(`sync: ${objects} objects converged in ${ms(first.wallMs)}, peak RSS ${mb(first.peakRssBytes ?? 0)}; ${rounds} rounds of no-op sync, validate --rev HEAD, node -e ''`);
    const samples = [];
    for (let i = 0; i < rounds; i++) {
      const before = kube.requests.length + snow.queries.length;
      const noop = expectOk('no-op sync', await measureCold(dir, [cli, 'sync', '-C', dir], { env }));
      for (const e of of.environments) if (!new RegExp(`^${e} at [0-9a-f]{12}: no changes`, 'm').test(noop.stdout)) throw new Error(`a no-op sync planned changes in ${e}:\n${clip(noop.stdout)}`);
      const requests = kube.requests.length + snow.queries.length - before;
      samples.push({
        noop: noop.wallMs, requests,
        validate: expectOk('validate --rev HEAD', await measureCold(dir, [cli, 'validate', '-C', dir, '--rev', 'HEAD'], { env: plainEnv })).wallMs,
        start: expectOk("node -e ''", await measure(process.execPath, ['-e', ''], { env: plainEnv })).wallMs,
      });
    }
    return {
      models, objects, firstMs: first.wallMs, firstRss: first.peakRssBytes ?? 0, firstWrites, firstWriteRequests, rounds,
      noopMs: median(samples.map((x) => x.noop)), noopRequests: median(samples.map((x) => x.requests)),
      validateMs: median(samples.map((x) => x.validate)), startMs: median(samples.map((x) => x.start)),
    };
  } finally {
    await kube.stop();
    await snow.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Per size: the first sync (the largest held to the targets) and the no-op sync; between sizes: growth per object. */
function sizeRows(sizes: SizeFigures[]): Row[] {
  const rows: Row[] = [];
  const largest = sizes[sizes.length - 1]!;
  const n = (x: number) => x.toLocaleString('en-US');
  const refOf = (s: SizeFigures) => `validate --rev HEAD ${ms(s.validateMs)}; node -e '' ${ms(s.startMs)}`;
  for (const s of sizes) {
    const held = s === largest;
    rows.push({
      figure: `first sync from empty, ${s.models} models × ${shape.environments.length} environments (${n(s.objects)} managed objects), cold, one run`,
      target: held ? `< ${ms(targets.firstSyncMs)}, < ${mb(targets.firstSyncBytes)}` : 'informational',
      measured: `${ms(s.firstMs)}, peak RSS ${mb(s.firstRss)}; ${n(s.firstWrites)} writes (Kubernetes requests + Snowflake statements) in ${n(s.firstWriteRequests)} requests`,
      reference: refOf(s), ratio: ratio(s.firstMs, s.validateMs),
      ...(held ? { met: s.firstMs < targets.firstSyncMs && s.firstRss < targets.firstSyncBytes } : {}),
    });
  }
  for (const s of sizes.slice(1)) {
    rows.push({
      figure: `no-op sync of all 3 environments, ${s.models} models (${n(s.objects)} managed objects), cold, median of ${s.rounds}`,
      target: 'informational',
      measured: `${ms(s.noopMs)}; ${s.noopRequests} requests (${(s.noopRequests / s.objects).toFixed(3)} per object)`,
      reference: refOf(s), ratio: ratio(s.noopMs, s.validateMs),
    });
  }
  for (const [i, s] of sizes.slice(1).entries()) {
    const p = sizes[i]!;
    const per = (x: number, o: number) => `${(x / o).toFixed(2)} ms`;
    rows.push({
      figure: `growth per object ${n(p.objects)} → ${n(s.objects)} objects (${p.models} → ${s.models} models): first sync (time, peak RSS) and no-op sync`,
      target: 'informational',
      measured: `first sync ${per(p.firstMs, p.objects)} → ${per(s.firstMs, s.objects)} per object; peak RSS ${mb(p.firstRss)} → ${mb(s.firstRss)}; no-op ${per(p.noopMs, p.objects)} → ${per(s.noopMs, s.objects)} per object (${ratio(s.noopMs / s.objects, p.noopMs / p.objects)})`,
      reference: `validate --rev HEAD ${ms(p.validateMs)} → ${ms(s.validateMs)} (${ratio(s.validateMs / s.objects, p.validateMs / p.objects)} per object)`,
      ratio: ratio(s.firstMs / s.objects, p.firstMs / p.objects),
    });
  }
  return rows;
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 1e6)} MB`;
}
