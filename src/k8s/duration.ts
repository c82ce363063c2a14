// Durations on the k8s command lines: "500ms", "30s", "5m", "1h", or a number of seconds.

/** Milliseconds, or undefined when `text` is not a positive duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
  const ms = Math.round(Number(m[1]) * unit);
  return ms > 0 ? ms : undefined;
}
