// Parsing YAML and JSON text into data, with a way back from a field path to line and column.
//
// Two parsers, on purpose. js-yaml is about twenty times faster than `yaml` and a repository
// holds thousands of version manifests, so well-formed files take the fast path. Anything the
// fast path cannot vouch for (a syntax error, anchors or aliases, tabs) and every file that
// fails its schema is parsed again with `yaml`, whose document model knows where each node is.
// `yaml` is also the only parser used to edit files (comments and order are kept).

import { createRequire } from 'node:module';
import jsYaml from 'js-yaml';
import type { Document, LineCounter, Node } from 'yaml';
import type { Problem } from '../errors.js';

type YamlModule = typeof import('yaml');
let yamlModule: YamlModule | undefined;
/**
 * The `yaml` package, loaded when first needed: a well-formed repository never needs it (js-yaml
 * parses, and positions are looked up only for problems), and loading it costs ~20-40 ms of every
 * command's start-up. (Its "node" export is this same CommonJS build, so `import ... from 'yaml'`
 * elsewhere shares the instance.)
 */
/** The `yaml` library, loaded on first use (most files never need its document model). */
export function yamlLib(): YamlModule {
  return (yamlModule ??= createRequire(import.meta.url)('yaml') as YamlModule);
}

export type PathSegment = string | number;

export interface Limits {
  /** largest file accepted, in bytes */
  maxBytes: number;
  /** most aliases (`*name`) one document may use */
  maxAliases: number;
  /** deepest nesting of collections (sequences and mappings, block or flow) a document may have */
  maxDepth?: number;
}

/** Nesting deeper than this is refused before parsing: both parsers recurse, and 1 MB of `[` would take seconds and end in a stack overflow. */
export const defaultMaxDepth = 100;

export const defaultLimits: Limits = { maxBytes: 1024 * 1024, maxAliases: 20, maxDepth: defaultMaxDepth };

export interface Position {
  line: number;
  col: number;
}

/** A parsed file: its data (undefined when it could not be parsed) and a way to locate fields. */
export interface ParsedText {
  file: string;
  data: unknown;
  problems: Problem[];
  /** Position of the value at `path`, or of its key when `key` is set; the nearest existing parent otherwise. */
  locate(path: PathSegment[], key?: boolean): Position;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes bytes as UTF-8 text, or returns a problem for binary or oversized content. */
export function decodeText(file: string, bytes: Uint8Array, limits: Limits = defaultLimits): string | Problem {
  if (bytes.byteLength > limits.maxBytes) return oversizedProblem(file, bytes.byteLength, limits.maxBytes);
  try {
    return utf8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const lineStart = bytes.lastIndexOf(0x0a, at - 1) + 1;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
    const col = utf8.decode(bytes.subarray(lineStart, at)).length + 1;
    const byte = `0x${bytes[at]!.toString(16).toUpperCase().padStart(2, '0')}`;
    return { file, line, col, path: '', severity: 'error', message: 'file is not UTF-8 text (save it as UTF-8)', expected: 'UTF-8 text', found: `byte ${byte}` };
  }
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence (the input is known to be invalid). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n: number;
    let min = 0x80;
    let max = 0xbf;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) min = 0xa0;
      if (c === 0xed) max = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) min = 0x90;
      if (c === 0xf4) max = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      // a sequence cut short or broken: its first byte is the one reported
      if (d === undefined || d < (k === 1 ? min : 0x80) || d > (k === 1 ? max : 0xbf)) return i;
    }
    i += n + 1;
  }
  return Math.max(0, b.length - 1);
}

