// Checks that span files, or fields a schema cannot relate: names match their folders, pins
// point at registered versions, canaries differ from the stable version, every environment has
// a policy, serving settings agree with what the model and environment provide. Pure: takes a
// loaded repository, returns problems.

import { createRequire } from 'node:module';
import type { Problem } from '../errors.js';
import type { Loaded, LoadedRepository } from './load.js';
import { formatPath } from './schema.js';
import type { Environment, Histogram, Policy, VersionManifest } from './types.js';
import type { PathSegment } from './yaml.js';
import { checkRepositoryPolicy } from './repository.js';

const modelNamePattern = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$/;
const versionPattern = /^(?!.*\.\.)[0-9A-Za-z](?:[0-9A-Za-z._-]{0,61}[0-9A-Za-z])?$/;
const environmentPattern = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,29}$/;

/** Every cross-file problem in a loaded repository. */
export function checkRepository(repo: LoadedRepository): Problem[] {
  return [
    ...checkNames(repo),
    ...checkModels(repo),
    ...checkVersions(repo),
    ...checkEnvironments(repo),
    ...checkSharedTargets(repo),
    ...checkPolicies(repo),
    ...checkRepositoryPolicy(repo),
  ];
}

function at(loaded: Loaded<unknown>, path: PathSegment[], message: string, extra: { expected?: string; found?: string; key?: boolean; severity?: 'warning' } = {}): Problem {
  const pos = loaded.parsed.locate(path, extra.key);
  const p: Problem = { file: loaded.file, ...pos, path: formatPath(path), message, severity: extra.severity ?? 'error' };
  if (extra.expected !== undefined) p.expected = extra.expected;
  if (extra.found !== undefined) p.found = extra.found;
  return p;
}

function fileLevel(file: string, message: string, expected?: string, found?: string): Problem {
  const p: Problem = { file, line: 0, col: 0, path: '', message, severity: 'error' };
  if (expected) p.expected = expected;
  if (found) p.found = found;
  return p;
}

function checkNames(repo: LoadedRepository): Problem[] {
  const problems: Problem[] = [];
  // Folder and file names become Kubernetes names, Snowflake identifiers and S3 keys: the
  // content's own name is checked by the schema, the path's here (it cannot be, say, `../etc`).
  for (const [model, versions] of repo.versionFiles) {
    if (!modelNamePattern.test(model)) {
      problems.push(fileLevel(`models/${model}`, `folder name ${JSON.stringify(model)} is not a valid model name`,
        'lower-case letters, digits and single hyphens, starting with a letter, at most 40 characters', JSON.stringify(model)));
    }
    for (const v of versions) {
      if (!versionPattern.test(v)) {
        problems.push(fileLevel(`models/${model}/versions/${v}.yaml`, `file name ${JSON.stringify(v)} is not a valid version`,
          "letters, digits, '.', '_', '-', starting and ending with a letter or digit, no '..'", JSON.stringify(v)));
      }
    }
    if (!repo.present.has(`models/${model}/model.yaml`) && modelNamePattern.test(model)) {
      const first = [...versions][0];
      problems.push(fileLevel(`models/${model}/versions/${first}.yaml`, `versions of "${model}" exist but models/${model}/model.yaml does not`,
        `models/${model}/model.yaml`, 'no such file'));
    }
  }
  for (const [name, m] of repo.models) {
    if (m.data.name !== name) problems.push(at(m, ['name'], `name must equal the folder name "${name}"`, { expected: JSON.stringify(name), found: JSON.stringify(m.data.name) }));
  }
  for (const [name, e] of repo.environments) {
    if (e.data.name !== name) problems.push(at(e, ['name'], `name must equal the file name "${name}"`, { expected: JSON.stringify(name), found: JSON.stringify(e.data.name) }));
    if (!environmentPattern.test(name)) problems.push(fileLevel(e.file, `file name ${JSON.stringify(name)} is not a valid environment name`, 'lower-case letters, digits and single hyphens', JSON.stringify(name)));
  }
  for (const [name, p] of repo.policies) {
    if (p.data.environment !== name) problems.push(at(p, ['environment'], `environment must equal the file name "${name}"`, { expected: JSON.stringify(name), found: JSON.stringify(p.data.environment) }));
  }
  return problems;
}

