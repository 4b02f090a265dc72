// The pins of an environment file as it stood at some commit: read leniently, since old files may
// predate today's schema (a file that does not parse, or an entry without a version, is a note,
// not an error). History walks, rollback and the audit mirror read past versions through this.
//
// A history walk reads the same file at thousands of commits, each a small edit of the next, and
// parsing a file of hundreds of models costs ~100 ms. PinReader reads a walk's files in order:
// the same blob twice costs nothing, and a file that differs from the last fully parsed one in a
// single model's entry is read by parsing that entry alone (see `readIncrementally` for why that
// gives exactly what the full parse gives); anything else is parsed in full, a plain file (no
// anchors, tags or tabs: nearly all) with js-yaml's core schema (`readPlainly`, ~5x faster than
// the document model, whose first use also costs its loading), any other with the document model.

import jsYaml from 'js-yaml';
import type { Document } from 'yaml';
import { yamlLib } from './yaml.js';
import type { Pin, PinCommit } from '../model/pins.js';

type PinsRead = Pick<PinCommit, 'pins' | 'note'>;

/** The pins an environment file holds (`text` undefined: the file is deleted), or a note saying why they cannot be read. */
export function readPins(text: Buffer | undefined, path: string): PinsRead {
  if (text === undefined) return { pins: {} }; // the commit deleted the file
  return parseFully(text, path).read;
}

/** One entry of the `models` block mapping, by byte offsets in the file. */
interface Entry {
  name: string;
  /** start of the key's line */
  start: number;
  /** just after the key's line (where the entry's own lines begin) */
  body: number;
  /** start of the next entry's key line (the last entry: of the next top-level key's line, or the end of the file); undefined when that cannot be told */
  end: number | undefined;
  /** the entry read on its own, as the full parse reads it (undefined: no readable version) */
  pin: Pin | undefined;
  /** the entry's text has an anchor or a tag: other entries may depend on it, so it is never swapped */
  fixed: boolean;
}

/** A file read in full whose `models` entries can be swapped one at a time. */
interface Known {
  text: Buffer;
  /** indentation of the entries' keys */
  indent: number;
  entries: Entry[];
}

/**
 * Reads the successive versions of one environment file (a history walk, newest or oldest first:
 * the order does not matter for correctness, only for speed). Gives exactly what `readPins` gives.
 */
export class PinReader {
  private known: Known | undefined;
  private readonly byBlob = new Map<string, PinsRead>();
  /** how the reads went, for tests and profiling: full parses, entry-only parses, blob-cache hits */
  readonly stats = { full: 0, entry: 0, cached: 0 };

  constructor(private readonly path: string, private readonly cacheSize = 64) {}

  /** The file's pins; `blob` is its git object id when known (the same blob is read once). */
  read(text: Buffer | undefined, blob?: string): PinsRead {
    if (text === undefined) return { pins: {} };
    const hit = blob ? this.byBlob.get(blob) : undefined;
    if (hit) {
      this.stats.cached++;
      return hit;
    }
    let out: { read: PinsRead; known?: Known } | undefined = this.known ? readIncrementally(this.known, text, this.path) : undefined;
    if (out) this.stats.entry++;
    else {
      this.stats.full++;
      out = readPlainly(text, this.path) ?? parseFully(text, this.path);
    }
    // A file that cannot be read entry by entry is no base for the next one: keep the last one that can.
    if (out.known) this.known = out.known;
    if (blob) {
      if (this.byBlob.size >= this.cacheSize) this.byBlob.delete(this.byBlob.keys().next().value!);
      this.byBlob.set(blob, out.read);
    }
    return out.read;
  }
}

/**
 * A plain file (no anchor, alias, tag, directive or tab) read with js-yaml's core schema, which
 * reads such a file as the document model does (config/yaml.ts parseYaml relies on the same) at
 * a fifth of the cost, its `models` entries found by their key lines: each at one indentation,
 * a plain name alone on its line, in the order the data has them. Undefined for anything else,
 * which parseFully reads instead.
 */
