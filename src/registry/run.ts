// A finished training run, as the pipeline left it: metadata.json, validation-report.json and
// the artifact, in a local folder or under an S3 prefix. Reading it validates both JSON files
// and checks that the artifact is there with the size metadata.json claims.

import { stat } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RefusedError, ValidationError, type Problem } from '../errors.js';
import { loadDocument } from '../config/load.js';
import type { RunMetadata, ValidationReport } from '../config/types.js';
import { parseS3Uri, s3Uri, type ArtifactStore, type S3Location } from '../adapters/s3/store.js';

export const runFiles = { metadata: 'metadata.json', report: 'validation-report.json' } as const;
const maxRunFileBytes = 16 * 1024 * 1024;

export type ArtifactSource = { kind: 'file'; path: string; size: number } | { kind: 's3'; location: S3Location; size: number };

export interface TrainingRun {
  /** as given: a folder path or s3://bucket/prefix/ */
  source: string;
  metadata: RunMetadata;
  report: ValidationReport;
  /** the report's exact bytes, stored content-addressed beside the artifact */
  reportBytes: Buffer;
  artifact: ArtifactSource;
}

export function isS3Source(source: string): boolean {
  return source.startsWith('s3://');
}

/** Reads and validates a training run. Throws ValidationError listing every problem found. */
export async function readRun(source: string, store?: () => ArtifactStore): Promise<TrainingRun> {
  const s3 = isS3Source(source);
  const prefix = s3 ? parseS3Uri(source.endsWith('/') ? source : `${source}/`) : undefined;
  const dir = s3 ? undefined : resolve(source);
  const name = (file: string) => (s3 ? s3Uri({ bucket: prefix!.bucket, key: prefix!.key + file }) : join(source, file));

  if (dir) {
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory()) throw new RefusedError(`${source} is not a folder`, 'give the folder the training task wrote, or an s3://bucket/prefix/');
  }

  const read = async (file: string): Promise<Buffer | undefined> => {
    if (dir) return readFile(join(dir, file)).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return undefined; throw e; });
    return store!().getSmall({ bucket: prefix!.bucket, key: prefix!.key + file }, maxRunFileBytes);
  };

  const problems: Problem[] = [];
  const load = <T>(file: string, bytes: Buffer | undefined, schema: 'run-metadata' | 'validation-report'): T | undefined => {
    if (!bytes) {
      problems.push({ file: name(file), line: 0, col: 0, path: '', severity: 'error', message: `missing: a training run needs ${file}`, expected: file, found: 'no such file' });
      return undefined;
    }
    const r = loadDocument<T>(name(file), bytes, schema, { maxBytes: maxRunFileBytes, maxAliases: 0 });
    problems.push(...r.problems);
    return r.loaded?.data;
  };
  const [metaBytes, reportBytes] = await Promise.all([read(runFiles.metadata), read(runFiles.report)]);
  const metadata = load<RunMetadata>(runFiles.metadata, metaBytes, 'run-metadata');
  const report = load<ValidationReport>(runFiles.report, reportBytes, 'validation-report');
  if (!metadata || !report || problems.some((p) => p.severity === 'error')) throw new ValidationError(problems);

  if (report.model !== metadata.model) {
    throw new ValidationError([{
      file: name(runFiles.report), line: 0, col: 0, path: 'model', severity: 'error',
      message: `the validation report is for "${report.model}" but metadata.json is for "${metadata.model}"`,
      expected: JSON.stringify(metadata.model), found: JSON.stringify(report.model),
    }]);
  }

  const artifactName = name(metadata.artifact.file);
  let artifact: ArtifactSource;
  if (dir) {
    const info = await stat(join(dir, metadata.artifact.file)).catch(() => undefined);
    if (!info?.isFile()) throw missingArtifact(artifactName, metadata);
    artifact = { kind: 'file', path: join(dir, metadata.artifact.file), size: info.size };
  } else {
    const location = { bucket: prefix!.bucket, key: prefix!.key + metadata.artifact.file };
    const head = await store!().head(location);
    if (!head) throw missingArtifact(artifactName, metadata);
    artifact = { kind: 's3', location, size: head.size };
  }
  if (artifact.size !== metadata.artifact.size) {
    throw new RefusedError(`${artifactName} is ${artifact.size} bytes, but metadata.json says ${metadata.artifact.size}; nothing was stored`,
      'the artifact is incomplete or is not the one the metadata describes');
  }
  return { source, metadata, report, reportBytes: reportBytes!, artifact };
}

function missingArtifact(file: string, metadata: RunMetadata): ValidationError {
  return new ValidationError([{
    file, line: 0, col: 0, path: '', severity: 'error',
    message: `missing: metadata.json names the artifact "${metadata.artifact.file}", which is not in the run`,
    expected: metadata.artifact.file, found: 'no such file',
  }]);
}
