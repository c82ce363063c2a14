// `coffer audit list|enable|disable|verify`: audit devices through sys/audit, and the check of
// an audit file's hash chain and signed checkpoints: offline, or with `-device` against the
// server's chain head, which also catches a cut tail and an edited or forged last line.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { isRecord, readAuditLog, sanitizePath } from '../client/index.js';
import { AuditLogVerifier, type ChainHead, type VerifyResult } from '../shared/audit-verify.js';
import { UsageError } from './args.js';
import { defineCommand, defineGroup } from './command.js';
import type { RunContext } from './command.js';
import { formatColumns, formatValue } from './format.js';

function devicePath(raw: string): string {
  const clean = sanitizePath(raw);
  if (clean === '') throw new UsageError('the audit device path must not be empty');
  return clean;
}

function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}

/** The `audit list` table; `detailed` adds the replication flag and the options. */
export function formatAuditDevices(
  devices: Readonly<Record<string, unknown>>,
  detailed: boolean,
): string {
  const paths = Object.keys(devices).sort();
  const rows = paths.map((path) => {
    const device = devices[path];
    const entry = isRecord(device) ? device : {};
    const text = (key: string) => (typeof entry[key] === 'string' ? entry[key] : '');
    const row = [path, text('type'), text('description')];
    if (detailed) {
      row.push(entry['local'] === true ? 'local' : 'replicated');
      row.push(isRecord(entry['options']) ? formatValue(entry['options']) : '');
    }
    return row;
  });
  const header = ['Path', 'Type', 'Description'];
  if (detailed) header.push('Replication', 'Options');
  return formatColumns(rows, header);
}

const list = defineCommand({
  summary: 'List the enabled audit devices',
  usage: '[options]',
  description:
    '  With -detailed, the options include checkpoint_public_key: pin it, and give it to\n' +
    '  "coffer audit verify -public-key" to check the signed checkpoints of a log.',
  flags: { detailed: { kind: 'boolean', help: 'Show the replication flag and the options too.' } },
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const response = await ctx.client().request('GET', 'sys/audit');
    const devices = isRecord(response?.data) ? response.data : {};
    if (ctx.format === 'json') ctx.json(devices);
    else if (Object.keys(devices).length === 0) ctx.out('No audit devices are enabled.');
    else ctx.out(formatAuditDevices(devices, flags.detailed === true));
    return 0;
  },
});

/** `key=value` device options; errors name the argument's position, never its text. */
function deviceOptions(args: readonly string[]): Record<string, string> {
  const options: Record<string, string> = {};
  args.forEach((arg, index) => {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`argument ${index + 2} is not a key=value option`);
    options[arg.slice(0, eq)] = arg.slice(eq + 1);
  });
  return options;
}

const enable = defineCommand({
  summary: 'Enable an audit device (file or socket) at a path (default: the type)',
  usage: '[options] TYPE [KEY=VALUE...]',
  description:
    '  Examples:\n' +
    '    coffer audit enable file file_path=/var/log/coffer/audit.log\n' +
    '    coffer audit enable -path=siem socket address=127.0.0.1:9090 socket_type=tcp\n' +
    '  File options: file_path, mode (0600), fsync (true), prefix, hmac_accessor (true),\n' +
    '  checkpoint_interval (100), write_timeout (10s). Socket options: address,\n' +
    '  socket_type (tcp|unix), write_timeout (2s), prefix, hmac_accessor, checkpoint_interval.',
  flags: {
    path: { kind: 'string', placeholder: '<path>', help: 'Where to enable the device.' },
    description: { kind: 'string', placeholder: '<text>', help: 'Human-readable description.' },
    local: { kind: 'boolean', help: 'Mark the device local (accepted for compatibility).' },
  },
  args: { min: 1, max: Infinity },
  async run(ctx, flags, args) {
    const type = args[0]!.trim();
    if (type === '') throw new UsageError('TYPE must not be empty');
    const path = devicePath(flags.path ?? type);
    await ctx.client().write(`sys/audit/${path}`, {
      type,
      options: deviceOptions(args.slice(1)),
      ...(flags.description === undefined ? {} : { description: flags.description }),
      ...(flags.local === undefined ? {} : { local: flags.local }),
    });
    ctx.out(`Success! Enabled the ${type} audit device at: ${path}/`);
    return 0;
  },
});

const disable = defineCommand({
  summary: 'Disable the audit device at a path (its last lines get a signed checkpoint)',
  usage: '[options] PATH',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const path = devicePath(args[0]!);
    await ctx.client().delete(`sys/audit/${path}`);
    ctx.out(`Success! Disabled audit device (if it was enabled) at: ${path}/`);
    return 0;
  },
});