/** Parses YAML text into plain data, collecting syntax problems with their positions. */
export function parseYaml(file: string, text: string, limits: Limits = defaultLimits): ParsedText {
  const deep = tooDeep(file, text, limits.maxDepth ?? defaultMaxDepth);
  if (deep) return deep;
  // Anchors and aliases take the precise path, which counts aliases against the limit (a few
  // anchors nesting each other make a document that expands exponentially). A tab does too: the
  // two parsers disagree on tabs. An `&` or `*` in the text is most often no anchor at all (a
  // quoted cron line "0 2 * * *", "R&D"), so rather than guess from the characters, js-yaml is
  // asked: every anchor it reads goes into its state's anchorMap, and an alias can only name one
  // of those (an unknown one is an error), so a document whose anchorMap stays empty has none.
  if (!text.includes('\t')) {
    let anchored = false;
    const listener = /[&*]/.test(text)
      ? (_event: string, state: { anchorMap?: unknown }) => {
        const anchors = state.anchorMap;
        // not the object it should be (another js-yaml): assume the worst
        if (anchors === null || typeof anchors !== 'object') anchored = true;
        else for (const _ in anchors) { anchored = true; break; }
      }
      : undefined;
    try {
      const data = jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA, filename: file, ...(listener ? { listener: listener as jsYaml.LoadOptions['listener'] } : {}) });
      if (!anchored) return { file, data: data ?? null, problems: [], locate: lazyLocator(file, text) };
    } catch {
      // fall through: the precise parser explains what is wrong and where
    }
  }
  return parseYamlPrecisely(file, text, limits);
}

/** Parses YAML with the `yaml` document model only: every problem, with positions. */
export function parseYamlPrecisely(file: string, text: string, limits: Limits = defaultLimits): ParsedText {
  const deep = tooDeep(file, text, limits.maxDepth ?? defaultMaxDepth);
  if (deep) return deep;
  const { LineCounter, parseDocument } = yamlLib();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, strict: true, prettyErrors: false });
  const problems: Problem[] = [];
  const at = (offset: number): Position => lineCounter.linePos(offset);

  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = at(e.pos[0]);
    problems.push({
      file, ...pos, path: '', severity: 'error',
      message: syntaxMessage(e.code, e.message, doc, e.pos[0]),
    });
  }
  for (const p of tabIndentation(text)) {
    if (!problems.some((q) => q.line === p.line)) {
      problems.push({ file, ...p, path: '', severity: 'error', message: 'tab used for indentation; YAML indentation must be spaces' });
    }
  }

  let data: unknown;
  if (problems.length === 0) {
    const aliases = countAliases(doc, limits.maxAliases);
    if (aliases.count > limits.maxAliases) {
      problems.push({
        file, ...at(aliases.firstBeyondLimit ?? 0), path: '', severity: 'error',
        message: `too many aliases: ${aliases.count}; at most ${limits.maxAliases} are allowed (anchor and alias expansion is bounded to keep parsing safe)`,
        expected: `at most ${limits.maxAliases} aliases`, found: String(aliases.count),
      });
    } else {
      try {
        data = doc.toJS({ maxAliasCount: limits.maxAliases * 10 }) ?? null;
      } catch (e) {
        problems.push({ file, line: 1, col: 1, path: '', severity: 'error', message: `cannot read the document: ${(e as Error).message}` });
      }
    }
  }
  return { file, data, problems, locate: locatorFor(doc, lineCounter) };
}

/** A parse result carrying the nesting problem, when the text nests deeper than `max`. */
function tooDeep(file: string, text: string, max: number): ParsedText | undefined {
  const d = nestingDepth(text, max);
  if (!d.beyond) return undefined;
  const pos = d.beyond;
  return {
    file, data: undefined, locate: () => pos,
    problems: [{
      file, ...pos, path: '', severity: 'error',
      message: `nesting too deep: ${d.depth} levels; at most ${max} are allowed (nesting is bounded to keep parsing safe)`,
      expected: `at most ${max} levels of nesting`, found: `${d.depth} levels`,
    }],
  };
}

/**
 * How deeply the text nests collections, from a scan of its characters (no parser: both recurse).
 * A conservative count: flow brackets outside quotes and comments, plus, for block collections,
 * one level per increase of indentation and one per compact `- `/`? ` on a line. Block scalar
 * contents (after `|` or `>`) are skipped. `beyond` is where the depth first exceeds `max`.
 */
