// PinReader reads a walk's successive environment files, parsing only the edited entry when it
// can. Whatever the edit, it must give exactly what readPins (a full parse) gives: these tests
// read sequences of files through both and compare, for plain edits (which must take the
// one-entry path) and for the shapes where an entry read alone could mislead (flow style, quoted
// keys, anchors and aliases, tags and directives, comments, block scalars, broken YAML).
import t, { type Test } from 'tap';
import { PinReader, readPins } from '../../src/config/pins.js';

const path = 'environments/production.yaml';

function entry(name: string, version: string, extra = ''): string {
  return `  ${name}:\n    version: ${version}\n    online:\n      replicas: { min: 2, max: 4 }\n${extra}`;
}
function file(entries: string[], head = 'name: production\n', tail = ''): string {
  return `${head}models:\n${entries.join('')}${tail}`;
}
const base = ['a', 'b', 'c', 'd'].map((m) => entry(m, '2025.01.01-1'));

/** Reads `texts` in order through one PinReader and through readPins; returns the reader's stats. */
function same(t: Test, texts: Array<string | undefined>, label: string) {
  const reader = new PinReader(path);
  texts.forEach((text, i) => {
    const bytes = text === undefined ? undefined : Buffer.from(text);
    t.same(reader.read(bytes, undefined), readPins(bytes, path), `${label}: file ${i}`);
  });
  return reader.stats;
}

t.test('a one-entry edit is read from that entry alone, and gives what the full parse gives', async (t) => {
  const edits = [
    file(base),
    file([base[0]!, entry('b', '2025.01.02-1'), base[2]!, base[3]!]),
    file([base[0]!, entry('b', '2025.01.02-1', '    canary: { version: 2025.01.03-1, traffic: 10 }\n'), base[2]!, base[3]!]),
    file([base[0]!, entry('b', '2025.01.02-1', '    shadow:\n      version: 2025.01.04-1\n'), base[2]!, base[3]!]),
    file([entry('a', '2025.02.01-1'), entry('b', '2025.01.02-1', '    shadow:\n      version: 2025.01.04-1\n'), base[2]!, base[3]!]),
    // an entry that loses its version: left out, with the note
    file([entry('a', '2025.02.01-1'), '  b:\n    online: {}\n', base[2]!, base[3]!]),
    file([entry('a', '2025.02.01-1'), entry('b', '2025.01.02-1', '    # a comment\n\n# another, at column 0\n    reason: rolled back\n'), base[2]!, base[3]!]),
    // a block scalar inside the entry, whose lines look like keys
    file([entry('a', '2025.02.01-1'), entry('b', '2025.01.02-1', '    reason: |\n      c:\n        version: 9.9.9\n'), base[2]!, base[3]!]),
  ];
  edits.push(file([entry('a', '2025.02.01-1'), entry('b', '2025.01.02-1', '    reason: |\n      c:\n        version: 9.9.9\n'), base[2]!, entry('d', '2025.03.03-1')]));
  edits.push(file([entry('a', '2025.02.01-1'), entry('b', '2025.01.02-1', '    reason: |\n      c:\n        version: 9.9.9\n'), base[2]!, entry('d', '2025.03.03-1', '# a comment at the end\n')]));
  const stats = same(t, edits, 'plain edits');
  t.equal(stats.full, 1, 'only the first file is parsed in full');
  t.equal(stats.entry, edits.length - 1);
  const tail = 'kubernetes:\n  namespace: ml\n';
  t.equal(same(t, [file(base, undefined, tail), file([...base.slice(0, 3), entry('d', '2025.03.04-1', '    # comment\n')], undefined, tail)], 'the last entry before another top-level key').entry, 1);
  // the same sequence oldest first
  t.equal(same(t, [...edits].reverse(), 'reversed').full, 1);
});