function checkModels(repo: LoadedRepository): Problem[] {
  const problems: Problem[] = [];
  for (const m of repo.models.values()) {
    problems.push(...duplicates(m, m.data.features.map((f) => f.name), 'features', 'feature'));
    problems.push(...duplicates(m, m.data.output.map((f) => f.name), 'output', 'output column'));
    m.data.features.forEach((f, i) => {
      if (f.range?.min !== undefined && f.range.max !== undefined && f.range.min > f.range.max) {
        problems.push(at(m, ['features', i, 'range'], `range.min (${f.range.min}) is greater than range.max (${f.range.max})`));
      }
      if (f.categories && f.type !== 'string') {
        problems.push(at(m, ['features', i, 'categories'], `categories apply to string features only; this feature is ${f.type}`, { expected: 'type string', found: f.type }));
      }
      if (f.range && !['integer', 'long', 'float', 'double'].includes(f.type)) {
        problems.push(at(m, ['features', i, 'range'], `range applies to numeric features only; this feature is ${f.type}`));
      }
    });
  }
  return problems;
}

function duplicates(loaded: Loaded<unknown>, names: string[], field: string, what: string): Problem[] {
  const seen = new Map<string, number>();
  const out: Problem[] = [];
  names.forEach((n, i) => {
    const first = seen.get(n);
    if (first !== undefined) out.push(at(loaded, [field, i, 'name'], `${what} "${n}" is listed twice (first as ${field}[${first}])`));
    else seen.set(n, i);
  });
  return out;
}

function checkVersions(repo: LoadedRepository): Problem[] {
  // Versions checked as they were loaded (and not kept) come first, then the ones kept.
  const problems: Problem[] = [...repo.versionProblems];
  for (const [model, versions] of repo.versions) {
    for (const [version, v] of versions) problems.push(...checkVersion(repo, model, version, v));
  }
  return problems;
}

/** The checks of one version manifest against its folder, file name and model card (the card must be loaded). */
export function checkVersion(repo: LoadedRepository, model: string, version: string, v: Loaded<VersionManifest>): Problem[] {
  const problems: Problem[] = [];
  const card = repo.models.get(model)?.data;
  const m = v.data;
  if (m.model !== model) problems.push(at(v, ['model'], `model must equal the folder name "${model}"`, { expected: JSON.stringify(model), found: JSON.stringify(m.model) }));
  if (m.version !== version) problems.push(at(v, ['version'], `version must equal the file name "${version}"`, { expected: JSON.stringify(version), found: JSON.stringify(m.version) }));
  if (card) {
    const prefix = `${card.registry.replace(/\/+$/, '')}/${model}/${m.artifact.sha256}/`;
    if (!m.artifact.uri.startsWith(prefix) || m.artifact.uri.length === prefix.length || m.artifact.uri.slice(prefix.length).includes('/')) {
      problems.push(at(v, ['artifact', 'uri'], 'the artifact must live at its content address in the model\'s registry',
        { expected: `${prefix}<file>`, found: JSON.stringify(m.artifact.uri) }));
    }
    if (card.serving.online && !m.image) {
      problems.push(at(v, [], `${model} is served online, so the version must pin its model-server image by digest (key "image")`, { expected: 'key "image"', found: 'nothing' }));
    }
    if (card.serving.online && m.image && !m.image.startsWith(`${card.serving.online.image}@`)) {
      problems.push(at(v, ['image'], `the image is not from the model's model-server repository`,
        { expected: `${card.serving.online.image}@sha256:...`, found: JSON.stringify(m.image), severity: 'warning' }));
    }
  }
  problems.push(...duplicates(v, m.inputSchema.map((c) => c.name), 'inputSchema', 'column'));
  for (const [name, h] of Object.entries(m.histograms ?? {})) problems.push(...histogramProblems(v, ['histograms', name], h));
  if (m.scoreHistogram) problems.push(...histogramProblems(v, ['scoreHistogram'], m.scoreHistogram));
  return problems;
}

