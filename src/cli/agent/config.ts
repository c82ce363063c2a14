// The agent's configuration file (HCL or its JSON form, Vault Agent's names): server address,
// auto_auth method and sinks, template and env_template blocks, exec, exit_after_auth.
// Unknown keys are refused, as everywhere in Coffer.
import { isHclBody, isHclList, parseHcl } from '../../shared/hcl.js';
import type { HclBody, HclItem, HclValue } from '../../shared/hcl.js';
import type { TlsSettings } from '../../client/index.js';
import { parseSignal } from './supervisor.js';

export type AuthMethodType = 'token_file' | 'approle' | 'jwt' | 'kubernetes';
const METHOD_TYPES: readonly AuthMethodType[] = ['token_file', 'approle', 'jwt', 'kubernetes'];

export interface AuthMethodConfig {
  readonly type: AuthMethodType;
  /** Where the method is mounted, e.g. "auth/approle" (login is `<mountPath>/login`). */
  readonly mountPath: string;
  /** The method's `config` map: file paths, role names, switches. */
  readonly config: Readonly<Record<string, string | number | boolean>>;
}

/** A file sink: where the agent writes its token (Vault's `sink "file"`). */
export interface SinkConfig {
  readonly path: string;
  /** Permission bits, default 0o600. */
  readonly mode: number;
}

export interface TemplateConfig {
  /** Template file to read, or inline `contents` (exactly one). */
  readonly source?: string;
  readonly contents?: string;
  readonly destination: string;
  /** Permission bits of the rendered file, default 0o600. */
  readonly perms: number;
  /** Run after a render that changed the file: a string runs with /bin/sh -c, a list without a shell. */
  readonly command?: string | readonly string[];
  readonly commandTimeoutMs: number;
  /** "file:line" of the block, for messages. */
  readonly where: string;
  /** `syntax = "go" | "handlebars"`; absent = decided from the template's text. */
  readonly syntax?: TemplateSyntax;
  /** Go syntax: a missing map key is an error, not "<no value>" (Vault Agent's option). */
  readonly errorOnMissingKey?: boolean;
}

export type TemplateSyntax = 'go' | 'handlebars';

export interface EnvTemplateConfig {
  readonly name: string;
  readonly source?: string;
  readonly contents?: string;
  readonly where: string;
  readonly syntax?: TemplateSyntax;
  readonly errorOnMissingKey?: boolean;
}

export interface ExecConfig {
  readonly command: readonly string[];
  /** "always" restarts the program when its env_template values change; "never" leaves it. */
  readonly restartOnSecretChanges: 'always' | 'never';
  readonly restartStopSignal: NodeJS.Signals;
}

export interface AgentConfig {
  /** From `vault { address = ... }`; absent means the CLI's usual address resolution. */
  readonly address?: string;
  /** From `vault { ca_cert, ca_path, client_cert, client_key, tls_server_name, tls_skip_verify }`. */
  readonly tls?: TlsSettings;
  readonly method: AuthMethodConfig;
  readonly sinks: readonly SinkConfig[];
  readonly templates: readonly TemplateConfig[];
  readonly envTemplates: readonly EnvTemplateConfig[];
  readonly exec?: ExecConfig;
  readonly exitAfterAuth: boolean;
}

/** A mistake in the configuration file; the message starts with "file:line:". */
export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/**
 * Parses the configuration text. `file` is used in messages only.
 * SECURITY: messages name keys and lines, never values (a config may hold a token path, and
 * template contents may be sensitive).
 */