/** `-public-key`: a file holding the key, or the key itself (PEM or base64 SPKI). */
function publicKeyArg(value: string): string {
  let isFile = false;
  try {
    isFile = statSync(value).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read public key file ${value} (${errnoOf(error)})`);
  }
}

/** The device's chain head and checkpoint key, from `sys/audit-log` (needs sudo). */
async function serverHead(
  ctx: RunContext,
  device: string,
): Promise<{ head: ChainHead; publicKey: string | undefined }> {
  const view = await readAuditLog(ctx.client(), device, { verify: false, limit: 1 });
  const head = view.server_head;
  if (head === undefined || !Number.isSafeInteger(head.seq) || typeof head.hash !== 'string') {
    throw new UsageError(`the server did not report a chain head for audit device ${device}`);
  }
  return { head, publicKey: view.checkpoint_public_key };
}

async function verifyFile(
  ctx: RunContext,
  file: string,
  verifier: AuditLogVerifier,
  after?: () => Promise<ChainHead>,
): Promise<VerifyResult> {
  if (file === '-') {
    verifier.write(await ctx.readStdin('audit log'));
    return verifier.end(after === undefined ? undefined : await after());
  }
  try {
    // Streamed: audit files grow large; the verifier keeps only the current line.
    for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
      verifier.write(chunk as string);
    }
  } catch (error) {
    throw new UsageError(`cannot read audit file ${file} (${errnoOf(error)})`);
  }
  return verifier.end(after === undefined ? undefined : await after());
}

const verify = defineCommand({
  summary: 'Check an audit file offline: hash chain, sequence and signed checkpoints',
  usage: '[options] FILE|-',
  description:
    '  Exit 0 when every line is intact and in order (and, with -public-key, every checkpoint\n' +
    '  signature is valid); exit 1 naming the first bad line. Without -public-key the chain\n' +
    '  is checked but the signatures are not. A log must start at seq 1; for a rotated file,\n' +
    "  give the previous file's last line hash (printed by this command) as -previous-hash.\n" +
    '  An empty file is not OK. The file alone cannot show a cut at its end or a rewritten\n' +
    '  last line: with -device (and -address, a token with sudo on sys/audit-log) the file is\n' +
    "  checked against the server's chain head for that device, taken before and after it is\n" +
    "  read, and the device's checkpoint key is used when -public-key is not given.",
  flags: {
    'public-key': {
      kind: 'string',
      placeholder: '<file|key>',
      help: 'The device checkpoint_public_key (PEM or base64), or a file holding it.',
    },
    'previous-hash': {
      kind: 'string',
      placeholder: '<hex>',
      help: 'Last line hash of the file before this one (log rotation).',
    },
    device: {
      kind: 'string',
      placeholder: '<path>',
      help: "Check against the server's chain head of this audit device (uses -address).",
    },
  },
  args: { min: 1, max: 1 },
  async run(ctx, flags, args) {
    const device = flags.device === undefined ? undefined : devicePath(flags.device);
    // SECURITY: the head is taken before the file is read: the file must hold that line.
    const before = device === undefined ? undefined : await serverHead(ctx, device);
    const publicKey =
      flags['public-key'] === undefined ? before?.publicKey : publicKeyArg(flags['public-key']);
    let verifier: AuditLogVerifier;
    try {
      verifier = new AuditLogVerifier({
        ...(publicKey === undefined ? {} : { publicKey }),
        ...(before === undefined ? {} : { contains: before.head }),
        ...(flags['previous-hash'] === undefined
          ? {}
          : { previousLastLineHash: flags['previous-hash'].trim() }),
      });
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(error instanceof Error ? error.message : 'invalid options');
    }
    const result = await verifyFile(
      ctx,
      args[0]!,
      verifier,
      device === undefined ? undefined : async () => (await serverHead(ctx, device)).head,
    );
    if (ctx.format === 'json') {
      ctx.json(result);
      return result.ok ? 0 : 1;
    }
    if (!result.ok) {
      ctx.err(`line ${result.firstBadLine ?? result.lines}: ${result.problem ?? 'invalid'}`);
      return 1;
    }
    ctx.out(
      result.signaturesChecked
        ? `OK: ${result.lines} lines, ${result.checkpoints} checkpoints verified`
        : `OK: ${result.lines} lines, chain intact; ${result.checkpoints} checkpoints not verified (no -public-key)`,
    );
    if (result.lastLineHash !== undefined) ctx.out(`Last line hash: ${result.lastLineHash}`);
    if (result.headChecked) {
      ctx.out(`Matches the server's chain head for ${device ?? ''}/ (seq ${result.lastSeq ?? 0})`);
    } else {
      if (result.unsignedTrailingLines > 0) {
        ctx.err(
          `Note: the last ${result.unsignedTrailingLines} lines follow the last checkpoint and are not signed yet.`,
        );
      }
      ctx.err(
        'Note: a cut at the end or a rewritten last line shows only against the server: use -device.',
      );
    }
    return 0;
  },
});

export const auditGroup = defineGroup('List, enable, disable and verify audit devices', {
  list,
  enable,
  disable,
  verify,
});
