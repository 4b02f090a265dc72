// The pins of an environment file as it stood at some commit: read leniently, since old files may
// predate today's schema (a file that does not parse, or an entry without a version, is a note,
// not an error). History walks, rollback and the audit mirror read past versions through this.

import { isMap, parseDocument } from 'yaml';
import type { Pin, PinCommit } from '../model/pins.js';

/** The pins an environment file holds (`text` undefined: the file is deleted), or a note saying why they cannot be read. */
export function readPins(text: Buffer | undefined, path: string): Pick<PinCommit, 'pins' | 'note'> {
  if (text === undefined) return { pins: {} }; // the commit deleted the file
  const doc = parseDocument(text.toString('utf8'));
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const where = e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    return { note: `${path} does not parse: ${e.message.split('\n')[0]}${where}; skipped` };
  }
  const models = doc.get('models');
  if (models === undefined || models === null) return { pins: {} };
  if (!isMap(models)) return { note: `${path} has no "models" mapping; skipped` };
  const pins: Record<string, Pin> = {};
  const unread: string[] = [];
  for (const [name, d] of Object.entries(models.toJSON() as Record<string, unknown>)) {
    const pin = toPin(d);
    if (pin) pins[name] = pin;
    else unread.push(name);
  }
  return { pins, ...(unread.length ? { note: `${path}: no readable version for ${unread.join(', ')}; left out` } : {}) };
}

function toPin(d: unknown): Pin | undefined {
  if (!isRecord(d) || typeof d.version !== 'string') return undefined;
  const pin: Pin = { version: d.version };
  if (isRecord(d.canary) && typeof d.canary.version === 'string' && typeof d.canary.traffic === 'number') {
    pin.canary = { version: d.canary.version, traffic: d.canary.traffic };
  }
  if (isRecord(d.shadow) && typeof d.shadow.version === 'string') pin.shadow = { version: d.shadow.version };
  return pin;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