function histogramProblems(v: Loaded<unknown>, path: PathSegment[], h: Histogram): Problem[] {
  if (h.kind !== 'numeric') return [];
  const out: Problem[] = [];
  if (h.edges.length !== h.counts.length + 1) {
    out.push(at(v, [...path, 'edges'], `a numeric histogram needs one more edge than counts`,
      { expected: `${h.counts.length + 1} edges for ${h.counts.length} counts`, found: `${h.edges.length} edges` }));
  }
  for (let i = 1; i < h.edges.length; i++) {
    if (!(h.edges[i]! > h.edges[i - 1]!)) {
      out.push(at(v, [...path, 'edges', i], 'histogram edges must increase', { expected: `a number > ${h.edges[i - 1]}`, found: String(h.edges[i]) }));
      break;
    }
  }
  return out;
}

function checkEnvironments(repo: LoadedRepository): Problem[] {
  const problems: Problem[] = [];
  // An environment file with schema errors still gets its pins checked, so a typo elsewhere in
  // the file does not hide a pin to a version that does not exist.
  for (const [file, parsed] of repo.unvalidated) {
    const m = /^environments\/(.+)\.yaml$/.exec(file);
    const models = m && isRecord(parsed.data) && isRecord(parsed.data.models) ? parsed.data.models : undefined;
    for (const [model, d] of Object.entries(models ?? {})) {
      if (!isRecord(d) || !repo.versionFiles.has(model)) continue;
      const loaded = { file, data: parsed.data, parsed };
      for (const [path, version] of [[['models', model, 'version'], d.version], [['models', model, 'canary', 'version'], isRecord(d.canary) ? d.canary.version : undefined],
        [['models', model, 'shadow', 'version'], isRecord(d.shadow) ? d.shadow.version : undefined]] as Array<[PathSegment[], unknown]>) {
        if (typeof version === 'string' && !repo.versionFiles.get(model)!.has(version)) problems.push(unregistered(loaded, path, model, version, repo.versionFiles.get(model)!));
      }
    }
  }
  for (const [envName, env] of repo.environments) {
    const e = env.data;
    if (!repo.present.has(`policies/${envName}.yaml`)) {
      problems.push(fileLevel(env.file, `environment "${envName}" has no policy`, `policies/${envName}.yaml`, 'no such file'));
    }
    if (e.kubernetes?.mode === 'raw' && !e.kubernetes.gateway) {
      problems.push(at(env, ['kubernetes'], 'raw mode routes traffic through a Gateway API HTTPRoute; name the Gateway under kubernetes.gateway', { expected: 'key "gateway"', found: 'nothing' }));
    }
    for (const [model, d] of Object.entries(e.models)) {
      const base: PathSegment[] = ['models', model];
      if (!repo.present.has(`models/${model}/model.yaml`)) {
        problems.push(at(env, base, `model "${model}" is not defined`, { key: true, expected: `models/${model}/model.yaml`, found: 'no such file' }));
        continue;
      }
      const card = repo.models.get(model)?.data;
      const registered = repo.versionFiles.get(model) ?? new Set<string>();
      const pins: Array<[PathSegment[], string]> = [[[...base, 'version'], d.version]];
      if (d.canary) pins.push([[...base, 'canary', 'version'], d.canary.version]);
      if (d.shadow) pins.push([[...base, 'shadow', 'version'], d.shadow.version]);
      for (const [path, version] of pins) {
        if (!registered.has(version)) problems.push(unregistered(env, path, model, version, registered));
      }
      if (d.canary && d.canary.version === d.version) {
        problems.push(at(env, [...base, 'canary', 'version'], 'the canary version must differ from the stable version', { expected: `a version other than "${d.version}"`, found: JSON.stringify(d.canary.version) }));
      }
      if (d.shadow && d.shadow.version === d.version) {
        problems.push(at(env, [...base, 'shadow', 'version'], 'the shadow version must differ from the stable version', { expected: `a version other than "${d.version}"`, found: JSON.stringify(d.shadow.version) }));
      }
      if (d.shadow && d.canary && d.shadow.version === d.canary.version) {
        problems.push(at(env, [...base, 'shadow', 'version'], 'the shadow version must differ from the canary version', { expected: `a version other than "${d.canary.version}"`, found: JSON.stringify(d.shadow.version) }));
      }
      if (!d.online && !d.batch) {
        problems.push(at(env, base, `${model} is pinned here but neither online nor batch serving is enabled`, { key: true, expected: 'key "online" or "batch"', found: 'neither' }));
      }
      if ((d.canary || d.shadow) && !d.online) {
        problems.push(at(env, [...base, d.canary ? 'canary' : 'shadow'], `a ${d.canary ? 'canary' : 'shadow'} splits online traffic, but ${model} is not served online here`, { expected: 'key "online"', found: 'nothing' }));
      }
      if (d.shadow && e.kubernetes?.mode === 'serverless') {
        problems.push(at(env, [...base, 'shadow'], 'shadow traffic needs kubernetes.mode raw (a Gateway API RequestMirror); serverless KServe cannot mirror requests', { expected: 'kubernetes.mode: raw', found: 'serverless' }));
      }
      if (d.online) {
        if (card && !card.serving.online) problems.push(at(env, [...base, 'online'], `${model} declares no online serving in its model.yaml`, { key: true, expected: 'serving.online in the model card', found: 'nothing' }));
        if (!e.kubernetes) problems.push(at(env, [...base, 'online'], 'online serving needs the environment\'s kubernetes settings', { key: true, expected: 'key "kubernetes" at the top', found: 'nothing' }));
        // Raw KServe scales with a HorizontalPodAutoscaler (cpu, memory); serverless with Knative's (concurrency, rps).
        const metric = d.online.scaleMetric;
        const mode = e.kubernetes?.mode;
        if (metric && mode && (mode === 'raw') !== (metric === 'cpu' || metric === 'memory')) {
          const fits = mode === 'raw' ? 'cpu or memory' : 'concurrency or rps';
          problems.push(at(env, [...base, 'online', 'scaleMetric'], `${mode} mode cannot scale on ${metric}: ${mode === 'raw' ? 'a HorizontalPodAutoscaler knows cpu and memory only' : 'Knative\'s autoscaler knows concurrency and rps only'}`, { expected: fits, found: metric }));
        }
        if (d.online.replicas.min > d.online.replicas.max) {
          problems.push(at(env, [...base, 'online', 'replicas'], `replicas.min (${d.online.replicas.min}) is greater than replicas.max (${d.online.replicas.max})`));
        }
      }
      if (d.batch) {
        if (card && !card.serving.batch) problems.push(at(env, [...base, 'batch'], `${model} declares no batch serving in its model.yaml`, { key: true, expected: 'serving.batch in the model card', found: 'nothing' }));
        if (!e.snowflake) problems.push(at(env, [...base, 'batch'], 'batch scoring needs the environment\'s snowflake settings', { key: true, expected: 'key "snowflake" at the top', found: 'nothing' }));
        problems.push(...scheduleProblems(env, [...base, 'batch', 'schedule'], d.batch.schedule));
      }
    }
  }
  return problems;
}