export function parseAgentConfig(text: string, file: string): AgentConfig {
  let body: HclBody;
  try {
    body = parseHcl(text);
  } catch (error) {
    throw new AgentConfigError(`${file}:${(error as Error).message}`);
  }
  const r = new Reader(file);
  const top = r.group(
    body,
    ['vault', 'auto_auth', 'template', 'env_template', 'exec', 'exit_after_auth'],
    'the file',
  );
  let address: string | undefined;
  let tls: TlsSettings | undefined;
  for (const item of top.get('vault') ?? []) {
    const vault = r.group(r.block(item, 0).body, ['address', ...Object.keys(VAULT_TLS)], 'vault');
    address = r.optionalString(vault, 'address');
    const settings: Record<string, string | boolean> = {};
    for (const [name, key] of Object.entries(VAULT_TLS)) {
      const found = r.single(vault, name, 'vault');
      if (found === undefined) continue;
      settings[key] = key === 'skipVerify' ? r.bool(found) : r.string(found);
    }
    if (Object.keys(settings).length > 0) tls = settings;
  }
  const autoAuth = r.single(top, 'auto_auth', 'the file');
  if (autoAuth === undefined) throw new AgentConfigError(`${file}: an auto_auth block is required`);
  const auth = r.group(r.block(autoAuth, 0).body, ['method', 'sink'], 'auto_auth');
  const methodItem = r.single(auth, 'method', 'auto_auth');
  if (methodItem === undefined) {
    throw new AgentConfigError(`${r.at(autoAuth)}: auto_auth needs a method block`);
  }
  const method = readMethod(r, methodItem);
  const sinks = (auth.get('sink') ?? []).map((item) => readSink(r, item));
  const templates = (top.get('template') ?? []).map((item) => readTemplate(r, item));
  const envTemplates = (top.get('env_template') ?? []).map((item) => readEnvTemplate(r, item));
  const seen = new Set<string>();
  for (const t of envTemplates) {
    if (seen.has(t.name))
      throw new AgentConfigError(`${t.where}: env_template ${t.name} is given twice`);
    seen.add(t.name);
  }
  const destinations = new Set<string>();
  for (const t of templates) {
    if (destinations.has(t.destination)) {
      throw new AgentConfigError(`${t.where}: two templates write the same destination`);
    }
    destinations.add(t.destination);
  }
  const execItem = r.single(top, 'exec', 'the file');
  const exec = execItem === undefined ? undefined : readExec(r, execItem);
  if (envTemplates.length > 0 && exec === undefined) {
    throw new AgentConfigError(`${file}: env_template blocks need an exec block`);
  }
  const exitItem = r.single(top, 'exit_after_auth', 'the file');
  const exitAfterAuth = exitItem === undefined ? false : r.bool(exitItem);
  return {
    ...(address === undefined ? {} : { address }),
    ...(tls === undefined ? {} : { tls }),
    method,
    sinks,
    templates,
    envTemplates,
    ...(exec === undefined ? {} : { exec }),
    exitAfterAuth,
  };
}

/** Vault Agent's TLS settings in the vault block, and the client's names for them. */
const VAULT_TLS: Readonly<Record<string, keyof TlsSettings>> = {
  ca_cert: 'caCert',
  ca_path: 'caPath',
  client_cert: 'clientCert',
  client_key: 'clientKey',
  tls_server_name: 'serverName',
  tls_skip_verify: 'skipVerify',
};

function readMethod(r: Reader, item: HclItem): AuthMethodConfig {
  const { label, body } = r.block(item, 1);
  const fields = r.group(body, ['type', 'mount_path', 'config', 'namespace', 'wrap_ttl'], 'method');
  const typeText = label ?? r.optionalString(fields, 'type');
  if (typeText === undefined) throw new AgentConfigError(`${r.at(item)}: the method needs a type`);
  const type = METHOD_TYPES.find((t) => t === typeText);
  if (type === undefined) {
    throw new AgentConfigError(
      `${r.at(item)}: unknown auth method "${typeText}" (one of ${METHOD_TYPES.join(', ')})`,
    );
  }
  for (const unsupported of ['namespace', 'wrap_ttl']) {
    if (fields.has(unsupported)) {
      throw new AgentConfigError(`${r.at(item)}: method ${unsupported} is not supported`);
    }
  }
  const mountPath = (
    r.optionalString(fields, 'mount_path') ?? `auth/${type === 'token_file' ? 'token' : type}`
  )
    .trim()
    .replace(/^\/+|\/+$/g, '');
  const configItem = r.single(fields, 'config', 'method');
  const config: Record<string, string | number | boolean> = {};
  if (configItem !== undefined) {
    for (const entry of r.block(configItem, 0).body.items) {
      const value = entry.value;
      if (typeof value === 'object') {
        throw new AgentConfigError(
          `${r.at(entry)}: method config ${entry.key} must be a plain value`,
        );
      }
      config[entry.key] = value;
    }
  }
  return { type, mountPath, config };
}

function readSink(r: Reader, item: HclItem): SinkConfig {
  const { label, body } = r.block(item, 1);
  const fields = r.group(body, ['type', 'config'], 'sink');
  const type = label ?? r.optionalString(fields, 'type');
  if (type !== 'file') throw new AgentConfigError(`${r.at(item)}: only sink "file" is supported`);
  const configItem = r.single(fields, 'config', 'sink');
  if (configItem === undefined) throw new AgentConfigError(`${r.at(item)}: the sink needs config`);
  const config = r.group(r.block(configItem, 0).body, ['path', 'mode'], 'sink config');
  const path = r.optionalString(config, 'path');
  if (path === undefined || path === '')
    throw new AgentConfigError(`${r.at(item)}: the sink needs a path`);
  const modeItem = r.single(config, 'mode', 'sink config');
  return { path, mode: modeItem === undefined ? 0o600 : r.mode(modeItem) };
}

