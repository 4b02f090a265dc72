// The results table: rows every benchmark returns, the machine they ran on, rendered as plain
// text for the terminal and as Markdown for test/bench/results.md (copied into the README).

import { cpus, totalmem, release } from 'node:os';

export interface Row {
  figure: string;
  target: string;
  measured: string;
  reference: string;
  ratio: string;
  /** whether the target was met; undefined for informational rows */
  met?: boolean;
}

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  node: string;
  os: string;
  date: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() || 'unknown',
    cores: list.length,
    ramGiB: totalmem() / 2 ** 30,
    node: process.version,
    os: `Linux ${release()}`,
    date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

export function describeMachine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.ramGiB.toFixed(1)} GiB RAM, Node ${m.node}, ${m.os}; measured ${m.date}`;
}

const headers = ['figure', 'target', 'measured', 'reference', 'ratio'] as const;

function cells(r: Row): string[] {
  const verdict = r.met === undefined ? '' : r.met ? ' ✓' : ' ✗';
  return [r.figure, r.target + verdict, r.measured, r.reference, r.ratio];
}

/** A fixed-width table for the terminal. */
export function renderText(rows: Row[], m: Machine, notes: string[]): string {
  const body = rows.map(cells);
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((c) => [...c[i]!].length)));
  const line = (c: readonly string[]) => c.map((s, i) => s + ' '.repeat(widths[i]! - [...s].length)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), '', `machine: ${describeMachine(m)}`, ...notes].join('\n');
}

/** The table in Markdown, with when and where each benchmark's figures were measured. */
export function renderMarkdown(rows: Row[], runs: Array<{ name: string; machine: Machine; notes: string[] }>, footer: string): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`),
    '',
    ...runs.flatMap((r) => [`- **${r.name}**: measured ${r.machine.date} on ${describeMachine({ ...r.machine, date: '' }).replace(/; measured $/, '')}.${r.notes.length ? ` ${r.notes.join(' ')}` : ''}`]),
    '',
    footer,
    '',
  ].join('\n');
}

export function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

export function mb(bytes: number): string {
  return `${Math.round(bytes / 1e6)} MB`;
}

export function ratio(value: number, reference: number): string {
  return Number.isFinite(value / reference) ? `${(value / reference).toFixed(2)}×` : 'n/a';
}

export function throughput(bytes: number, wallMs: number): string {
  return `${Math.round(bytes / 2 ** 20 / (wallMs / 1000))} MiB/s`;
}
