// Audit device options: validates the `options` map of `sys/audit/:path` per device type
// (Vault's names, plus Coffer's fsync, checkpoint_interval and write_timeout) and normalises
// them into a typed config and the string map `GET sys/audit` shows.
import { isAbsolute } from 'node:path';
import { invalidField } from '../../sdk/errors.js';
import { parseBool } from '../../sdk/fields.js';
import { DEFAULT_CHECKPOINT_INTERVAL } from './chain.js';

export type AuditDeviceType = 'file' | 'socket';

interface CommonConfig {
  /** Vault's hmac_accessor: HMAC token accessors too (default true). */
  readonly hmacAccessor: boolean;
  /** Written before each line's JSON; part of the hashed line bytes. */
  readonly prefix: string;
  /** Lines between signed checkpoints. */
  readonly checkpointInterval: number;
  /** A batch not handed to the OS within this many ms counts as failed on this device. */
  readonly writeTimeoutMs: number;
}

export interface FileDeviceConfig extends CommonConfig {
  readonly type: 'file';
  /** Absolute path of the log file. */
  readonly filePath: string;
  /** Permission bits the file is created and kept with (a subset of 0600). */
  readonly mode: number;
  /** fdatasync after each batch (default true). */
  readonly fsync: boolean;
}

export interface SocketDeviceConfig extends CommonConfig {
  readonly type: 'socket';
  /** "host:port" (tcp) or an absolute socket path (unix). */
  readonly address: string;
  readonly socketType: 'tcp' | 'unix';
}

export type AuditDeviceConfig = FileDeviceConfig | SocketDeviceConfig;

export interface ParsedDeviceOptions {
  readonly config: AuditDeviceConfig;
  /** Normalised options with defaults filled in, as `GET sys/audit` lists them. */
  readonly options: Record<string, string>;
}

const COMMON_KEYS = [
  'hmac_accessor',
  'log_raw',
  'format',
  'prefix',
  'checkpoint_interval',
  'write_timeout',
] as const;
const FILE_KEYS = new Set<string>([...COMMON_KEYS, 'file_path', 'path', 'mode', 'fsync']);
const SOCKET_KEYS = new Set<string>([...COMMON_KEYS, 'address', 'socket_type']);

export const DEFAULT_FILE_MODE = 0o600;
const DEFAULT_FILE_WRITE_TIMEOUT = '10s';
const DEFAULT_SOCKET_WRITE_TIMEOUT = '2s';
const MAX_WRITE_TIMEOUT_MS = 300_000;
const MAX_CHECKPOINT_INTERVAL = 100_000;
const MAX_PREFIX_LENGTH = 256;

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;

/** A timeout as whole seconds ("2") or a Go duration ("500ms", "1m30s"), in ms. */
export function parseTimeoutMs(value: string, field: string): number {
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number.parseInt(text, 10) * 1000;
  } else {
    ms = 0;
    DURATION_PART.lastIndex = 0;
    let consumed = 0;
    for (;;) {
      const match = DURATION_PART.exec(text);
      if (match === null) break;
      ms += Number.parseFloat(match[1]!) * UNIT_MS[match[2]!]!;
      consumed = DURATION_PART.lastIndex;
    }
    if (consumed === 0 || consumed !== text.length) {
      throw invalidField(field, 'must be a duration such as "2s" or "500ms"');
    }
  }
  ms = Math.ceil(ms);
  if (!(ms >= 1 && ms <= MAX_WRITE_TIMEOUT_MS)) {
    throw invalidField(
      field,
      'must be between 1ms and 5m (a device may not block requests longer)',
    );
  }
  return ms;
}

function parseMode(value: string | undefined): number {
  if (value === undefined) return DEFAULT_FILE_MODE;
  const text = value.trim();
  if (!/^0?[0-7]{3}$/.test(text))
    throw invalidField('options.mode', 'must be an octal mode such as "0600"');
  const mode = Number.parseInt(text, 8);
  // SECURITY: the audit file is never readable or writable by group or others, and its owner
  // (the server) must be able to reopen it for appending after a rotation.
  if ((mode & ~DEFAULT_FILE_MODE) !== 0 || (mode & 0o200) === 0) {
    throw invalidField(
      'options.mode',
      'must grant nothing beyond 0600 and keep owner write (use "0600"); ship logs with a socket device',
    );
  }
  return mode;
}

function parseFilePath(options: Readonly<Record<string, string>>): string {
  const given = options['file_path'] ?? options['path'];
  if (options['file_path'] !== undefined && options['path'] !== undefined) {
    throw invalidField('options.path', 'give file_path or its old name path, not both');
  }
  if (given === undefined || given.trim() === '')
    throw invalidField('options.file_path', 'is required');
  const path = given.trim();
  if (path === 'stdout' || path === 'discard') {
    throw invalidField(
      'options.file_path',
      `"${path}" is not supported: give an absolute file path`,
    );
  }
  if (!isAbsolute(path) || path.includes('\0')) {
    throw invalidField('options.file_path', 'must be an absolute file path');
  }
  return path;
}

