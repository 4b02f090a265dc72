// Benchmark 1: `modelship register` of a generated artifact (1 GiB by default) into s3rver,
// against `sha256sum` of the same file and `aws s3 cp` of it to the same server. Both go through
// the sandbox's checksum layer, which verifies what each client sends as S3 would (register: the
// parts' x-amz-checksum-sha256 and x-amz-content-sha256, one SHA-256 per part; aws s3 cp: its
// x-amz-content-sha256 and Content-MD5 if it sends them); the layer's and s3rver's CPU time during
// each upload is reported apart, so the clients' own cost can be read off. Then register's peak
// RSS with --concurrency 8, --part-size 64 and both (which register bounds), and --part-size over
// the limit (refused before anything is sent).

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3rver, s3rverCredentials, type RunningS3 } from '../../tools/sandbox/s3rver.js';
import { childEnv, commandVersion, expectSuccess, flushDisks, measure, median, repeat, type Measured } from './measure.js';
import { mb, ms, ratio, throughput, type Row } from './table.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(projectRoot, 'dist/cli.js');
const fixtureRun = join(projectRoot, 'test/fixtures/runs/fraud-detector-run-8812');
const registryBucket = 'acme-model-registry';
const cliBucket = 'bench-cli';
const artifactFile = 'model.bin';
const chunk = 64 * 2 ** 20;

// The SDK warns that Node 20 support ends in 2027; the README says so once.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface RegisterBenchOptions {
  sizeMiB: number;
  repeat: number;
  log: (s: string) => void;
}

interface GeneratedRun {
  dir: string;
  artifact: string;
  sha256: string;
  size: number;
  metadata: Record<string, any>;
}

