// Output formatting for the CLI, shaped like the Vault CLI's: Key/Value tables aligned with four
// spaces, Go-style `%v` values, "== Title ==" headers, human durations, pretty JSON.
import type { ApiResponse, AuthInfo } from '../client/index.js';
import { stringify as stringifyYaml } from 'yaml';

/** Space between columns, as in the Vault CLI (columnize glue). */
const GLUE = '    ';
/** What an empty cell shows, as in the Vault CLI. */
const EMPTY_CELL = 'n/a';

/**
 * Aligns rows into columns: every column but the last is padded to its widest cell. With a
 * header, a row of dashes as long as each header word follows it.
 */
export function formatColumns(
  rows: readonly (readonly string[])[],
  header?: readonly string[],
): string {
  const all: string[][] = [];
  if (header !== undefined) {
    all.push(
      [...header],
      header.map((h) => '-'.repeat(h.length)),
    );
  }
  for (const row of rows) all.push(row.map((cell) => (cell === '' ? EMPTY_CELL : cell)));
  const widths: number[] = [];
  for (const row of all) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return all
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join(GLUE)
        .trimEnd(),
    )
    .join('\n');
}

/** A two-column "Key / Value" table. */
export function formatKeyValueTable(rows: readonly (readonly [string, string])[]): string {
  return formatColumns(rows, ['Key', 'Value']);
}

/** A Key/Value table of a map, keys sorted, values in Go `%v` style. */
export function formatMapTable(map: Readonly<Record<string, unknown>>): string {
  return formatKeyValueTable(
    Object.keys(map)
      .sort()
      .map((key) => [key, formatValue(map[key])] as const),
  );
}

/**
 * Renders a JSON value the way Go's `%v` prints what encoding/json decoded, which is what the
 * Vault CLI shows in tables: null → "<nil>", arrays → "[a b]", objects → "map[k:v]" (sorted).
 */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(formatValue).join(' ')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const parts = Object.keys(record)
      .sort()
      .map((key) => `${key}:${formatValue(record[key])}`);
    return `map[${parts.join(' ')}]`;
  }
  return JSON.stringify(value) ?? '';
}

/**
 * Seconds as a Go duration without zero tails, like the Vault CLI's `humanDuration`:
 * 2764800 → "768h", 90 → "1m30s", 3660 → "1h1m", 3601 → "1h1s", 0 → "0s".
 */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '0s';
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  let out = '';
  if (h > 0) out += `${h}h`;
  if (m > 0) out += `${m}m`;
  if (s > 0 || out === '') out += `${s}s`;
  return out;
}

/**
 * "==== Title ====" sized to `totalLen`, as the Vault CLI pads section titles. Unlike Vault,
 * there are always at least two signs on each side.
 */
export function padEqualSigns(title: string, totalLen: number): string {
  let signs = Math.max(totalLen - (title.length + 2), 4);
  if (signs % 2 !== 0) signs += 1;
  const side = '='.repeat(signs / 2);
  return `${side} ${title} ${side}`;
}

/** A section title as wide as the Key/Value table of `map` below it. */
export function headerForMap(title: string, map: Readonly<Record<string, unknown>>): string {
  const maxKey = Math.max(0, ...Object.keys(map).map((key) => key.length));
  return padEqualSigns(title, maxKey + GLUE.length + 'Value'.length);
}

/** "Keys / ----" list of `vault list`. */
export function formatKeysList(keys: readonly string[]): string {
  return formatColumns(
    keys.map((key) => [key]),
    ['Keys'],
  );
}

/** Pretty JSON with two-space indentation. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}

/** `-format=yaml`: the JSON value in YAML block style (without a trailing newline). */
export function formatYaml(value: unknown): string {
  return stringifyYaml(value ?? null).replace(/\n$/, '');
}

/** A `-field` value: strings raw, other scalars as text, structures as compact JSON. */
export function formatRawField(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '';
}

/**
 * The rows `vault read` prints for a response: lease facts (or `refresh_interval` for a lease
 * without an id), auth and wrapping facts, then the data keys sorted.
 */
export function secretRows(response: ApiResponse): [string, string][] {
  const rows: [string, string][] = [];
  const leaseSeconds = response.lease_duration ?? 0;
  if (leaseSeconds > 0) {
    if (response.lease_id !== undefined && response.lease_id !== '') {
      rows.push(['lease_id', response.lease_id]);
      rows.push(['lease_duration', humanDuration(leaseSeconds)]);
      rows.push(['lease_renewable', String(response.renewable ?? false)]);
    } else {
      rows.push(['refresh_interval', humanDuration(leaseSeconds)]);
    }
  }
  const auth = response.auth;
  if (auth !== null && auth !== undefined) rows.push(...authRows(auth));
  const wrap = response.wrap_info;
  if (wrap !== null && wrap !== undefined) {
    rows.push(['wrapping_token:', wrap.token]);
    rows.push(['wrapping_accessor:', wrap.accessor]);
    rows.push(['wrapping_token_ttl:', humanDuration(wrap.ttl)]);
    rows.push(['wrapping_token_creation_time:', wrap.creation_time]);
    rows.push(['wrapping_token_creation_path:', wrap.creation_path]);
  }
  const data = response.data ?? {};
  for (const key of Object.keys(data).sort()) rows.push([key, formatDataValue(key, data[key])]);
  return rows;
}

