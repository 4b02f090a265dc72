// Values from data (manifests, pull requests, git, the systems we read) on their way into
// Markdown for GitHub, HTML, and terminals. Pure. Our own fixed text and numbers need none of
// this; everything else does, including strings that gates build around data (summaries,
// details, error messages quoting a file).
//
// Markdown (mdText) uses character references rather than backslashes: `&#124;` is no cell
// border in a GFM table (cells split on a raw `|`), `&lt;img` is no tag, `&#91;x&#93;(y)` is no
// link, and, unlike a backslash escape, a reference means the same in the raw HTML blocks the
// reports use (`<details><summary>…`), where Markdown escapes are not read. CommonMark treats a
// decoded reference as literal text, never as markup (spec 0.31, "Entity and numeric character
// references").
//
// Mentions and references cannot be escaped at all on GitHub: `\@team` and `&#64;team` still
// notify, because GitHub finds mentions in the rendered text after Markdown is done (see
// github/markup#1168 and github/cmark-gfm#181: "\@github still yields a mention link"; the
// workarounds that do work are a code span or a zero-width space after the @). So a zero-width
// space (U+200B, written `&#8203;`) goes after every `@`, between `#` and a number (issue
// references), and before `://` and after `www` (GFM's extended autolinks need those literally).
// It renders as nothing: the reader sees the same text, and nobody is pinged.

const zwsp = '&#8203;';

/** C0 and C1 controls (tab and newline kept), DEL, and the bidirectional overrides and isolates (Trojan Source). */
const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** A control character as text: `\u001b`, `\u202e` (also a valid JSON escape of the same character). */
const visible = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * For a terminal: escape sequences (ESC), other C0/C1 controls (carriage return and backspace
 * included, which overwrite what was printed) and bidi overrides become visible as `\u001b`,
 * `\u202e`. Tabs and newlines stay. JSON stays valid JSON with the same meaning.
 */
export function terminalText(text: string): string {
  return text.replace(controls, visible);
}

const markdownRefs: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '\\': '&#92;', '`': '&#96;',
  '*': '&#42;', '_': '&#95;', '[': '&#91;', ']': '&#93;', '|': '&#124;', '~': '&#126;', '$': '&#36;',
};

/**
 * A value from data as inline Markdown text, on one line: safe in a paragraph, a heading, a list
 * item, a GFM table cell, and inside raw HTML (`<details><summary>`, `<sub>`). No tag, link,
 * image, autolink, emphasis, code span, math, table border, block (heading, list, quote) or
 * mention can come out of it. Never put it inside a code span (references are literal there):
 * use mdCode for that.
 */
export function mdText(value: unknown): string {
  const text = terminalText(String(value)).replace(/\s*[\n\t]\s*/g, ' ');
  return text
    // `_` between letters or digits cannot emphasise (CommonMark's flanking rules): metric names stay readable
    .replace(/[&<>\\`*[\]|~$@]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])|#(?=\d)|:(?=\/\/)|\bwww(?=\.)/giu, (c) =>
      c === '@' ? `@${zwsp}` : c === '#' ? `#${zwsp}` : c === ':' ? `${zwsp}:` : /^www$/i.test(c) ? `${c}${zwsp}` : markdownRefs[c]!)
    // a block marker at the start of a line (`# `, `- `, `+ `, `= `, `1. `) read as text
    .replace(/^[#=+-](?=[#=+\s-]|$)/, (c) => `&#${c.charCodeAt(0)};`)
    .replace(/^(\d{1,9})([.)])(?=\s|$)/, (_, n: string, c: string) => `${n}&#${c.charCodeAt(0)};`);
}

/**
 * A value from data as a code span (identifiers: refs, names, URIs shown as code): one line, the
 * fence longer than any run of backticks inside. In a table (`table: true`) a `|` is written
 * `\|`, which GFM reads as a pipe inside the cell, code spans included. No mention, link or HTML
 * is rendered inside a code span.
 */
export function mdCode(value: unknown, options: { table?: boolean } = {}): string {
  let text = terminalText(String(value)).replace(/[\n\t]/g, ' ');
  if (options.table) text = text.replace(/\|/g, '\\|');
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || (text.startsWith(' ') && text.endsWith(' ') && text.trim()) ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A fenced code block of lines from data: the fence longer than any run of backticks inside, so no line can close it. */
export function mdFence(lines: string[], info = ''): string[] {
  const body = lines.flatMap((l) => terminalText(l.replace(/\r\n?/g, '\n')).split('\n'));
  const longest = Math.max(0, ...body.flatMap((l) => [...l.matchAll(/`+/g)].map((m) => m[0].length)));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${info}`, ...body, fence];
}

/**
 * A link from data: `[text](<url>)` for an https URL (characters that could end the destination
 * or the link percent-encoded), else the text alone. The text is mdText.
 */
export function mdLink(text: unknown, url: string | undefined): string {
  if (!url || !/^https:\/\/[^\s]+$/.test(url)) return mdText(text);
  const dest = url.replace(/[<>()[\]"'`\\ |]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return `[${mdText(text)}](<${dest}>)`;
}

/** JSON for a hidden `<!-- … -->` marker: `<` and `>` as \u escapes, so no value can close the comment; JSON.parse reads the same data. */
export function commentJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>]/g, (c) => (c === '<' ? '\\u003c' : '\\u003e'));
}

/** A label inside a mermaid chart's double quotes: letters, digits and plain punctuation only. */
export function mermaidLabel(value: unknown): string {
  return String(value).replace(/[^\p{L}\p{N} _.,:;=+\-/%()@]/gu, '?');
}

const htmlRefs: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** A value from data as HTML text or inside a quoted attribute value (either quote). */
export function htmlText(value: unknown): string {
  return terminalText(String(value)).replace(/[&<>"']/g, (c) => htmlRefs[c]!);
}
