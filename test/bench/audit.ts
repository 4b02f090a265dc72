// Benchmark 6: `modelship audit verify` over a 10,000-record trail and `audit trace` over the
// same, as cold CLI runs. The trail is generated: a real git repository of 10,000 first-parent
// commits each changing environments/production.yaml (git fast-import), and for each one a
// record built and signed (Ed25519) by the same functions mirror uses, in a local write-once
// store, beside a bundle of realistic size whose header names the commit (generating 10,000
// real `git bundle` files would take minutes and verify reads only their digest and header).
// References measured in the same rounds: sha256sum over the same bytes, node verifying the
// same signatures (read, parse, verify: the floor of any verifier), node parsing the index.

import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildStatement, bundleKey, canonicalBytes, envelopeBytes, recordKey, type AuditPredicate } from '../../src/audit/record.js';
import { ed25519Signer, sha256Hex, signEnvelope } from '../../src/audit/sign.js';
import { childEnv, measure, median, repeat, type Measured } from './measure.js';
import { ms, ratio, type Row } from './table.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const records = 10_000;
const runs = 5;
const targets = { verifyMs: 2000, traceMs: 200 };
const hour = 3_600_000;
const start = Date.UTC(2025, 0, 1);

/** The machine's load when the rounds began: these 2 cores are shared, and verify is CPU-bound. */
let loadAtStart: number | undefined;

export function auditNotes(): string[] {
  return [`audit: ${records.toLocaleString('en')} records (Ed25519, one chain) over a real git repository of as many first-parent commits; bundles of realistic size with real headers (not real packs); cold CLI runs, median of ${runs}; verify checks signatures on a worker thread per core, and on its own thread once every record is read; each record file's mtime is its recordedAt (the folder store's clock, which verify judges).${loadAtStart !== undefined ? ` Load average when the rounds began: ${loadAtStart.toFixed(1)} (the machine is shared).` : ''}`];
}