t.test('edits that reach beyond one entry are parsed in full', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['an edited key line', [file(base), file([base[0]!, entry('bb', '2025.01.01-1'), base[2]!, base[3]!])]],
    ['a duplicate key inside the entry', [file(base), file([base[0]!, entry('b', '2025.01.01-1', '    version: 2025.09.09-1\n'), base[2]!, base[3]!])]],
    ['an edit across two entries', [file(base), file([base[0]!, entry('b', '2025.01.05-1'), entry('c', '2025.01.05-1'), base[3]!])]],
    ['an edit outside models', [file(base), file(base, 'name: prod\n')]],
    ['a key after the models, and an edit across it', [file(base, 'name: p\n', 'kubernetes:\n  namespace: x\n'), file(base.slice(0, 3), 'name: p\n', '  d:\n    version: 2\nkubernetes:\n  namespace: y\n')]],
    ['the last entry without a final line end', [file(base), file(base).slice(0, -1)]],
    ['a document end marker after the last entry', [file(base), `${file(base)}...\n`]],
    ['a line dedented to the key', [file(base), file([base[0]!, entry('b', '2025.01.01-1', '  e:\n    version: 2025.07.07-1\n'), base[2]!, base[3]!])]],
    ['a new entry after the edited one', [file(base), file([base[0]!, '  b:\n    version: 1\n  x:\n    version: 2\n', base[2]!, base[3]!])]],
    ['an unterminated flow mapping', [file(base), file([base[0]!, '  b:\n    version: 2025.01.01-1\n    online: { replicas: 3\n', base[2]!, base[3]!])]],
    ['a tab', [file(base), file([base[0]!, '  b:\n\tversion: 2025.01.01-1\n', base[2]!, base[3]!])]],
    ['a document marker', [file(base), file([base[0]!, '  b:\n    version: 2025.01.01-1\n---\n', base[2]!, base[3]!])]],
    ['a deleted file in between', [file(base), undefined as unknown as string, file([base[0]!, entry('b', '2')!, base[2]!, base[3]!])]],
  ];
  for (const [label, texts] of cases) same(t, texts, label);
});

t.test('anchors, aliases, tags and directives: never read from one entry', async (t) => {
  const anchored = file([base[0]!, '  b: &b\n    version: 2025.01.01-1\n', '  c: *b\n', base[3]!]);
  const anchoredEdit = file([base[0]!, '  b: &b\n    version: 2025.05.05-1\n', '  c: *b\n', base[3]!]);
  let stats = same(t, [anchored, anchoredEdit], 'an edit of an anchored entry changes its alias too');
  t.equal(stats.entry, 0);

  const inner = file([base[0]!, '  b:\n    version: &v 2025.01.01-1\n', '  c:\n    version: *v\n', base[3]!]);
  same(t, [inner, file([base[0]!, '  b:\n    version: &v 2025.06.06-1\n', '  c:\n    version: *v\n', base[3]!])], 'an anchored scalar');
  // an alias added to an entry refers to an anchor elsewhere: the entry alone does not parse
  const defaults = file(base, 'name: production\ndefaults: &d\n  version: 2025.08.08-1\n');
  stats = same(t, [defaults, file([base[0]!, '  b: *d\n', base[2]!, base[3]!], 'name: production\ndefaults: &d\n  version: 2025.08.08-1\n'),
    file([base[0]!, '  b:\n    version: *dv\n', base[2]!, base[3]!], 'name: production\ndv: &dv 2025.08.08-1\n')], 'aliases to anchors outside the entry');
  same(t, [file(base), file([base[0]!, '  b:\n    version: !!str 2025.01.09-1\n', base[2]!, base[3]!])], 'a tag');
  same(t, [file(base, '%YAML 1.1\n---\nname: production\n'), file([base[0]!, entry('b', '2025.01.02-1'), base[2]!, base[3]!], '%YAML 1.1\n---\nname: production\n')], 'a %YAML directive');
});

