// Durations as Vault clients send them: integer seconds, numeric strings, or Go duration
// strings ("1h30m", "90s", "1.5h"). Everything inside Coffer is whole seconds.
import { invalidField } from './errors.js';

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;

/** Parses a duration into whole seconds (rounded down); throws invalid_request naming `field`. */
export function parseDurationSeconds(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw invalidField(field, 'must be a non-negative duration');
    return Math.floor(value);
  }
  if (typeof value !== 'string')
    throw invalidField(field, 'must be a duration such as "30s" or "1h"');
  const text = value.trim();
  if (text === '') return 0;
  if (/^\d+$/.test(text)) return Number.parseInt(text, 10);
  let total = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  for (;;) {
    const match = PART.exec(text);
    if (match === null) break;
    total += Number.parseFloat(match[1]!) * UNIT_SECONDS[match[2]!]!;
    consumed = PART.lastIndex;
  }
  if (consumed !== text.length || consumed === 0) {
    throw invalidField(field, 'must be a duration such as "30s" or "1h"');
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) {
    throw invalidField(field, 'duration is too large');
  }
  return Math.floor(total);
}

/** Formats seconds the way Go's time.Duration prints them: "0s", "45s", "3h25m19s". */
export function formatGoDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