function readTemplate(r: Reader, item: HclItem): TemplateConfig {
  const fields = r.group(
    r.block(item, 0).body,
    [
      'source',
      'contents',
      'destination',
      'perms',
      'command',
      'command_timeout',
      'syntax',
      'error_on_missing_key',
    ],
    'template',
  );
  const where = r.at(item);
  const source = r.optionalString(fields, 'source');
  const contents = r.optionalString(fields, 'contents');
  if ((source === undefined) === (contents === undefined)) {
    throw new AgentConfigError(`${where}: a template needs exactly one of source and contents`);
  }
  const destination = r.optionalString(fields, 'destination');
  if (destination === undefined || destination === '') {
    throw new AgentConfigError(`${where}: a template needs a destination`);
  }
  const permsItem = r.single(fields, 'perms', 'template');
  const commandItem = r.single(fields, 'command', 'template');
  let command: string | readonly string[] | undefined;
  if (commandItem !== undefined) {
    command = isHclList(commandItem.value) ? r.stringList(commandItem) : r.string(commandItem);
    if (command.length === 0) throw new AgentConfigError(`${r.at(commandItem)}: command is empty`);
  }
  const timeoutItem = r.single(fields, 'command_timeout', 'template');
  return {
    ...(source === undefined ? {} : { source }),
    ...(contents === undefined ? {} : { contents }),
    destination,
    perms: permsItem === undefined ? 0o600 : r.mode(permsItem),
    ...(command === undefined ? {} : { command }),
    commandTimeoutMs:
      timeoutItem === undefined ? DEFAULT_COMMAND_TIMEOUT_MS : r.durationMs(timeoutItem),
    where,
    ...readSyntax(r, fields, 'template'),
  };
}

function readEnvTemplate(r: Reader, item: HclItem): EnvTemplateConfig {
  const { label, body } = r.block(item, 1);
  const where = r.at(item);
  if (label === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(label)) {
    throw new AgentConfigError(`${where}: env_template needs a variable name as its label`);
  }
  const fields = r.group(
    body,
    ['source', 'contents', 'syntax', 'error_on_missing_key'],
    'env_template',
  );
  const source = r.optionalString(fields, 'source');
  const contents = r.optionalString(fields, 'contents');
  if ((source === undefined) === (contents === undefined)) {
    throw new AgentConfigError(`${where}: env_template needs exactly one of source and contents`);
  }
  return {
    name: label,
    ...(source === undefined ? {} : { source }),
    ...(contents === undefined ? {} : { contents }),
    where,
    ...readSyntax(r, fields, 'env_template'),
  };
}

/** `syntax` and `error_on_missing_key` of a template block. */
function readSyntax(
  r: Reader,
  fields: Parameters<Reader['single']>[0],
  scope: string,
): { syntax?: TemplateSyntax; errorOnMissingKey?: boolean } {
  const syntax = r.optionalString(fields, 'syntax');
  if (syntax !== undefined && syntax !== 'go' && syntax !== 'handlebars') {
    const item = r.single(fields, 'syntax', scope)!;
    throw new AgentConfigError(`${r.at(item)}: syntax must be "go" or "handlebars"`);
  }
  const missing = r.single(fields, 'error_on_missing_key', scope);
  return {
    ...(syntax === undefined ? {} : { syntax }),
    ...(missing === undefined ? {} : { errorOnMissingKey: r.bool(missing) }),
  };
}

function readExec(r: Reader, item: HclItem): ExecConfig {
  const fields = r.group(
    r.block(item, 0).body,
    ['command', 'restart_on_secret_changes', 'restart_stop_signal'],
    'exec',
  );
  const commandItem = r.single(fields, 'command', 'exec');
  if (commandItem === undefined) throw new AgentConfigError(`${r.at(item)}: exec needs a command`);
  const command = r.stringList(commandItem);
  if (command.length === 0 || command[0] === '') {
    throw new AgentConfigError(`${r.at(commandItem)}: exec command must be a non-empty list`);
  }
  const restart = r.optionalString(fields, 'restart_on_secret_changes') ?? 'always';
  if (restart !== 'always' && restart !== 'never') {
    throw new AgentConfigError(`${r.at(item)}: restart_on_secret_changes is "always" or "never"`);
  }
  const signalText = r.optionalString(fields, 'restart_stop_signal') ?? 'SIGTERM';
  const signal = parseSignal(signalText);
  if (signal === undefined) {
    throw new AgentConfigError(`${r.at(item)}: restart_stop_signal is not a known signal`);
  }
  return { command, restartOnSecretChanges: restart, restartStopSignal: signal };
}