/**
 * Two environments never share a target: a Kubernetes (cluster, namespace) or a Snowflake
 * (account, database, schema). Otherwise one environment's sync would overwrite the other's
 * objects while being judged by its own, laxer, policy. Snowflake identifiers are unquoted, so
 * compared upper-cased; an environment that names no account is taken to be on the same account
 * as any other that names none (sync connects to whatever SNOWFLAKE_ACCOUNT says).
 */
function checkSharedTargets(repo: LoadedRepository): Problem[] {
  const problems: Problem[] = [];
  const kubernetes = new Map<string, Loaded<Environment>>();
  const snowflake = new Map<string, Loaded<Environment>>();
  const where = (l: Loaded<unknown>, path: PathSegment[]) => {
    const pos = l.parsed.locate(path);
    return `${l.file}:${pos.line}:${pos.col}`;
  };
  for (const env of [...repo.environments.values()].sort((a, b) => a.file.localeCompare(b.file))) {
    const k = env.data.kubernetes;
    if (k) {
      const key = JSON.stringify([k.cluster, k.namespace]);
      const first = kubernetes.get(key);
      if (first) {
        problems.push(at(env, ['kubernetes', 'namespace'],
          `environments "${first.data.name}" and "${env.data.name}" share Kubernetes cluster ${k.cluster}, namespace ${k.namespace} (${where(first, ['kubernetes', 'namespace'])} and here); each environment needs its own namespace`,
          { expected: `a (cluster, namespace) no other environment uses`, found: `${k.cluster}/${k.namespace}, as in ${where(first, ['kubernetes', 'namespace'])}` }));
      } else kubernetes.set(key, env);
    }
    const s = env.data.snowflake;
    if (s) {
      const account = s.account?.toUpperCase() ?? '';
      const key = JSON.stringify([account, s.database.toUpperCase(), s.schema.toUpperCase()]);
      const first = snowflake.get(key);
      if (first) {
        const name = `${account ? `account ${s.account}, ` : ''}database ${s.database}, schema ${s.schema}`;
        problems.push(at(env, ['snowflake', 'database'],
          `environments "${first.data.name}" and "${env.data.name}" share Snowflake ${name} (${where(first, ['snowflake', 'database'])} and here); each environment needs its own schema`,
          { expected: 'an (account, database, schema) no other environment uses', found: `${s.database}.${s.schema}, as in ${where(first, ['snowflake', 'database'])}` }));
      } else snowflake.set(key, env);
    }
  }
  return problems;
}

