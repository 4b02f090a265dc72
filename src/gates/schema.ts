// Schema gate: the input schema a version was trained on against the model card's feature
// contract (what serving and batch scoring will send), and the trained output against the
// card's declared output (what consumers read).

import type { FeatureType, ModelCard, VersionManifest } from '../config/types.js';
import { result, type GateResult } from './types.js';

/**
 * Lossless widenings: a value of the key type can be read as any listed type. integer→long→double
 * and float→double; nothing narrows, and no other type converts (a long read as a float loses
 * digits, a string is never a number).
 */
const widensTo: Partial<Record<FeatureType, readonly FeatureType[]>> = {
  integer: ['long', 'double'],
  long: ['double'],
  float: ['double'],
};

/** Whether a value of type `sent` can be read as `read` without loss (the features gate uses it too). */
export function readableAs(sent: FeatureType, read: FeatureType): boolean {
  return sent === read || (widensTo[sent]?.includes(read) ?? false);
}

/** "long (or a type it widens to: double)": what a column of type `sent` may be read as. */
function acceptable(sent: FeatureType): string {
  const wider = widensTo[sent];
  return wider ? `${sent} (or a type it widens to: ${wider.join(', ')})` : sent;
}

export interface SchemaRow {
  /** input: a feature the model receives; output: a column the model produces */
  kind: 'input' | 'output';
  name: string;
  contract?: { type: FeatureType; nullable?: boolean };
  trained?: { type: FeatureType; required?: boolean };
  status: 'pass' | 'fail' | 'warn';
  problem?: string;
}

/** Compares the version's trained input/output schema with the model card's contract. */
export function schemaGate(input: { card: ModelCard; manifest: VersionManifest }): GateResult {
  const { card, manifest } = input;
  const rows = [...inputRows(card, manifest), ...outputRows(card, manifest)];
  const failed = rows.filter((r) => r.status === 'fail');
  const warned = rows.filter((r) => r.status === 'warn');
  const details = [...failed, ...warned].map((r) => r.problem!);
  const data = { model: card.name, version: manifest.version, rows };
  const subject = `${card.name} ${manifest.version}`;

  if (failed.length) {
    const more = failed.length > 1 ? ` (and ${failed.length - 1} more)` : '';
    return result('schema', 'fail', `${subject}: ${failed[0]!.problem}${more}`, { details, data });
  }
  const inputs = rows.filter((r) => r.kind === 'input' && r.contract).length;
  const outputs = rows.filter((r) => r.kind === 'output' && r.contract).length;
  const matched = `${inputs} contract feature${inputs === 1 ? '' : 's'} and ${outputs} output${outputs === 1 ? '' : 's'} match what ${subject} was trained on`;
  if (warned.length) return result('schema', 'warn', `${matched}; ${warned[0]!.problem}`, { details, data });
  return result('schema', 'pass', matched, { data });
}

function inputRows(card: ModelCard, manifest: VersionManifest): SchemaRow[] {
  const trained = new Map(manifest.inputSchema.map((c) => [c.name, c]));
  const contracted = new Set(card.features.map((f) => f.name));
  const rows: SchemaRow[] = [];

  for (const f of card.features) {
    const contract = { type: f.type, nullable: f.nullable };
    const col = trained.get(f.name);
    if (!col) {
      rows.push({ kind: 'input', name: f.name, contract, status: 'fail',
        problem: `feature ${f.name} is in the contract (${f.type}) but not in the trained input schema; expected a column ${f.name} of type ${acceptable(f.type)}, found none` });
      continue;
    }
    const required = col.required ?? true;
    const row: SchemaRow = { kind: 'input', name: f.name, contract, trained: { type: col.type, required }, status: 'pass' };
    if (!readableAs(f.type, col.type)) {
      row.status = 'fail';
      row.problem = `feature ${f.name}: the contract sends ${f.type} but the model was trained on ${col.type}; expected ${acceptable(f.type)}, found ${col.type}`;
    } else if (f.nullable && required) {
      // Serving may send null (the contract allows it) to a model that never saw one.
      row.status = 'fail';
      row.problem = `feature ${f.name}: the contract allows null but the model was trained with it required; expected required: false, found required: true`;
    }
    rows.push(row);
  }

  for (const col of manifest.inputSchema) {
    if (contracted.has(col.name)) continue;
    const required = col.required ?? true;
    rows.push(required
      ? { kind: 'input', name: col.name, trained: { type: col.type, required }, status: 'fail',
          problem: `feature ${col.name} (${col.type}) is required by the model but not in the contract, so serving would not send it; expected it in the card's features, found no such feature` }
      : { kind: 'input', name: col.name, trained: { type: col.type, required }, status: 'warn',
          problem: `feature ${col.name} (${col.type}, optional) was trained on but is not in the contract, so the model will always see it missing` });
  }
  return rows;
}

function outputRows(card: ModelCard, manifest: VersionManifest): SchemaRow[] {
  const produced = new Map(manifest.outputSchema.map((c) => [c.name, c]));
  const declared = new Set(card.output.map((o) => o.name));
  const rows: SchemaRow[] = [];
  for (const o of card.output) {
    const col = produced.get(o.name);
    if (!col) {
      rows.push({ kind: 'output', name: o.name, contract: { type: o.type }, status: 'fail',
        problem: `output ${o.name} is declared by the card (${o.type}) but the model does not produce it; found outputs: ${manifest.outputSchema.map((c) => c.name).join(', ') || 'none'}` });
      continue;
    }
    // Direction is reversed: the model produces, consumers read the card's type.
    const ok = readableAs(col.type, o.type);
    rows.push({ kind: 'output', name: o.name, contract: { type: o.type }, trained: { type: col.type }, status: ok ? 'pass' : 'fail',
      ...(ok ? {} : { problem: `output ${o.name}: the card declares ${o.type} but the model produces ${col.type}; expected ${o.type} or a type that widens to it, found ${col.type}` }) });
  }
  // An extra output is harmless: nobody reads it. Listed in data, not judged.
  for (const col of manifest.outputSchema) {
    if (!declared.has(col.name)) rows.push({ kind: 'output', name: col.name, trained: { type: col.type }, status: 'pass' });
  }
  return rows;
}