/**
 * What `-field` may name in a response: its data keys plus, for a response with an auth
 * block (a login, a token creation), Vault's token_* fields.
 */
export function fieldMap(response: ApiResponse): Record<string, unknown> {
  const auth = response.auth;
  const data = response.data ?? {};
  const map: Record<string, unknown> = { ...data };
  const wrap = response.wrap_info;
  if ((auth === null || auth === undefined) && wrap !== null && wrap !== undefined) {
    map['wrapping_token'] = wrap.token;
    map['wrapping_accessor'] = wrap.accessor;
    map['wrapping_token_ttl'] = wrap.ttl;
    map['wrapping_token_creation_time'] = wrap.creation_time;
    map['wrapping_token_creation_path'] = wrap.creation_path;
    if (wrap.wrapped_accessor !== undefined) map['wrapped_accessor'] = wrap.wrapped_accessor;
    return map;
  }
  if (auth === null || auth === undefined) {
    // As Vault's CLI (RawField): the response's top level wins over a data key of that name;
    // `data` is KV v2's inner data, else the whole data.
    map['lease_duration'] = response.lease_duration ?? 0;
    map['lease_id'] = response.lease_id ?? '';
    map['request_id'] = response.request_id ?? '';
    map['renewable'] = response.renewable ?? false;
    map['refresh_interval'] = response.lease_duration ?? 0;
    map['data'] = Object.hasOwn(data, 'data') ? data['data'] : data;
    return map;
  }
  map['token'] = auth.client_token;
  map['token_accessor'] = auth.accessor;
  map['token_duration'] = auth.lease_duration;
  map['token_renewable'] = auth.renewable;
  map['token_policies'] = auth.token_policies ?? auth.policies ?? [];
  map['identity_policies'] = auth['identity_policies'] ?? [];
  map['policies'] = auth.policies ?? [];
  return map;
}

/** Go's `%q` of a string list, as the Vault CLI prints policies: `["default" "ops"]`. */
export function formatQuotedList(list: readonly string[] | null | undefined): string {
  return `[${(list ?? []).map((item) => JSON.stringify(item)).join(' ')}]`;
}

/**
 * The rows the Vault CLI prints for an `auth` block. `withToken: false` leaves the token row
 * out (`coffer login` never prints the token it stored). A lease duration of 0 is "∞".
 */
export function authRows(
  auth: AuthInfo,
  options: { readonly withToken?: boolean } = {},
): [string, string][] {
  const rows: [string, string][] = [];
  if (options.withToken ?? true) rows.push(['token', auth.client_token]);
  rows.push(['token_accessor', auth.accessor]);
  rows.push(['token_duration', auth.lease_duration > 0 ? humanDuration(auth.lease_duration) : '∞']);
  rows.push(['token_renewable', String(auth.renewable)]);
  rows.push(['token_policies', formatQuotedList(auth.token_policies ?? auth.policies)]);
  const identity = auth['identity_policies'];
  rows.push([
    'identity_policies',
    formatQuotedList(Array.isArray(identity) ? identity.map(String) : []),
  ]);
  rows.push(['policies', formatQuotedList(auth.policies)]);
  const metadata = auth.metadata ?? {};
  for (const key of Object.keys(metadata).sort()) {
    rows.push([`token_meta_${key}`, metadata[key] ?? '']);
  }
  return rows;
}

/** Keys whose value the Vault CLI shows as a duration: `ttl`, `period`, `*_ttl`, `*_period`. */
function looksLikeDuration(key: string): boolean {
  return key === 'ttl' || key === 'period' || key.endsWith('_ttl') || key.endsWith('_period');
}

/** A data value in a table: durations for TTL-like keys holding seconds, else `%v`. */
export function formatDataValue(key: string, value: unknown): string {
  if (looksLikeDuration(key)) {
    if (typeof value === 'number' && Number.isFinite(value)) return humanDuration(value);
    if (typeof value === 'string' && /^\d+$/.test(value)) return humanDuration(Number(value));
  }
  return formatValue(value);
}

/** The warning block the Vault CLI prints above a table, or "" when there are none. */
export function formatWarnings(response: ApiResponse | undefined): string {
  const warnings = response?.warnings ?? [];
  if (warnings.length === 0) return '';
  return ['WARNING! The following warnings were returned from Coffer:', '']
    .concat(warnings.map((w) => `  * ${w}`))
    .join('\n');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An RFC 3339 time as Go's RFC 822 layout in UTC ("02 Jan 06 15:04 UTC"); raw if unparsable. */
export function formatRfc822(time: string): string {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return time;
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  const month = MONTHS[d.getUTCMonth()] ?? '';
  return `${two(d.getUTCDate())} ${month} ${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`;
}