function readPlainly(bytes: Buffer, path: string): { read: PinsRead; known?: Known } | undefined {
  if (bytes.includes(0x26) || bytes.includes(0x21) || bytes.includes(0x09)) return undefined; // & ! tab
  const source = bytes.toString('utf8');
  if (/^%/m.test(source)) return undefined;
  let data: unknown;
  try {
    data = jsYaml.load(source, { schema: jsYaml.CORE_SCHEMA });
  } catch {
    return undefined; // an alias without an anchor, a syntax error: the document model says what
  }
  if (!isRecord(data)) return undefined;
  const models = data.models;
  if (models === undefined || models === null) return { read: { pins: {} } };
  if (!isRecord(models)) return undefined;
  const pins: Record<string, Pin> = {};
  const unread: string[] = [];
  for (const [name, d] of Object.entries(models)) {
    const pin = toPin(d);
    if (pin) pins[name] = pin;
    else unread.push(name);
  }
  const read = { pins, ...(unread.length ? { note: unreadNote(path, unread) } : {}) };
  const entries = entryLines(bytes, Object.keys(models), pins);
  return { read, ...(entries ? { known: { text: bytes, indent: entries.indent, entries: entries.entries } } : {}) };
}

/**
 * The `models` entries by their lines: `models:` alone at column 0, then each entry's key line at
 * one indentation (a plain name, nothing after the colon but a comment), deeper lines, blank
 * lines and comments, until a line at column 0. The names must be `names`, in that order (what
 * the parser read): otherwise the lines say something else than they seem to, and undefined.
 */