function parseTcpAddress(address: string): void {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const port = match === null ? Number.NaN : Number.parseInt(match[3]!, 10);
  if (match === null || !(port >= 1 && port <= 65_535)) {
    throw invalidField('options.address', 'must be host:port for a tcp socket');
  }
}

function parseCommon(
  options: Readonly<Record<string, string>>,
  defaultTimeout: string,
): { config: CommonConfig; shown: Record<string, string> } {
  if (options['log_raw'] !== undefined && parseBool(options['log_raw'], 'options.log_raw')) {
    throw invalidField(
      'options.log_raw',
      'raw audit logging is not supported: secrets would be written in clear',
    );
  }
  const format = options['format'] ?? 'json';
  if (format !== 'json') throw invalidField('options.format', 'only "json" is supported');
  const hmacAccessor =
    options['hmac_accessor'] === undefined
      ? true
      : parseBool(options['hmac_accessor'], 'options.hmac_accessor');
  const prefix = options['prefix'] ?? '';
  let hasControl = false;
  for (let i = 0; i < prefix.length; i++) {
    const code = prefix.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) hasControl = true;
  }
  if (prefix.length > MAX_PREFIX_LENGTH || prefix.includes('{') || hasControl) {
    throw invalidField(
      'options.prefix',
      `must be at most ${MAX_PREFIX_LENGTH} characters without "{" or control characters`,
    );
  }
  const intervalText = options['checkpoint_interval'] ?? String(DEFAULT_CHECKPOINT_INTERVAL);
  const interval = /^\d+$/.test(intervalText.trim())
    ? Number.parseInt(intervalText.trim(), 10)
    : Number.NaN;
  if (!(interval >= 1 && interval <= MAX_CHECKPOINT_INTERVAL)) {
    throw invalidField(
      'options.checkpoint_interval',
      `must be a whole number from 1 to ${MAX_CHECKPOINT_INTERVAL}`,
    );
  }
  const timeoutText = (options['write_timeout'] ?? defaultTimeout).trim();
  const writeTimeoutMs = parseTimeoutMs(timeoutText, 'options.write_timeout');
  const shown: Record<string, string> = {
    format,
    hmac_accessor: String(hmacAccessor),
    log_raw: 'false',
    checkpoint_interval: String(interval),
    write_timeout: timeoutText,
  };
  if (prefix !== '') shown['prefix'] = prefix;
  return { config: { hmacAccessor, prefix, checkpointInterval: interval, writeTimeoutMs }, shown };
}

/**
 * Validates `options` for a device of `type`. Unknown option names are refused (fail closed:
 * a misspelt `hmac_accessor` must not silently fall back to a default).
 */
export function parseDeviceOptions(
  type: string,
  options: Readonly<Record<string, string>>,
): ParsedDeviceOptions {
  if (type !== 'file' && type !== 'socket') {
    throw invalidField('type', `audit device type must be "file" or "socket"`);
  }
  const allowed = type === 'file' ? FILE_KEYS : SOCKET_KEYS;
  for (const key of Object.keys(options)) {
    if (!allowed.has(key)) {
      throw invalidField(`options.${key}`, `unknown option for a ${type} audit device`);
    }
  }
  if (type === 'file') {
    const { config, shown } = parseCommon(options, DEFAULT_FILE_WRITE_TIMEOUT);
    const filePath = parseFilePath(options);
    const mode = parseMode(options['mode']);
    const fsync =
      options['fsync'] === undefined ? true : parseBool(options['fsync'], 'options.fsync');
    return {
      config: { ...config, type, filePath, mode, fsync },
      options: {
        file_path: filePath,
        mode: `0${mode.toString(8)}`,
        fsync: String(fsync),
        ...shown,
      },
    };
  }
  const { config, shown } = parseCommon(options, DEFAULT_SOCKET_WRITE_TIMEOUT);
  const socketType = options['socket_type'] ?? 'tcp';
  if (socketType !== 'tcp' && socketType !== 'unix') {
    throw invalidField(
      'options.socket_type',
      'must be "tcp" or "unix" (udp cannot confirm delivery)',
    );
  }
  const address = (options['address'] ?? '').trim();
  if (address === '') throw invalidField('options.address', 'is required');
  if (socketType === 'tcp') parseTcpAddress(address);
  else if (!isAbsolute(address) || address.includes('\0')) {
    throw invalidField('options.address', 'must be an absolute socket path for a unix socket');
  }
  return {
    config: { ...config, type, address, socketType },
    options: { address, socket_type: socketType, ...shown },
  };
}