export async function registerBench(options: RegisterBenchOptions): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'modelship-bench-register-'));
  let s3: RunningS3 | undefined;
  let client: S3Client | undefined;
  try {
    options.log(`register: generating a ${options.sizeMiB} MiB artifact`);
    const run = generateRun(join(work, 'run'), options.sizeMiB);
    const repo = copyReleaseRepo(join(work, 'repo'));
    s3 = await startS3rver({ buckets: [registryBucket, cliBucket] });
    const env = childEnv({
      MODELSHIP_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3rverCredentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      // no ambient profile, and the same checksum policy modelship configures (s3rver stores
      // aws-chunked trailers verbatim otherwise; see shared/NOTES.md)
      AWS_CONFIG_FILE: join(work, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
      AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
    });
    const store = (client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3rverCredentials }));
    const aws = commandVersion('aws')?.split(' ')[0];

    const server = s3;
    /** The stand-ins' cost while `fn` runs: the layer runs in this process, s3rver in its own. */
    const withServerCost = async <T>(fn: () => Promise<T>): Promise<T & { cost: ServerCost }> => {
      server.layerStats.sha256Bytes = 0;
      server.layerStats.md5Bytes = 0;
      const cpu = process.cpuUsage();
      const s3rverBefore = cpuSeconds(server.pid);
      const r = await fn();
      const used = process.cpuUsage(cpu);
      return { ...r, cost: { layerCpuS: (used.user + used.system) / 1e6, s3rverCpuS: cpuSeconds(server.pid) - s3rverBefore, ...server.layerStats } };
    };
    let versions = 0;
    const register = async (extra: string[]): Promise<Measured & { cost: ServerCost }> => {
      const version = `2099.01.01-${++versions}`;
      writeFileSync(join(run.dir, 'metadata.json'), JSON.stringify({ ...run.metadata, version }, null, 2) + '\n');
      flushDisks();
      const reg = await withServerCost(async () => expectSuccess(`modelship register ${extra.join(' ')}`,
        await measure(process.execPath, [cli, 'register', run.dir, '-C', repo, '--json', ...extra], { env, peakRss: true })));
      const key = checkRegistered(reg, run, version);
      await expectStored(store, registryBucket, key, run.size);
      await store.send(new DeleteObjectCommand({ Bucket: registryBucket, Key: key }));
      return reg;
    };

    const rounds = await repeat(options.repeat, async (i) => {
      options.log(`register: round ${i + 1}/${options.repeat}: sha256sum`);
      flushDisks();
      const sum = expectSuccess('sha256sum', await measure('sha256sum', [run.artifact]));
      if (!sum.stdout.startsWith(run.sha256)) throw new Error(`sha256sum printed ${sum.stdout.trim()}, expected ${run.sha256}`);

      let cp: (Measured & { cost: ServerCost }) | undefined;
      if (aws) {
        options.log(`register: round ${i + 1}/${options.repeat}: aws s3 cp`);
        flushDisks();
        cp = await withServerCost(async () => expectSuccess('aws s3 cp',
          await measure('aws', ['--endpoint-url', server.endpoint, 's3', 'cp', run.artifact, `s3://${cliBucket}/x`, '--only-show-errors'], { env, peakRss: true })));
        await expectStored(store, cliBucket, 'x', run.size);
        await store.send(new DeleteObjectCommand({ Bucket: cliBucket, Key: 'x' }));
      }

      options.log(`register: round ${i + 1}/${options.repeat}: modelship register`);
      const reg = await register([]);
      options.log(`register: round ${i + 1}: sha256sum ${ms(sum.wallMs)}, aws s3 cp ${cp ? `${ms(cp.wallMs)} (${mb(cp.peakRssBytes ?? NaN)}; ${costText(cp.cost)})` : 'n/a'}, register ${ms(reg.wallMs)} (${mb(reg.peakRssBytes ?? NaN)}; ${costText(reg.cost)})`);
      return { sum, cp, reg };
    });
    const memory: Array<{ args: string[]; m: Measured }> = [];
    for (const args of [['--concurrency', '8'], ['--part-size', '64'], ['--concurrency', '8', '--part-size', '64']]) {
      options.log(`register: peak RSS with ${args.join(' ')}`);
      const m = await register(args);
      options.log(`register ${args.join(' ')}: ${ms(m.wallMs)}, ${mb(m.peakRssBytes ?? NaN)}${m.stderr.includes('note:') ? `; ${m.stderr.trim()}` : ''}`);
      memory.push({ args, m });
    }
    const over = await measure(process.execPath, [cli, 'register', run.dir, '-C', repo, '--part-size', '200'], { env });
    if (over.code !== 2 || !over.stderr.includes('--part-size 200 is over the limit of 96 MiB')) {
      throw new Error(`register --part-size 200 was not refused as expected (exit ${over.code}):\n${over.stderr}`);
    }
    return rows(options.sizeMiB, run.size, rounds, aws, memory);
  } finally {
    client?.destroy();
    await s3?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A training run folder: the fixture's metadata and report around a file of random bytes. */
function generateRun(dir: string, sizeMiB: number): GeneratedRun {
  cpSync(fixtureRun, dir, { recursive: true });
  rmSync(join(dir, 'model.json'));
  const artifact = join(dir, artifactFile);
  const size = Math.round(sizeMiB * 2 ** 20);
  const hash = createHash('sha256');
  const fd = openSync(artifact, 'w');
  try {
    for (let written = 0; written < size;) {
      const bytes = randomBytes(Math.min(chunk, size - written));
      hash.update(bytes);
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
      written += bytes.length;
    }
  } finally {
    closeSync(fd);
  }
  const sha256 = hash.digest('hex');
  const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as Record<string, any>;
  metadata.artifact = { file: artifactFile, sha256, size };
  return { dir, artifact, sha256, size, metadata };
}

/** The repository's release folders, copied: register writes its manifest there. */
function copyReleaseRepo(dir: string): string {
  for (const top of ['models', 'environments', 'policies']) cpSync(join(projectRoot, top), join(dir, top), { recursive: true });
  return dir;
}

/** Checks register's JSON answer: a new version, uploaded (not found already stored); returns the object key. */
function checkRegistered(m: Measured, run: GeneratedRun, version: string): string {
  const r = JSON.parse(m.stdout) as { version: string; status: string; artifact: { uri: string; sha256: string; transfer: string } };
  if (r.version !== version || r.status !== 'registered' || r.artifact.transfer !== 'uploaded' || r.artifact.sha256 !== run.sha256) {
    throw new Error(`register did not upload a new version as expected:\n${m.stdout}`);
  }
  const prefix = `s3://${registryBucket}/`;
  if (!r.artifact.uri.startsWith(prefix)) throw new Error(`register stored the artifact outside ${prefix}: ${r.artifact.uri}`);
  return r.artifact.uri.slice(prefix.length);
}

async function expectStored(client: S3Client, bucket: string, key: string, size: number): Promise<void> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  if (head.ContentLength !== size) throw new Error(`s3://${bucket}/${key} holds ${head.ContentLength} bytes, expected ${size}`);
}

interface ServerCost {
  /** CPU seconds of this process (the checksum layer) and of s3rver during the upload */
  layerCpuS: number;
  s3rverCpuS: number;
  /** bytes the layer hashed to verify the client's headers */
  sha256Bytes: number;
  md5Bytes: number;
}

/** User + system CPU seconds of a process, from /proc/<pid>/stat (clock ticks, 100 per second on Linux). */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function cpuText(values: Array<number | undefined>): string {
  return values.every((v) => v !== undefined) ? `${median(values as number[]).toFixed(2)} s` : 'not measured (needs GNU time)';
}