/** Typed access to HCL items with "file:line" messages. */
class Reader {
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
  }

  at(item: HclItem): string {
    return `${this.#file}:${item.line}`;
  }

  /** Items of `body` grouped by key; a key outside `allowed` is an error. */
  group(body: HclBody, allowed: readonly string[], where: string): Map<string, HclItem[]> {
    const out = new Map<string, HclItem[]>();
    for (const item of body.items) {
      if (!allowed.includes(item.key)) {
        throw new AgentConfigError(`${this.at(item)}: unknown key "${item.key}" in ${where}`);
      }
      const list = out.get(item.key) ?? [];
      list.push(item);
      out.set(item.key, list);
    }
    return out;
  }

  single(group: Map<string, HclItem[]>, key: string, where: string): HclItem | undefined {
    const items = group.get(key);
    if (items === undefined) return undefined;
    if (items.length > 1) {
      throw new AgentConfigError(`${this.at(items[1]!)}: ${key} is given twice in ${where}`);
    }
    return items[0];
  }

  /**
   * A block's body and its first label. Labels beyond `labels` are nested blocks, which is how
   * the JSON form spells `{"auto_auth": {"method": {...}}}` once flattened.
   */
  block(item: HclItem, labels: 0 | 1): { label: string | undefined; body: HclBody } {
    if (!isHclBody(item.value)) {
      throw new AgentConfigError(`${this.at(item)}: ${item.key} must be a block`);
    }
    const label = labels === 1 ? item.labels[0] : undefined;
    const nested = item.labels.slice(labels);
    if (nested.length === 0) return { label, body: item.value };
    // The first extra label is a nested block's key; the rest stay its labels.
    const inner: HclItem = { ...item, key: nested[0]!, labels: nested.slice(1) };
    return { label, body: { items: [inner] } };
  }

  string(item: HclItem): string {
    if (typeof item.value !== 'string') {
      throw new AgentConfigError(`${this.at(item)}: ${item.key} must be a string`);
    }
    return item.value;
  }

  optionalString(group: Map<string, HclItem[]>, key: string): string | undefined {
    const item = this.single(group, key, 'its block');
    return item === undefined ? undefined : this.string(item);
  }

  bool(item: HclItem): boolean {
    if (typeof item.value === 'boolean') return item.value;
    if (item.value === 'true' || item.value === 'false') return item.value === 'true';
    throw new AgentConfigError(`${this.at(item)}: ${item.key} must be true or false`);
  }

  stringList(item: HclItem): string[] {
    const value: HclValue = item.value;
    if (!isHclList(value) || !value.every((v) => typeof v === 'string')) {
      throw new AgentConfigError(`${this.at(item)}: ${item.key} must be a list of strings`);
    }
    return [...value] as string[];
  }

  /** Permission bits: a string is octal ("0640"); a number is taken as is (HCL reads 0640 as octal). */
  mode(item: HclItem): number {
    const value = item.value;
    let mode: number | undefined;
    if (typeof value === 'string' && /^0?[0-7]{3,4}$/.test(value.trim())) {
      mode = Number.parseInt(value.trim(), 8);
    } else if (typeof value === 'number' && Number.isInteger(value)) {
      mode = value;
    }
    if (mode === undefined || mode < 0 || mode > 0o7777) {
      throw new AgentConfigError(
        `${this.at(item)}: ${item.key} must be an octal mode such as "0640"`,
      );
    }
    return mode;
  }

  /** "30s", "2m", "500ms" or a number of seconds. */
  durationMs(item: HclItem): number {
    const value = item.value;
    if (typeof value === 'number' && value > 0) return value * 1000;
    const match =
      typeof value === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim()) : null;
    if (match === null) {
      throw new AgentConfigError(`${this.at(item)}: ${item.key} must be a duration such as "30s"`);
    }
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
    const ms = Number(match[1]) * unit;
    if (!(ms > 0)) throw new AgentConfigError(`${this.at(item)}: ${item.key} must be positive`);
    return ms;
  }
}
