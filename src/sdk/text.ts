// Small text rules several layers share with Vault: go-glob matching (token roles, auth
// method bindings, database allowed_roles) and Go's RFC3339Nano time format.

/** go-glob: '*' matches any run of characters (also none); everything else is literal. */
export function globMatch(pattern: string, value: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === value;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (value.length < first.length + last.length) return false;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  let at = first.length;
  const end = value.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = value.indexOf(middle, at);
    if (found === -1 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}

/**
 * Go's RFC3339Nano for an epoch-ms instant: UTC, fraction without trailing zeros, none at all
 * for a whole second ("2026-01-01T00:00:00.12Z", "2026-01-01T00:00:00Z").
 */
export function rfc3339Nano(epochMs: number): string {
  // Requests within one millisecond (audit lines, responses) format the same time.
  if (epochMs === lastNano.ms) return lastNano.text;
  // toISOString always ends ".mmmZ"; its year may have six digits and a sign.
  lastNano = { ms: epochMs, text: new Date(epochMs).toISOString().replace(/\.?0+Z$/, 'Z') };
  return lastNano.text;
}

let lastNano = { ms: Number.NaN, text: '' };