export async function auditBench(options: { log: (s: string) => void }): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'modelship-bench-audit-'));
  try {
    const repo = join(work, 'repo');
    const store = join(work, 'store');
    const cache = join(work, 'cache');
    options.log(`audit: generating ${records} commits and signed records`);
    const { bytes, publicKeyPem } = await generateTrail(repo, store);
    const env = childEnv();
    const verifyArgs = [cli, 'audit', 'verify', '--env', 'production', '--store', store, '--cache-dir', cache, '-C', repo];
    const at = new Date(start + (records / 2) * hour + 1800_000).toISOString();
    const traceArgs = [cli, 'audit', 'trace', '--model', 'fraud-detector', '--env', 'production', '--at', at, '--store', store, '--cache-dir', cache, '-C', repo];
    const first = await measure(process.execPath, verifyArgs, { env });
    if (first.code !== 0) throw new Error(`audit verify failed on the generated trail:\n${first.stdout}${first.stderr}`);
    const traced = await measure(process.execPath, traceArgs, { env });
    if (traced.code !== 0 || !/serving v\d+/.test(traced.stdout)) throw new Error(`audit trace failed:\n${traced.stdout}${traced.stderr}`);
    const floorScript = join(work, 'verify-floor.mjs');
    writeFileSync(floorScript, verifyFloor);
    const indexFile = join(cache, 'production.json');

    loadAtStart = loadavg()[0];
    options.log(`audit: ${runs} cold runs each of verify, trace, sha256sum, node verifying the signatures, node parsing the index`);
    const rounds = await repeat(runs, async () => ({
      verify: ok(await measure(process.execPath, verifyArgs, { env }), 'verify'),
      trace: ok(await measure(process.execPath, traceArgs, { env }), 'trace'),
      sha: ok(await measure('sh', ['-c', 'find records bundles -type f -exec cat {} + | sha256sum > /dev/null'], { cwd: join(store, 'modelship/production'), env }), 'sha256sum'),
      floor: ok(await measure(process.execPath, [floorScript, join(store, 'modelship/production/records'), publicKeyPem], { env }), 'node verify'),
      parse: ok(await measure(process.execPath, ['-e', `JSON.parse(require('fs').readFileSync(${JSON.stringify(indexFile)}, 'utf8'))`], { env }), 'node parse'),
    }));
    const wall = (k: keyof (typeof rounds)[number]) => median(rounds.map((r) => r[k].wallMs));
    const [verify, trace, sha, floor, parse] = [wall('verify'), wall('trace'), wall('sha'), wall('floor'), wall('parse')];
    const mib = (bytes / 2 ** 20).toFixed(1);
    return [
      {
        figure: `audit verify, ${records.toLocaleString('en')} records + bundles (${mib} MiB) and ${records.toLocaleString('en')} commits, cold, median of ${runs}`,
        target: `< ${ms(targets.verifyMs)}`, measured: ms(verify),
        reference: `node reading + verifying the same signatures ${ms(floor)}; sha256sum of the same bytes ${ms(sha)}`,
        ratio: ratio(verify, floor), met: verify < targets.verifyMs,
      },
      {
        figure: `audit trace over the same trail (index current), cold, median of ${runs}`,
        target: `< ${ms(targets.traceMs)}`, measured: ms(trace),
        reference: `node parsing the index ${ms(parse)}`, ratio: ratio(trace, parse), met: trace < targets.traceMs,
      },
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The bench's repository and store (exported for profiling by hand). */
export async function generateTrail(repo: string, store: string): Promise<{ bytes: number; publicKeyPem: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const commits = await generateHistory(repo, publicKey.export({ format: 'der', type: 'spki' }).toString('base64'));
  const signer = ed25519Signer(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 'bench-key');
  const bytes = await generateRecords(store, commits, signer);
  return { bytes, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

function ok(m: Measured, what: string): Measured {
  if (m.code !== 0) throw new Error(`${what} exited ${m.code}: ${m.stderr}`);
  return m;
}

/** The floor: read every record, parse it, verify its Ed25519 signature over the DSSE PAE. */
const verifyFloor = `
import { readdirSync, readFileSync } from 'node:fs';
import { createPublicKey, verify } from 'node:crypto';
const [dir, pem] = process.argv.slice(2);
const key = createPublicKey(pem);
let n = 0;
for (const f of readdirSync(dir)) {
  const env = JSON.parse(readFileSync(dir + '/' + f, 'utf8'));
  const body = Buffer.from(env.payload, 'base64');
  const t = Buffer.from(env.payloadType);
  const pae = Buffer.concat([Buffer.from('DSSEv1 ' + t.length + ' '), t, Buffer.from(' ' + body.length + ' '), body]);
  if (!verify(null, pae, key, Buffer.from(env.signatures[0].sig, 'base64'))) process.exit(1);
  JSON.parse(body.toString('utf8'));
  n++;
}
if (n === 0) process.exit(1);
`;

const envText = (i: number) => `name: production\nkubernetes: { cluster: bench, namespace: ml-serving, mode: raw }\nmodels:\n  fraud-detector:\n    version: v${i}\n`;
const policyText = (publicKey: string) => `environment: production
policyOwners: ["@acme/ml-platform"]
approvals: { count: 1 }
gates: {}
audit:
  store: s3://acme-audit/modelship
  retentionDays: 2555
  keys:
    - id: bench-key
      algorithm: ed25519
      publicKey: ${publicKey}
      validFrom: 2024-01-01T00:00:00Z
`;

interface Commit { commit: string; tree: string; parents: string[]; at: number }

/** A repository of `records` first-parent commits, each changing environments/production.yaml. */
async function generateHistory(dir: string, publicKey: string): Promise<Commit[]> {
  mkdirSync(dir, { recursive: true });
  await run('git', ['init', '-q', '-b', 'main'], dir);
  const chunks: string[] = [];
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  for (let i = 0; i < records; i++) {
    const at = Math.floor((start + i * hour) / 1000);
    chunks.push(`commit refs/heads/main\nmark :${i + 1}\ncommitter Bench <bench@example.invalid> ${at} +0000\n${data(`Merge pull request #${i + 1} from acme/promote-v${i}`)}`);
    if (i > 0) chunks.push(`from :${i}\n`);
    if (i === 0) chunks.push(`M 100644 inline policies/production.yaml\n${data(policyText(publicKey))}`);
    chunks.push(`M 100644 inline environments/production.yaml\n${data(envText(i))}\n`);
  }
  await run('git', ['fast-import', '--quiet'], dir, chunks.join(''));
  await run('git', ['gc', '-q'], dir);
  const out = await run('git', ['log', '--first-parent', '--reverse', '--format=%H %T %ct %P', 'main'], dir);
  return out.trim().split('\n').map((l) => {
    const [commit, tree, ct, ...parents] = l.split(' ');
    return { commit: commit!, tree: tree!, at: Number(ct) * 1000, parents: parents.filter(Boolean) };
  });
}

/** Signed records and bundles for every commit, in a folder laid out as the store lays it out. */
async function generateRecords(store: string, commits: Commit[], signer: ReturnType<typeof ed25519Signer>): Promise<number> {
  mkdirSync(join(store, 'modelship/production/records'), { recursive: true });
  mkdirSync(join(store, 'modelship/production/bundles'), { recursive: true });
  let prev: { digest: string; commit: string } | undefined;
  let total = 0;
  for (const [seq, c] of commits.entries()) {
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    const bundle = Buffer.concat([
      Buffer.from(`# v2 git bundle\n${prev ? `-${prev.commit} previous\n` : ''}${c.commit} refs/modelship-audit/bench\n\nPACK`), randomBytes(1200),
    ]);
    const bKey = bundleKey('modelship', 'production', c.commit);
    const predicate: AuditPredicate = {
      environment: 'production', seq, prev: prev ? { sha256: prev.digest } : null, recordedAt: iso(c.at + 240_000),
      recorder: { id: 'modelship', version: 'bench' },
      git: { repo: 'acme/release', commit: c.commit, parents: c.parents, tree: c.tree, committedAt: iso(c.at), subject: `Merge pull request #${seq + 1}`, bundle: { key: bKey, sha256: sha256Hex(bundle), size: bundle.length, from: prev?.commit ?? null } },
      change: { kind: 'pull-request', pr: { number: seq + 1, title: `Promote fraud-detector@v${seq}` }, author: 'ada', mergedBy: 'ada', mergedAt: iso(c.at), approvers: [{ login: 'grace', at: iso(c.at - 600_000) }, { login: 'linus', at: iso(c.at - 300_000) }], emergency: false, source: 'git' },
      tested: { report: { sha256: createHash('sha256').update(`report ${seq}`).digest('hex'), source: 'file:report.md', verdict: 'ready to merge' } },
      deployed: {
        result: 'converged', startedAt: iso(c.at + 60_000), finishedAt: iso(c.at + 210_000),
        changes: [{ model: 'fraud-detector', ...(seq ? { from: { version: `v${seq - 1}` } } : {}), to: { version: `v${seq}` } }],
        pins: { 'fraud-detector': { version: `v${seq}`, liveAt: iso(c.at + 180_000) } },
        objects: [
          { key: 'InferenceService/ml-serving/fraud-detector', model: 'fraud-detector', target: 'kubernetes', op: 'update', outcome: 'ready', appliedAt: iso(c.at + 65_000), readyAt: iso(c.at + 180_000) },
          { key: 'ML_PROD.SCORING.MODELSHIP_FRAUD_DETECTOR', model: 'fraud-detector', target: 'snowflake', op: 'update', outcome: 'applied', appliedAt: iso(c.at + 70_000) },
        ],
      },
      lineage: {
        [`fraud-detector@v${seq}`]: {
          artifact: { uri: `s3://acme-model-registry/fraud-detector/${sha256Hex(`a${seq}`)}/model.tar.gz`, sha256: sha256Hex(`a${seq}`) },
          codeRepo: 'https://github.com/acmerisk/fraud-models', codeCommit: createHash('sha1').update(`c${seq}`).digest('hex'),
          trainingData: { uri: 'snowflake://ACME/ANALYTICS/FEATURES/FRAUD_DETECTOR_TRAINING', snapshot: iso(c.at - 86_400_000) },
          dbtManifestSha256: sha256Hex(`m${seq}`), hyperparameters: { learning_rate: 0.05, max_depth: 6, n_estimators: 600 }, seed: 42, pipelineRunId: `run-${seq}`,
        },
      },
    };
    const envelope = envelopeBytes(await signEnvelope(canonicalBytes(buildStatement(predicate, sha256Hex(envText(seq)))), signer));
    const recordFile = join(store, recordKey('modelship', 'production', seq));
    writeFileSync(recordFile, envelope);
    writeFileSync(join(store, bKey), bundle);
    // A folder store's clock is the file's mtime (DirectoryStore.objects), and verify judges a record
    // whose recordedAt disagrees with it: the trail is written as mirror would have written it then.
    const written = new Date(c.at + 240_000);
    utimesSync(recordFile, written, written);
    total += envelope.length + bundle.length;
    prev = { digest: sha256Hex(envelope), commit: c.commit };
  }
  return total;
}

function run(command: string, args: string[], cwd: string, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err}`))));
    child.stdin.end(input ?? '');
  });
}
