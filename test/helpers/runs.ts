// Training runs for tests: copies of the fixture runs, optionally with a generated artifact or
// edited metadata, in a temp folder.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './cli.js';

export const newRun = 'fraud-detector-run-8812';

export interface TestRun {
  dir: string;
  sha256: string;
  size: number;
  metadata(): Record<string, any>;
  writeMetadata(m: Record<string, any>): void;
  writeReport(text: string): void;
}

/** A copy of a fixture run; with `artifactBytes` the artifact is replaced by that many random bytes. */
export function makeRun(options: { fixture?: string; artifactBytes?: number } = {}): TestRun {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-run-'));
  cpSync(join(projectRoot, 'test/fixtures/runs', options.fixture ?? newRun), dir, { recursive: true });
  const metaPath = join(dir, 'metadata.json');
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  if (options.artifactBytes !== undefined) {
    const body = randomBytes(options.artifactBytes);
    writeFileSync(join(dir, meta.artifact.file), body);
    meta.artifact.sha256 = createHash('sha256').update(body).digest('hex');
    meta.artifact.size = body.length;
    writeFileSync(metaPath, JSON.stringify(meta, null, 2) + '\n');
  }
  return {
    dir, sha256: meta.artifact.sha256, size: meta.artifact.size,
    metadata: () => JSON.parse(readFileSync(metaPath, 'utf8')),
    writeMetadata: (m) => writeFileSync(metaPath, JSON.stringify(m, null, 2) + '\n'),
    writeReport: (text) => writeFileSync(join(dir, 'validation-report.json'), text),
  };
}

/**
 * Stores the artifacts of the example repository's registered versions in a test registry, by
 * registering their training runs into a scratch copy (its manifests are thrown away), and the
 * registration records of the example's own manifests, written as register writes them.
 */
export async function seedExampleArtifacts(env: Record<string, string>): Promise<void> {
  await seedArtifactsOnly(env);
  await recordExampleRegistrations(env);
}

/**
 * Writes register's registration record (src/registry/register.ts recordRegistration: the same
 * function, the same write-once put) for every version manifest in `root` (default: the example
 * repository), as if register had written those files: the fixtures' manifests were registered
 * before registration records existed.
 */
export async function recordExampleRegistrations(env: Record<string, string>, root = projectRoot): Promise<void> {
  const { readdirSync } = await import('node:fs');
  const { parse } = await import('yaml');
  const { recordRegistration } = await import('../../src/registry/register.js');
  const { ArtifactStore } = await import('../../src/adapters/s3/store.js');
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: env.MODELSHIP_S3_ENDPOINT, forcePathStyle: true, region: env.AWS_REGION ?? 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
  try {
    const store = new ArtifactStore(client);
    for (const model of readdirSync(join(root, 'models'))) {
      const card = parse(readFileSync(join(root, 'models', model, 'model.yaml'), 'utf8')) as { registry: string };
      let versions: string[] = [];
      try { versions = readdirSync(join(root, 'models', model, 'versions')).filter((f) => f.endsWith('.yaml')); } catch { continue; }
      for (const f of versions) {
        await recordRegistration(store, card.registry, model, f.slice(0, -5), readFileSync(join(root, 'models', model, 'versions', f)));
      }
    }
  } finally {
    client.destroy();
  }
}

async function seedArtifactsOnly(env: Record<string, string>): Promise<void> {
  const { makeReleaseRepo } = await import('./repo.js');
  const { runCli } = await import('./cli.js');
  const { rmSync } = await import('node:fs');
  const scratch = makeReleaseRepo({ reuse: true });
  try {
    rmSync(join(scratch.root, 'models/fraud-detector/versions'), { recursive: true });
    rmSync(join(scratch.root, 'models/chargeback-risk/versions'), { recursive: true });
    for (const fixture of ['fraud-detector-run-8610', 'fraud-detector-run-8702', 'fraud-detector-run-8755', 'chargeback-risk-run-311', 'chargeback-risk-run-342']) {
      const r = await runCli(['register', join(projectRoot, 'test/fixtures/runs', fixture), '-C', scratch.root], { env });
      if (r.code !== 0) throw new Error(`seeding ${fixture} failed: ${r.stderr}`);
    }
  } finally {
    scratch.cleanup();
  }
}