export function nestingDepth(text: string, max: number): { depth: number; beyond?: Position } {
  // Read by character code on the text itself, no line copied: this scan runs before every
  // parse, and on a year of version files it cost a quarter of validate's parsing.
  let depth = 0;
  let beyond: Position | undefined;
  let flow = 0;
  let quote = 0; // the open quote's character code, 0 outside quotes
  const indents: number[] = [];
  let scalarIndent: number | undefined;
  let base = 0;
  const note = (d: number, line: number, col: number) => {
    if (d > depth) depth = d;
    if (d > max && !beyond) beyond = { line, col };
  };
  let line = 0;
  let start = 0;
  let nextPipe = text.indexOf('|');
  let nextMore = text.indexOf('>');
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    const from = start;
    start = end + 1;
    let i = from;
    if (!quote && flow === 0) {
      while (i < end && text.charCodeAt(i) === SPACE) i++;
      const first = text.charCodeAt(i);
      const blank = i >= end || first === HASH || first === CR;
      if (scalarIndent !== undefined) {
        if (blank || i - from > scalarIndent) continue;
        scalarIndent = undefined;
      }
      if (blank) continue;
      const indent = i - from;
      while (indents.length && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      // the line's first `- ` is the collection at its indentation; each further one nests a level
      let block = indents.length - 1;
      for (let c = text.charCodeAt(i); (c === DASH || c === QUESTION) && (i + 1 >= end || text.charCodeAt(i + 1) === SPACE); c = text.charCodeAt(i)) {
        note(++block, line, i - from + 1);
        i += 2;
        while (i < end && text.charCodeAt(i) === SPACE) i++;
      }
      // a line that opens with `[` or `{` is that flow collection, not a block one holding it
      block = Math.max(block, indents.length);
      const opens = text.charCodeAt(i);
      base = i < end && (opens === OPEN_SQUARE || opens === OPEN_CURLY) ? block - 1 : block;
      note(base, line, i - from + 1);
      // a block scalar's indicator: only a line with a `|` or `>` can have one (the next of each
      // in the text is found again only once passed, so the text is searched once in all)
      if (nextPipe >= 0 && nextPipe < i) nextPipe = text.indexOf('|', i);
      if (nextMore >= 0 && nextMore < i) nextMore = text.indexOf('>', i);
      if (((nextPipe >= 0 && nextPipe < end) || (nextMore >= 0 && nextMore < end)) && blockScalarStart.test(text.slice(i, end))) scalarIndent = indents[indents.length - 1]!;
    }
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      if (quote) {
        if (quote === DOUBLE_QUOTE && c === BACKSLASH) i++;
        else if (c === quote) {
          if (quote === SINGLE_QUOTE && i + 1 < end && text.charCodeAt(i + 1) === SINGLE_QUOTE) i++;
          else quote = 0;
        }
        continue;
      }
      const prev = i === from ? SPACE : text.charCodeAt(i - 1);
      if (c === HASH && (prev === SPACE || prev === TAB)) break;
      if ((c === DOUBLE_QUOTE || c === SINGLE_QUOTE) && (prev === SPACE || prev === TAB || prev === OPEN_SQUARE || prev === OPEN_CURLY || prev === COMMA || prev === COLON)) quote = c;
      else if (c === OPEN_SQUARE || c === OPEN_CURLY) note(base + ++flow, line, i - from + 1);
      else if ((c === CLOSE_SQUARE || c === CLOSE_CURLY) && flow > 0) flow--;
    }
    if (end === text.length) break;
  }
  return beyond ? { depth, beyond } : { depth };
}

const blockScalarStart = /(?:^|[\s:-])[|>][-+0-9]*[ \t]*(?:#.*)?\r?$/;
const [SPACE, TAB, CR, HASH, DASH, QUESTION, OPEN_SQUARE, OPEN_CURLY, CLOSE_SQUARE, CLOSE_CURLY, COMMA, COLON, DOUBLE_QUOTE, SINGLE_QUOTE, BACKSLASH] =
  [...' \t\r#-?[{]},:"\'\\'].map((c) => c.charCodeAt(0)) as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];

/** Parses JSON text strictly (RFC 8259), reporting syntax errors and duplicate keys with their positions. */
export function parseJson(file: string, text: string, limits: Limits = defaultLimits): ParsedText {
  const deep = tooDeep(file, text, limits.maxDepth ?? defaultMaxDepth);
  if (deep) return deep;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const m = /position (\d+)/.exec(message);
    const pos = m ? offsetToPosition(text, Number(m[1])) : { line: 1, col: 1 };
    const what = message.replace(/^Unexpected token/, 'unexpected character').replace(/ in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, '');
    return {
      file, data: undefined, locate: () => pos,
      problems: [{ file, ...pos, path: '', severity: 'error', message: `invalid JSON: ${what}`, expected: 'valid JSON', found: describeJsonAt(text, m ? Number(m[1]) : 0) }],
    };
  }
  // JSON is YAML: the document model gives positions and finds duplicate keys JSON.parse hides.
  const { LineCounter, parseDocument } = yamlLib();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problems: Problem[] = doc.errors
    .filter((e) => e.code === 'DUPLICATE_KEY')
    .map((e) => ({ file, ...lineCounter.linePos(e.pos[0]), path: '', severity: 'error' as const, message: syntaxMessage(e.code, e.message, doc, e.pos[0]) }));
  return { file, data: problems.length ? undefined : data, problems, locate: locatorFor(doc, lineCounter) };
}