function unregistered(env: Loaded<unknown>, path: PathSegment[], model: string, version: string, registered: Set<string>): Problem {
  return at(env, path, `version "${version}" of ${model} is not registered`,
    { expected: `a registered version of ${model}${describeVersions(registered)}`, found: JSON.stringify(version) });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeVersions(registered: Set<string>): string {
  if (registered.size === 0) return ' (none is registered)';
  const sorted = [...registered].sort();
  const shown = sorted.slice(-3);
  return ` (${sorted.length > 3 ? `${sorted.length} registered; latest: ` : ''}${shown.join(', ')})`;
}

function scheduleProblems(env: Loaded<unknown>, path: PathSegment[], s: { cron?: string; timezone?: string; every?: string }): Problem[] {
  const out: Problem[] = [];
  if ((s.cron === undefined) === (s.every === undefined)) {
    out.push(at(env, path, 'a schedule is either "cron" (with "timezone") or "every", not both and not neither', { expected: 'cron + timezone, or every', found: Object.keys(s).join(', ') || 'nothing' }));
    return out;
  }
  if (s.cron !== undefined) {
    const cron = cronProblem(s.cron);
    if (cron) out.push(at(env, [...path, 'cron'], cron, { expected: 'a five-field cron expression such as "0 2 * * *"', found: JSON.stringify(s.cron) }));
    if (s.timezone === undefined) out.push(at(env, path, 'a cron schedule needs a time zone', { expected: 'key "timezone" (e.g. UTC)', found: 'nothing' }));
  } else if (s.timezone !== undefined) {
    out.push(at(env, [...path, 'timezone'], 'a time zone applies to cron schedules only', { key: true }));
  }
  if (s.timezone !== undefined && !validTimeZone(s.timezone)) {
    out.push(at(env, [...path, 'timezone'], `unknown time zone`, { expected: 'an IANA time zone such as UTC or Europe/Berlin', found: JSON.stringify(s.timezone) }));
  }
  return out;
}

let cronParser: typeof import('cron-parser').CronExpressionParser | undefined;

/** Expressions already checked (cron-parser with luxon: ~0.6 ms each; the same few recur on every model). */
const knownCrons = new Map<string, string | undefined>();

/** Why a cron expression is invalid, or undefined when it is valid. */
export function cronProblem(expr: string): string | undefined {
  if (knownCrons.has(expr)) return knownCrons.get(expr);
  const problem = cronProblemOf(expr);
  knownCrons.set(expr, problem);
  return problem;
}

function cronProblemOf(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return `a cron expression has five fields (minute hour day-of-month month day-of-week); found ${fields.length}`;
  try {
    // loaded at the first cron line: cron-parser brings luxon (~20 ms of start-up), and many
    // repositories (and most commands' inputs) have no cron line at all
    cronParser ??= (createRequire(import.meta.url)('cron-parser') as typeof import('cron-parser')).CronExpressionParser;
    cronParser.parse(expr);
    return undefined;
  } catch (e) {
    return `invalid cron expression: ${(e as Error).message}`;
  }
}

/** Zones already asked about: building an Intl.DateTimeFormat per cron entry cost 0.3 s for 1,800 entries. */
const knownZones = new Map<string, boolean>();

export function validTimeZone(tz: string): boolean {
  const known = knownZones.get(tz);
  if (known !== undefined) return known;
  let valid: boolean;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    valid = true;
  } catch {
    valid = false;
  }
  knownZones.set(tz, valid);
  return valid;
}