t.test('flow style and quoted keys', async (t) => {
  same(t, ['name: p\nmodels: { a: { version: "1" }, b: { version: "2" } }\n', 'name: p\nmodels: { a: { version: "1" }, b: { version: "3" } }\n'], 'a flow mapping of models');
  const quoted = (v: string) => file([`  "a":\n    version: 1\n`, `  'b c':\n    version: ${v}\n`, '  "d\\u0065":\n    version: 1\n', base[3]!]);
  const stats = same(t, [quoted('1'), quoted('2'), file([`  "a":\n    version: 7\n`, `  'b c':\n    version: 8\n`, '  "d\\u0065":\n    version: 1\n', base[3]!])], 'quoted keys');
  t.ok(stats.entry >= 1, 'a quoted key is still read from its entry alone');
  same(t, [file(base), file([base[0]!, '  b: { version: 2025.01.02-1 }\n', base[2]!, base[3]!]), file([base[0]!, '  b: {\n    version: 2025.01.03-1 }\n', base[2]!, base[3]!])], 'an entry in flow style');
  same(t, [file(base), file([base[0]!, '  b:\n    version: "2025.01.02-1\n      continued"\n', base[2]!, base[3]!])], 'a multi-line quoted scalar');
  same(t, [file(base), file([base[0]!, '  b:\n    version: 2025.01.02-1 # pinned by ops\n', base[2]!, base[3]!])], 'a trailing comment');
  same(t, [file(base), file([base[0]!, '  b:\n    version: [1, 2]\n', base[2]!, base[3]!])], 'a version that is not a string');
  same(t, [file(base), file([base[0]!, '  b:\n    version: "é—ü"\n', base[2]!, base[3]!]), file([base[0]!, '  b:\n    version: "ü"\n', base[2]!, base[3]!])], 'multi-byte characters');
  same(t, [file(base, 'name: "naïve — ünïcode"\n'), file([base[0]!, entry('b', '2025.01.02-1'), base[2]!, base[3]!], 'name: "naïve — ünïcode"\n')], 'multi-byte characters before the models');
  same(t, [file(base).replaceAll('\n', '\r\n'), file([base[0]!, entry('b', '2025.01.02-1'), base[2]!, base[3]!]).replaceAll('\n', '\r\n')], 'CRLF line ends');
});

t.test('the same blob is read once', async (t) => {
  const reader = new PinReader(path);
  const a = Buffer.from(file(base));
  const first = reader.read(a, 'blob-1');
  t.equal(reader.read(Buffer.from('not: [what the id says'), 'blob-1'), first, 'a known blob id answers from the cache');
  t.same(reader.stats, { full: 1, entry: 0, cached: 1 });
  t.same(reader.read(undefined, undefined), { pins: {} }, 'a deleted file pins nothing');
});

t.test('a file that does not parse is no base for the next one', async (t) => {
  const stats = same(t, [file(base), 'models: [oops\n', file([base[0]!, entry('b', '2025.01.02-1'), base[2]!, base[3]!])], 'broken in between');
  t.equal(stats.full, 2, 'the broken file is parsed in full; the next is read against the last good one');
  t.equal(stats.entry, 1);
});

t.test('random edits of random lines give what the full parse gives', async (t) => {
  // Deterministic: a small seeded generator, so a failure replays.
  let seed = 16;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const snippets = ['    version: 2025.01.0X-1', '    canary: { version: 2025.02.02-1, traffic: 5 }', '  e:', '    version: &v 1', '    version: *v', '    reason: |',
    '      text: x', '# c', '', '    version: "q', '    version: [1,', '    shadow:', '      version: s', '\tversion: t', '    version: !!str 7', '  "b":', '    online: {}'];
  const reader = new PinReader(path);
  let text = file(['a', 'b', 'c', 'd', 'e', 'f'].map((m) => entry(m, '2025.01.01-1')));
  let mismatches = 0;
  let good = text;
  for (let k = 0; k < 400; k++) {
    const lines = text.split('\n');
    const at = 1 + rand(lines.length - 1);
    const op = rand(6);
    const versionLines = lines.flatMap((l, i) => (/^    version: \d/.test(l) ? [i] : []));
    if (op >= 3 && versionLines.length) lines[versionLines[rand(versionLines.length)]!] = `    version: 2025.0${rand(9)}.01-1`;
    else if (op === 0) lines[at] = snippets[rand(snippets.length)]!.replace('X', String(rand(9)));
    else if (op === 1) lines.splice(at, 0, snippets[rand(snippets.length)]!.replace('X', String(rand(9))));
    else if (lines.length > 4) lines.splice(at, 1);
    text = lines.join('\n');
    const bytes = Buffer.from(text);
    const full = readPins(bytes, path);
    if (JSON.stringify(reader.read(bytes)) !== JSON.stringify(full)) mismatches++;
    // a broken or anchored file is read; the next edit starts again from the last plain one
    if (full.note?.includes('does not parse') || /[&!]/.test(text)) text = good;
    else good = text;
    // now and then start again from a clean file, so the walk is not stuck on broken YAML
    if (k % 40 === 39) text = good = file(['a', 'b', 'c', 'd', 'e', 'f'].map((m) => entry(m, `2025.01.0${rand(9)}-1`)));
  }
  t.equal(mismatches, 0);
  t.ok(reader.stats.entry > 20, `many edits were read from one entry (${reader.stats.entry})`);
});