/** A locator that parses the text with the document model only when a position is first asked for. */
export function lazyLocator(file: string, text: string): ParsedText['locate'] {
  let locate: ParsedText['locate'] | undefined;
  return (path, key) => {
    locate ??= parseYamlPrecisely(file, text).locate;
    return locate(path, key);
  };
}

function locatorFor(doc: Document, lineCounter: LineCounter): ParsedText['locate'] {
  const { isMap, isPair, isSeq } = yamlLib();
  return (path, key = false) => {
    let node: unknown = doc.contents;
    let best: Position = node && (node as Node).range ? lineCounter.linePos((node as Node).range![0]) : { line: 1, col: 1 };
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (!pair) return best;
        const keyNode = pair.key as Node | null;
        if (last && key && keyNode?.range) return lineCounter.linePos(keyNode.range[0]);
        node = pair.value;
        const target = (node as Node | null)?.range ? (node as Node) : keyNode;
        if (target?.range) best = lineCounter.linePos(target.range[0]);
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)] as Node | undefined;
        if (!item) return best;
        node = item;
        if (item.range) best = lineCounter.linePos(item.range[0]);
      } else {
        return best;
      }
    }
    return best;
  };
}

function keyText(key: unknown): string {
  if (yamlLib().isScalar(key)) return String(key.value);
  return String(key);
}

function syntaxMessage(code: string, message: string, doc: Document, offset: number): string {
  switch (code) {
    case 'DUPLICATE_KEY': {
      const name = keyAt(doc, offset);
      return name !== undefined ? `duplicate key "${name}": a key may appear only once in a mapping` : 'duplicate key: a key may appear only once in a mapping';
    }
    case 'TAB_AS_INDENT':
      return 'tab used for indentation; YAML indentation must be spaces';
    case 'MULTIPLE_DOCS':
      return 'more than one YAML document in the file; expected exactly one';
    default:
      return `invalid YAML: ${message.split('\n')[0]}`;
  }
}

function keyAt(doc: Document, offset: number): string | undefined {
  let found: string | undefined;
  const { visit } = yamlLib();
  visit(doc, {
    Pair(_, pair) {
      const k = pair.key as Node | null;
      if (k?.range && k.range[0] === offset) {
        found = keyText(k);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

function countAliases(doc: Document, limit: number): { count: number; firstBeyondLimit?: number } {
  let count = 0;
  let firstBeyondLimit: number | undefined;
  const { visit } = yamlLib();
  visit(doc, {
    Alias(_, node) {
      count++;
      if (firstBeyondLimit === undefined && count > limit && node.range) firstBeyondLimit = node.range[0];
    },
  });
  return { count, firstBeyondLimit };
}

function* tabIndentation(text: string): Generator<Position> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^[ \t]*/.exec(lines[i]!)![0];
    const tab = m.indexOf('\t');
    if (tab >= 0 && lines[i]!.trim() !== '') yield { line: i + 1, col: tab + 1 };
  }
}

export function offsetToPosition(text: string, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

function describeJsonAt(text: string, offset: number): string {
  if (offset >= text.length) return 'the end of the file';
  return JSON.stringify(text.slice(offset, offset + 12));
}

/** The problem for a file larger than the limit; it is rejected without being parsed. */
export function oversizedProblem(file: string, size: number, maxBytes: number): Problem {
  return fileProblem(file, `file is ${formatBytes(size)}; expected at most ${formatBytes(maxBytes)}`, `at most ${formatBytes(maxBytes)}`, formatBytes(size));
}

function fileProblem(file: string, message: string, expected: string, found: string): Problem {
  return { file, line: 0, col: 0, path: '', severity: 'error', message, expected, found };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