function checkPolicies(repo: LoadedRepository): Problem[] {
  const problems: Problem[] = [];
  for (const [envName, pol] of repo.policies) {
    const p = pol.data;
    if (!repo.present.has(`environments/${envName}.yaml`)) {
      problems.push(fileLevel(pol.file, `policy for environment "${envName}", which does not exist`, `environments/${envName}.yaml`, 'no such file'));
    }
    const from = p.promotion?.from;
    if (from !== undefined) {
      if (from === envName) problems.push(at(pol, ['promotion', 'from'], 'an environment cannot be promoted from itself', { found: JSON.stringify(from) }));
      else if (!repo.present.has(`environments/${from}.yaml`)) problems.push(at(pol, ['promotion', 'from'], `environment "${from}" does not exist`, { expected: `one of ${[...repo.environments.keys()].join(', ')}`, found: JSON.stringify(from) }));
      else if (promotionCycle(repo, envName)) problems.push(at(pol, ['promotion', 'from'], `the promotion path loops back to "${envName}"`, { found: promotionCycle(repo, envName) }));
    }
    for (const [section, bounds] of [['metrics', p.gates.performance?.metrics], ['slices', p.gates.performance?.slices?.metrics]] as const) {
      for (const [metric, b] of Object.entries(bounds ?? {})) {
        const path: PathSegment[] = section === 'metrics' ? ['gates', 'performance', 'metrics', metric] : ['gates', 'performance', 'slices', 'metrics', metric];
        if (b.min !== undefined && b.max !== undefined && b.min > b.max) problems.push(at(pol, path, `min (${b.min}) is greater than max (${b.max})`));
        if (b.min === undefined && b.max === undefined && b.maxRegression === undefined) problems.push(at(pol, path, 'a metric bound needs min, max or maxRegression', { expected: 'min, max or maxRegression', found: 'only direction' }));
      }
    }
    for (const [name, wf] of Object.entries({ psi: p.gates.drift?.psi, nullRateDelta: p.gates.drift?.nullRateDelta, categoricalLinf: p.gates.drift?.categoricalLinf })) {
      if (wf?.warn !== undefined && wf.fail !== undefined && wf.warn > wf.fail) problems.push(at(pol, ['gates', 'drift', name], `warn (${wf.warn}) is above fail (${wf.fail})`));
    }
    const shadowPsi = p.gates.shadow?.psi;
    if (shadowPsi?.warn !== undefined && shadowPsi.fail !== undefined && shadowPsi.warn > shadowPsi.fail) problems.push(at(pol, ['gates', 'shadow', 'psi'], `warn (${shadowPsi.warn}) is above fail (${shadowPsi.fail})`));
    // The slices are judged by decision agreement: without a threshold there is none to judge them by.
    if (p.gates.shadow?.slices?.length && !p.gates.shadow.agreement) {
      problems.push(at(pol, ['gates', 'shadow', 'slices'], 'shadow slices are judged by decision agreement, which needs the model\'s threshold', { expected: 'gates.shadow.agreement {threshold, min}', found: 'no agreement' }));
    }
    p.canary?.checks.forEach((c, i) => {
      if (c.min === undefined && c.max === undefined) problems.push(at(pol, ['canary', 'checks', i], `canary check "${c.name}" has no bound`, { expected: 'min or max', found: 'neither' }));
    });
    if (p.ab) problems.push(...abDesignProblems(pol, p.ab));
    p.freeze?.forEach((f, i) => {
      const path: PathSegment[] = ['freeze', i];
      const fixed = f.from !== undefined || f.to !== undefined;
      const recurring = f.cron !== undefined || f.duration !== undefined;
      if (fixed === recurring) {
        problems.push(at(pol, path, `freeze window "${f.name}" must be either from/to or cron/duration`, { expected: 'from + to, or cron + duration', found: Object.keys(f).join(', ') }));
        return;
      }
      if (fixed) {
        if (f.from === undefined || f.to === undefined) problems.push(at(pol, path, `freeze window "${f.name}" needs both from and to`));
        else if (Date.parse(f.from) >= Date.parse(f.to)) problems.push(at(pol, [...path, 'to'], `freeze window "${f.name}" ends before it starts`, { expected: `a time after ${f.from}`, found: f.to }));
      } else {
        if (f.cron === undefined || f.duration === undefined) problems.push(at(pol, path, `freeze window "${f.name}" needs both cron and duration`));
        const cron = f.cron !== undefined ? cronProblem(f.cron) : undefined;
        if (cron) problems.push(at(pol, [...path, 'cron'], cron, { found: JSON.stringify(f.cron) }));
      }
      if (f.timezone !== undefined && !validTimeZone(f.timezone)) problems.push(at(pol, [...path, 'timezone'], 'unknown time zone', { expected: 'an IANA time zone', found: JSON.stringify(f.timezone) }));
    });
  }
  return problems;
}