function costText(c: ServerCost): string {
  const hashed = [c.sha256Bytes ? `SHA-256 of ${mb(c.sha256Bytes)}` : '', c.md5Bytes ? `MD5 of ${mb(c.md5Bytes)}` : ''].filter(Boolean).join(' + ') || 'nothing';
  return `layer verified ${hashed} in ${c.layerCpuS.toFixed(1)} s CPU, s3rver ${c.s3rverCpuS.toFixed(1)} s CPU`;
}

type Round = { sum: Measured; cp?: Measured & { cost: ServerCost }; reg: Measured & { cost: ServerCost } };

function rows(sizeMiB: number, size: number, rounds: Round[], aws: string | undefined, memory: Array<{ args: string[]; m: Measured }>): Row[] {
  const label = sizeMiB === 1024 ? '1 GiB' : `${sizeMiB} MiB`;
  const times = rounds.length > 1 ? ` (median of ${rounds.length})` : '';
  const reg = median(rounds.map((r) => r.reg.wallMs));
  const sum = median(rounds.map((r) => r.sum.wallMs));
  const rss = Math.max(...rounds.map((r) => r.reg.peakRssBytes ?? NaN));
  const cps = rounds.flatMap((r) => (r.cp ? [r.cp] : []));
  const cp = cps.length ? median(cps.map((c) => c.wallMs)) : undefined;
  const cpRss = cps.length ? Math.max(...cps.map((c) => c.peakRssBytes ?? NaN)) : undefined;
  const missing = 'aws CLI not on PATH: not measured';
  const last = rounds[rounds.length - 1]!;
  return [
    {
      figure: `register ${label} into s3rver, wall${times}`,
      target: '≤ 1.1× aws s3 cp',
      measured: `${ms(reg)} (${throughput(size, reg)})`,
      reference: cp === undefined ? missing : `aws s3 cp: ${ms(cp)} (${throughput(size, cp)}; ${aws})`,
      ratio: cp === undefined ? 'n/a' : ratio(reg, cp),
      ...(cp === undefined ? {} : { met: reg / cp <= 1.1 }),
    },
    {
      figure: `register ${label}, the client's own CPU time (user + system, all threads)${times}`,
      target: 'informational',
      measured: cpuText(rounds.map((r) => r.reg.cpuSeconds)),
      reference: cps.length ? `aws s3 cp: ${cpuText(cps.map((c) => c.cpuSeconds))}` : missing,
      ratio: cps.length && rounds.every((r) => r.reg.cpuSeconds !== undefined) && cps.every((c) => c.cpuSeconds !== undefined)
        ? ratio(median(rounds.map((r) => r.reg.cpuSeconds!)), median(cps.map((c) => c.cpuSeconds!))) : 'n/a',
    },
    {
      figure: `register ${label} vs hashing it${times}`,
      target: 'informational',
      measured: ms(reg),
      reference: `sha256sum: ${ms(sum)} (${throughput(size, sum)})`,
      ratio: ratio(reg, sum),
    },
    {
      figure: `register ${label}, peak RSS`,
      target: '< 256 MB',
      measured: Number.isFinite(rss) ? mb(rss) : 'not measured',
      reference: cpRss === undefined ? missing : `aws s3 cp: ${mb(cpRss)}`,
      ratio: cpRss === undefined ? 'n/a' : ratio(rss, cpRss),
      met: rss < 256e6,
    },
    {
      figure: `the stand-ins' share of those uploads (checksum layer and s3rver, same 2 cores)`,
      target: 'informational',
      measured: `register: ${costText(last.reg.cost)}`,
      reference: last.cp ? `aws s3 cp: ${costText(last.cp.cost)}` : missing,
      ratio: last.cp ? ratio(last.reg.cost.layerCpuS + last.reg.cost.s3rverCpuS, last.cp.cost.layerCpuS + last.cp.cost.s3rverCpuS) : 'n/a',
    },
    ...memory.map(({ args, m }) => {
      const note = /note: (.*)/.exec(m.stderr)?.[1];
      return {
        figure: `register ${label}, peak RSS with ${args.join(' ')}${note ? ` (${note})` : ''}`,
        target: '< 256 MB',
        measured: Number.isFinite(m.peakRssBytes ?? NaN) ? mb(m.peakRssBytes!) : 'not measured',
        reference: `defaults (4 × 16 MiB): ${Number.isFinite(rss) ? mb(rss) : 'not measured'}`,
        ratio: Number.isFinite(rss) ? ratio(m.peakRssBytes ?? NaN, rss) : 'n/a',
        met: (m.peakRssBytes ?? Infinity) < 256e6,
      };
    }),
  ];
}
