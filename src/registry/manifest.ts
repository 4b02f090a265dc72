// The version manifest written by `register`: built from the run and what the store confirmed,
// rendered as YAML with its schema comment. Pure functions.

import { Document, isScalar, visit } from 'yaml';
import { schemaCommentFor } from '../config/load.js';
import type { ModelCard, VersionManifest } from '../config/types.js';
import type { TrainingRun } from './run.js';

export interface StoredArtifact {
  uri: string;
  sha256: string;
  size: number;
  /** S3's checksum of the stored object, when the store reports one */
  checksum?: string;
}

export function manifestPath(model: string, version: string): string {
  return `models/${model}/versions/${version}.yaml`;
}

/** Content-addressed key of a file in the registry: <prefix>/<model>/<sha256>/<file>. */
export function registryKey(registry: string, model: string, sha256: string, file: string): string {
  return `${registry.replace(/\/+$/, '')}/${model}/${sha256}/${file}`;
}

/** The next free automatic version for a run created at `createdAt`: YYYY.MM.DD-N. */
export function nextVersion(createdAt: string, existing: Iterable<string>): string {
  const day = createdAt.slice(0, 10).replace(/-/g, '.');
  const taken = new Set(existing);
  let n = 1;
  while (taken.has(`${day}-${n}`)) n++;
  return `${day}-${n}`;
}

export function buildManifest(input: {
  run: TrainingRun; card: ModelCard; version: string; artifact: StoredArtifact; report: { uri: string; sha256: string };
  registeredAt: string; registeredBy?: string;
}): VersionManifest {
  const { run, version, artifact, report } = input;
  const m = run.metadata;
  const manifest: VersionManifest = {
    model: m.model,
    version,
    ...(m.description ? { description: m.description } : {}),
    registeredAt: input.registeredAt,
    ...(input.registeredBy ? { registeredBy: input.registeredBy } : {}),
    sourceRun: run.source,
    artifact: {
      uri: artifact.uri, sha256: artifact.sha256, size: artifact.size,
      ...(artifact.checksum ? { storeChecksum: artifact.checksum } : {}),
    },
    ...(m.image ? { image: m.image } : {}),
    lineage: m.lineage,
    inputSchema: m.inputSchema,
    outputSchema: m.outputSchema,
    metrics: run.report.metrics,
    ...(m.histograms ? { histograms: m.histograms } : {}),
    ...(m.scoreHistogram ? { scoreHistogram: m.scoreHistogram } : {}),
    validationReport: report,
  };
  return manifest;
}

/** YAML text of a manifest: schema comment first, short collections on one line. */
export function renderManifest(manifest: VersionManifest): string {
  const file = manifestPath(manifest.model, manifest.version);
  const doc = new Document(manifest);
  // Lists of numbers and small mappings of scalars read best on one line; the rest stays block.
  visit(doc, {
    Seq(_, node) {
      if (node.items.every((i) => isScalar(i))) node.flow = true;
    },
    Map(_, node) {
      if (node === doc.contents || !node.items.every((p) => isScalar(p.value))) return;
      const width = node.items.reduce((n, p) => n + String((p.key as { value?: unknown })?.value ?? p.key).length + String((p.value as { value?: unknown }).value).length + 4, 2);
      if (width <= 100) node.flow = true;
    },
  });
  doc.commentBefore = ` ${schemaCommentFor(file, 'version').slice(2)}\n Registered by modelship; immutable once merged. Do not edit.`;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