function promotionCycle(repo: LoadedRepository, start: string): string | undefined {
  const path = [start];
  let cur = repo.policies.get(start)?.data.promotion?.from;
  while (cur !== undefined) {
    path.push(cur);
    if (cur === start) return path.join(' <- ');
    if (path.length > repo.policies.size + 1) return undefined;
    cur = repo.policies.get(cur)?.data.promotion?.from;
  }
  return undefined;
}

/** An A/B design the statistics can use: a rate strictly between 0 and 1 (also with the MDE added), a mean with its standard deviation. */
function abDesignProblems(pol: Parameters<typeof at>[0], ab: NonNullable<Policy['ab']>): Problem[] {
  const out: Problem[] = [];
  const { baseline, mde, metric } = ab;
  if (metric.kind === 'proportion') {
    if (!(baseline.mean > 0 && baseline.mean < 1)) out.push(at(pol, ['ab', 'baseline', 'mean'], 'a proportion\'s baseline is a rate', { expected: 'a number between 0 and 1 (exclusive)', found: String(baseline.mean) }));
    else {
      const delta = 'absolute' in mde ? mde.absolute! : mde.relative! * baseline.mean;
      const shifted = baseline.mean + (metric.direction === 'decrease' ? -delta : delta);
      if (!(shifted > 0 && shifted < 1)) out.push(at(pol, ['ab', 'mde'], `the baseline ${metric.direction === 'decrease' ? 'minus' : 'plus'} the MDE (${shifted}) is not a rate`, { expected: 'a rate between 0 and 1 (exclusive)', found: String(shifted) }));
    }
  } else if (baseline.sd === undefined) {
    out.push(at(pol, ['ab', 'baseline'], 'a mean metric\'s sample size needs its standard deviation', { expected: 'key "sd"', found: 'nothing' }));
  }
  if ('relative' in mde && baseline.mean === 0) out.push(at(pol, ['ab', 'mde', 'relative'], 'a relative MDE of a baseline of 0 is 0', { expected: 'an absolute MDE, or a baseline other than 0', found: 'baseline 0' }));
  return out;
}