function entryLines(bytes: Buffer, names: string[], pins: Record<string, Pin>): { indent: number; entries: Entry[] } | undefined {
  const lines: Array<{ at: number; text: string }> = [];
  for (let at = 0; at < bytes.length;) {
    let end = bytes.indexOf(0x0a, at);
    if (end < 0) end = bytes.length;
    lines.push({ at, text: bytes.toString('latin1', at, end) });
    at = end + 1;
  }
  const first = lines.findIndex((l) => /^models:[ \r]*(#.*)?$/.test(l.text));
  if (first < 0 || lines.slice(first + 1).some((l) => /^models[ :]/.test(l.text))) return undefined;
  const entries: Entry[] = [];
  let indent = -1;
  let mapEnd = bytes.length;
  for (const line of lines.slice(first + 1)) {
    const m = /^( *)(.?)/.exec(line.text)!;
    if (m[2] === '' || m[2] === '#' || m[2] === '\r') continue;
    const depth = m[1]!.length;
    if (depth === 0) {
      mapEnd = line.at;
      break;
    }
    if (indent < 0) indent = depth;
    if (depth < indent) return undefined;
    if (depth > indent) continue;
    const key = /^ *(.+?):[ \r]*(#.*)?$/.exec(line.text);
    const name = key && (/^[a-z0-9][a-z0-9-]*$/.test(key[1]!) ? key[1]! : keyName(key[1]!));
    const eol = bytes.indexOf(0x0a, line.at);
    if (!name || eol < 0 || name !== names[entries.length]) return undefined;
    entries.push({ name, start: line.at, body: eol + 1, end: undefined, pin: pins[name], fixed: false });
  }
  if (indent < 1 || entries.length !== names.length || entries.some((e, i) => e.name !== names[i])) return undefined;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    e.end = entries[i + 1]?.start ?? mapEnd;
    e.fixed = hasAnchorOrTag(bytes.subarray(e.start, e.end));
  }
  return { indent, entries };
}

/** A key as written (quoted, or plain in the ASCII the lines are read in), as the parser reads it; undefined when it is no string. */
function keyName(raw: string): string | undefined {
  if (/[^\x20-\x7e]/.test(raw)) return undefined;
  try {
    const name = jsYaml.load(raw, { schema: jsYaml.CORE_SCHEMA });
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

function parseFully(bytes: Buffer, path: string): { read: PinsRead; known?: Known } {
  const source = bytes.toString('utf8');
  const { isMap, parseDocument } = yamlLib();
  const doc = parseDocument(source);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const where = e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    return { read: { note: `${path} does not parse: ${e.message.split('\n')[0]}${where}; skipped` } };
  }
  const models = doc.get('models');
  if (models === undefined || models === null) return { read: { pins: {} } };
  if (!isMap(models)) return { read: { note: `${path} has no "models" mapping; skipped` } };
  const pins: Record<string, Pin> = {};
  const unread: string[] = [];
  for (const [name, d] of Object.entries(models.toJSON() as Record<string, unknown>)) {
    const pin = toPin(d);
    if (pin) pins[name] = pin;
    else unread.push(name);
  }
  const read = { pins, ...(unread.length ? { note: unreadNote(path, unread) } : {}) };
  // A %YAML or %TAG directive changes how an entry read on its own would be read: read such files in full.
  return { read, ...(/^%/m.test(source) ? {} : knownFrom(bytes, source, doc, models, pins)) };
}

/**
 * The entries of a block `models` mapping whose keys are plain strings, each at the start of its
 * own line at one indentation; undefined for any other shape (such a file is always read in full).
 */
function knownFrom(bytes: Buffer, source: string, doc: Document, models: unknown, pins: Record<string, Pin>): { known?: Known } {
  const { isMap, isScalar } = yamlLib();
  if (!isMap(models) || models.flow || !models.items.length || !isMap(doc.contents)) return {};
  // Offsets: the parser counts UTF-16 units, the reader compares bytes.
  const ascii = bytes.length === source.length;
  const byteAt = (i: number) => (ascii ? i : Buffer.byteLength(source.slice(0, i)));
  const entries: Entry[] = [];
  const seen = new Set<string>();
  let indent = -1;
  for (const pair of models.items) {
    const key = pair.key;
    if (!isScalar(key) || typeof key.value !== 'string' || !key.range || key.value === '__proto__' || seen.has(key.value)) return {};
    seen.add(key.value);
    const at = key.range[0];
    const lineStart = source.lastIndexOf('\n', at - 1) + 1;
    if (!/^ *$/.test(source.slice(lineStart, at))) return {};
    if (indent < 0) indent = at - lineStart;
    else if (at - lineStart !== indent) return {};
    const lineEnd = source.indexOf('\n', at);
    if (lineEnd < 0) return {};
    entries.push({ name: key.value, start: byteAt(lineStart), body: byteAt(lineEnd + 1), end: undefined, pin: pins[key.value], fixed: false });
  }
  // The last entry ends where the next top-level key's line starts, or at the end of the file.
  const top = doc.contents.items;
  const after = top[top.findIndex((pair) => pair.value === models) + 1]?.key;
  let mapEnd: number | undefined = bytes.length;
  if (after !== undefined) {
    const at = isScalar(after) && after.range ? after.range[0] : -1;
    const lineStart = source.lastIndexOf('\n', at - 1) + 1;
    mapEnd = at >= 0 && /^ *$/.test(source.slice(lineStart, at)) ? byteAt(lineStart) : undefined;
  }
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    e.end = entries[i + 1]?.start ?? mapEnd;
    e.fixed = e.end === undefined || hasAnchorOrTag(bytes.subarray(e.start, e.end));
  }
  if (indent < 1) return {};
  return { known: { text: bytes, indent, entries } };
}

/**
 * The pins of `text` when it differs from the known file only inside one entry's own lines
 * (after its key line, before the next entry's key line), or undefined.
 *
 * Why that is exact: a YAML parser reads left to right, so the unchanged text before the entry
 * leaves it in the same state as in the known file, at the entry's key line. If the new entry
 * text, parsed on its own, is a mapping of that one key, without errors, whose lines below the key
 * are all indented deeper than the key (or are blank or comments), then in the file it is that
 * same one entry and ends exactly where the next key line (unchanged, at the key indentation)
 * begins; from there the parser is again in the known state. What could reach across entries
 * are anchors and aliases (and tags, which %TAG directives outside the entry redefine): an entry
 * with `&` or `!` in its old or new text is never swapped, and one with an alias does not parse
 * on its own (or is refused below). Duplicate keys inside the entry fail its own parse; the key
 * line itself never changes.
 */
function readIncrementally(known: Known, text: Buffer, path: string): { read: PinsRead; known: Known } | undefined {
  const a = known.text;
  const b = text;
  const common = Math.min(a.length, b.length);
  const p = commonPrefix(a, b, common);
  if (p === a.length && p === b.length) return { read: readFrom(known.entries, path), known };
  // Where an insertion or deletion sits is ambiguous when the text around it repeats (a field
  // added at the end of an entry matches the end of the line before it): try both alignments.
  const s = commonSuffix(a, b, common - p);
  const s2 = commonSuffix(a, b, common);
  const p2 = commonPrefix(a, b, common - s2);
  return swapEntry(known, b, p, a.length - s, path) ?? (p2 !== p ? swapEntry(known, b, p2, a.length - s2, path) : undefined);
}

/** The pins of `b`, which is the known file with [from, to) replaced, when that lies inside one entry's own lines. */
function swapEntry(known: Known, b: Buffer, from: number, to: number, path: string): { read: PinsRead; known: Known } | undefined {
  const i = entryAt(known.entries, from);
  const e = i < 0 ? undefined : known.entries[i];
  if (!e || e.fixed || e.end === undefined || from < e.body || to > e.end) return undefined;
  const delta = b.length - known.text.length;
  const newEnd = e.end + delta;
  if (b[newEnd - 1] !== 0x0a) return undefined; // the next key line must still start a line
  const slice = b.subarray(e.start, newEnd);
  if (hasAnchorOrTag(slice)) return undefined;
  const entryText = slice.toString('utf8');
  if (!indentedBelowKey(entryText, known.indent) || entryText.includes('\t') || /^%/m.test(entryText)) return undefined;
  // Read as readPlainly reads a file: js-yaml's core schema. Without `&` there is no anchor, so
  // an alias is an error; so is a duplicate key.
  let doc: unknown;
  try {
    doc = jsYaml.load(entryText, { schema: jsYaml.CORE_SCHEMA });
  } catch {
    return undefined;
  }
  if (!isRecord(doc)) return undefined;
  const keys = Object.keys(doc);
  if (keys.length !== 1 || keys[0] !== e.name) return undefined;
  const value = doc[e.name];
  const entries = known.entries.map((x, j) => (j < i ? x : j === i
    ? { ...x, end: newEnd, pin: toPin(value) }
    : { ...x, start: x.start + delta, body: x.body + delta, end: x.end === undefined ? undefined : x.end + delta }));
  return { read: readFrom(entries, path), known: { text: b, indent: known.indent, entries } };
}

/** What the full parse returns, from the entries (in file order, as the parse gives them). */
function readFrom(entries: Entry[], path: string): PinsRead {
  const pins: Record<string, Pin> = {};
  const unread: string[] = [];
  for (const e of entries) {
    if (e.pin) pins[e.name] = e.pin;
    else unread.push(e.name);
  }
  return { pins, ...(unread.length ? { note: unreadNote(path, unread) } : {}) };
}

function unreadNote(path: string, unread: string[]): string {
  return `${path}: no readable version for ${unread.join(', ')}; left out`;
}

/** The last entry whose key line starts at or before `offset`, or -1. */
function entryAt(entries: Entry[], offset: number): number {
  let lo = 0;
  let hi = entries.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.start <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Every line after the key line is blank, a comment, or indented deeper than the key. */
function indentedBelowKey(entry: string, indent: number): boolean {
  const lines = entry.split('\n');
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k]!;
    const m = /^( *)(.?)/.exec(line)!;
    if (m[2] === '' || m[2] === '#' || m[2] === '\r') continue;
    if (m[1]!.length <= indent) return false;
  }
  return true;
}

function hasAnchorOrTag(bytes: Buffer): boolean {
  return bytes.includes(0x26) || bytes.includes(0x21); // & !
}

const chunk = 4096;

function commonPrefix(a: Buffer, b: Buffer, max: number): number {
  let i = 0;
  while (i + chunk <= max && a.subarray(i, i + chunk).equals(b.subarray(i, i + chunk))) i += chunk;
  while (i < max && a[i] === b[i]) i++;
  return i;
}

function commonSuffix(a: Buffer, b: Buffer, max: number): number {
  let i = 0;
  while (i + chunk <= max && a.subarray(a.length - i - chunk, a.length - i).equals(b.subarray(b.length - i - chunk, b.length - i))) i += chunk;
  while (i < max && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}

function toPin(d: unknown): Pin | undefined {
  if (!isRecord(d) || typeof d.version !== 'string') return undefined;
  const pin: Pin = { version: d.version };
  if (isRecord(d.canary) && typeof d.canary.version === 'string' && typeof d.canary.traffic === 'number') {
    pin.canary = { version: d.canary.version, traffic: d.canary.traffic, ...(d.canary.ab === true ? { ab: true as const } : {}) };
  }
  if (isRecord(d.shadow) && typeof d.shadow.version === 'string') pin.shadow = { version: d.shadow.version };
  return pin;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
