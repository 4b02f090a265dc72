// Durations as the policy files write them ("90s", "48h", "7d", "1h30m", "2w") and as messages show them.

/** Parses durations as the schema writes them ("90s", "48h", "7d", "1h30m", "2w") into milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  if (!/^(?:[0-9]+[smhdw])+$/.test(text)) return undefined;
  const unit: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  let total = 0;
  for (const [, n, u] of text.matchAll(/([0-9]+)([smhdw])/g)) total += Number(n) * unit[u!]!;
  return total;
}

/** Formats milliseconds as "1d 2h", "47h 0m", "35m" for messages. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.round(Math.abs(ms) / 60_000);
  const h = Math.floor(rest / 60);
  rest -= h * 60;
  return h > 0 ? `${sign}${h}h${rest ? ` ${rest}m` : ''}` : `${sign}${rest}m`;
}
