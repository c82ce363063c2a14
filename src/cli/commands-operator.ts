// `coffer status` and `coffer operator init|unseal|seal|rotate|key-status`: seal lifecycle and
// barrier key commands, printed like the Vault CLI's.
import { readFileSync, writeFileSync } from 'node:fs';
import type { KeyStatus, SealStatus } from '../client/index.js';
import { parseIntFlag, UsageError } from './args.js';
import { defineCommand, defineGroup } from './command.js';
import { formatColumns, formatKeyValueTable, formatRfc822 } from './format.js';

/** The status table of `coffer status` and `coffer operator unseal`. */
export function formatSealStatus(status: SealStatus): string {
  const rows: [string, string][] = [
    ['Seal Type', status.type],
    ['Initialized', String(status.initialized)],
    ['Sealed', String(status.sealed)],
    ['Total Shares', String(status.n)],
    ['Threshold', String(status.t)],
  ];
  if (status.sealed) {
    rows.push(['Unseal Progress', `${status.progress}/${status.t}`]);
    rows.push(['Unseal Nonce', status.nonce]);
  }
  rows.push(['Version', status.version]);
  const optional: [string, string | undefined][] = [
    ['Build Date', status.build_date],
    ['Storage Type', status.storage_type],
    ['Cluster Name', status.cluster_name],
    ['Cluster ID', status.cluster_id],
  ];
  for (const [key, value] of optional) {
    if (value !== undefined && value !== '') rows.push([key, value]);
  }
  return formatKeyValueTable(rows);
}

/** The header-less table of `operator key-status` (Vault prints it the same way). */
export function formatKeyStatus(status: KeyStatus): string {
  const rows = [
    ['Key Term', String(status.term)],
    ['Install Time', formatRfc822(status.install_time)],
  ];
  if (status.encryptions !== undefined) rows.push(['Encryption Count', String(status.encryptions)]);
  return formatColumns(rows);
}

const status = defineCommand({
  summary: 'Print the seal status of the server',
  usage: '[options]',
  description:
    '  Exit codes: 0 unsealed, 2 sealed, 1 error (as with "vault status"). Needs no token.',
  flags: {},
  args: { min: 0, max: 0 },
  async run(ctx) {
    const seal = await ctx.client().sealStatus();
    if (ctx.format === 'json') ctx.json(seal);
    else ctx.out(formatSealStatus(seal));
    return seal.sealed ? 2 : 0;
  },
});

const init = defineCommand({
  summary: 'Initialize a new server: create the root key, unseal key shares and a root token',
  usage: '[options]',
  description:
    '  Prints every unseal key share and the initial root token exactly once. Store them safely.\n' +
    '  With -status, only reports whether the server is initialized (exit 0 yes, 2 no).',
  flags: {
    'key-shares': {
      kind: 'string',
      placeholder: '<int>',
      help: 'Number of key shares to split the unseal key into. Default 5.',
    },
    'key-threshold': {
      kind: 'string',
      placeholder: '<int>',
      help: 'Number of key shares needed to unseal. Default 3.',
    },
    status: { kind: 'boolean', help: 'Only print whether the server is initialized.' },
  },
  args: { min: 0, max: 0 },
  async run(ctx, flags) {
    const client = ctx.client();
    if (flags.status === true) {
      const seal = await client.sealStatus();
      ctx.out(seal.initialized ? 'Coffer is initialized' : 'Coffer is not initialized');
      return seal.initialized ? 0 : 2;
    }
    const shares = parseIntFlag(flags['key-shares'] ?? '5', 'key-shares', 1);
    const threshold = parseIntFlag(flags['key-threshold'] ?? '3', 'key-threshold', 1);
    if (threshold > shares) {
      throw new UsageError('-key-threshold must not be larger than -key-shares');
    }
    const result = await client.init({ secretShares: shares, secretThreshold: threshold });
    if (ctx.format === 'json') {
      ctx.json({
        unseal_keys_b64: result.keys_base64,
        unseal_keys_hex: result.keys,
        unseal_shares: shares,
        unseal_threshold: threshold,
        root_token: result.root_token,
      });
      return 0;
    }
    const lines = result.keys_base64.map((key, i) => `Unseal Key ${i + 1}: ${key}`);
    ctx.out(
      [
        ...lines,
        '',
        `Initial Root Token: ${result.root_token}`,
        '',
        `Coffer initialized with ${shares} key shares and a key threshold of ${threshold}. Please`,
        'securely distribute the key shares printed above. When Coffer is re-sealed, restarted,',
        `or stopped, you must supply at least ${threshold} of these keys to unseal it before it`,
        'can start serving requests.',
        '',
        `Coffer does not store the generated root key. Without at least ${threshold} keys to`,
        'reconstruct the root key, Coffer will remain permanently sealed!',
      ].join('\n'),
    );
    return 0;
  },
});

const unseal = defineCommand({
  summary: 'Provide one unseal key share',
  usage: '[options] [KEY]',
  description:
    '  Without KEY the share is read from standard input (hidden on a terminal), which keeps it\n' +
    '  out of the shell history. -reset discards the shares given so far.',
  flags: { reset: { kind: 'boolean', help: 'Discard the key shares given so far.' } },
  args: { min: 0, max: 1 },
  async run(ctx, flags, args) {
    const client = ctx.client();
    let seal: SealStatus;
    if (flags.reset === true) {
      if (args.length > 0) throw new UsageError('-reset takes no KEY argument');
      seal = await client.unseal({ reset: true });
    } else {
      let key = args[0];
      if (key === undefined) {
        if (ctx.io.stdinIsTty === true) ctx.io.stderr('Unseal Key (will be hidden): ');
        key = await ctx.readStdin('unseal key');
      }
      key = key.trim();
      if (key === '') throw new UsageError('missing unseal key');
      seal = await client.unseal(key);
    }
    if (ctx.format === 'json') ctx.json(seal);
    else ctx.out(formatSealStatus(seal));
    return 0;
  },
});

const seal = defineCommand({
  summary: 'Seal the server: drop the root key from memory until it is unsealed again',
  usage: '[options]',
  flags: {},
  args: { min: 0, max: 0 },
  async run(ctx) {
    await ctx.client().seal();
    ctx.out('Success! Coffer is sealed.');
    return 0;
  },
});

const stepDown = defineCommand({
  summary: 'HA: make the active node give up leadership so another node takes over',
  usage: '[options]',
  description:
    '  Needs sudo on sys/step-down. The node leaves the lease to the others for two lease\n' +
    '  lengths (5 s by default), then contends again. Without HA it does nothing.',
  flags: {},
  args: { min: 0, max: 0 },
  async run(ctx) {
    await ctx.client().stepDown();
    ctx.out('Success! Stepped down the active node.');
    return 0;
  },
});

const rotate = defineCommand({
  summary: 'Add a new barrier encryption key term; new writes use it',
  usage: '[options]',
  flags: {},
  args: { min: 0, max: 0 },
  async run(ctx) {
    const client = ctx.client();
    await client.rotate();
    const keyStatus = await client.keyStatus();
    if (ctx.format === 'json') {
      ctx.json(keyStatus);
      return 0;
    }
    ctx.out(`Success! Rotated key\n\n${formatKeyStatus(keyStatus)}`);
    return 0;
  },
});

const keyStatus = defineCommand({
  summary: 'Print the current barrier key term and when it was installed',
  usage: '[options]',
  flags: {},
  args: { min: 0, max: 0 },
  async run(ctx) {
    const result = await ctx.client().keyStatus();
    if (ctx.format === 'json') ctx.json(result);
    else ctx.out(formatKeyStatus(result));
    return 0;
  },
});

const snapshotSave = defineCommand({
  summary: 'Save a consistent snapshot of the storage (still encrypted) to FILE',
  usage: '[options] FILE',
  description:
    '  Reads sys/storage/raft/snapshot (needs sudo) and writes it to FILE, mode 0600. FILE must\n' +
    '  not exist. The entries stay ciphertext: restoring needs the unseal keys. See\n' +
    '  docs/adr/0006-snapshots.md.',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const file = args[0]!;
    const response = await ctx.client().request('GET', 'sys/storage/raft/snapshot');
    const text = (response?.['data'] as { snapshot?: unknown } | undefined)?.snapshot;
    if (typeof text !== 'string') throw new UsageError('the server sent no snapshot');
    try {
      writeFileSync(file, Buffer.from(text, 'base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new UsageError(`cannot write ${file} (${typeof code === 'string' ? code : 'error'})`);
    }
    ctx.out(`Success! Saved the snapshot to ${file}`);
    return 0;
  },
});

const snapshotRestore = defineCommand({
  summary: 'Restore a snapshot from FILE into an uninitialised server',
  usage: '[options] FILE',
  description:
    '  Sends FILE to sys/storage/raft/snapshot-force. The server must be uninitialised; it is\n' +
    '  then sealed and unseals with the unseal keys of the server the snapshot came from.',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const file = args[0]!;
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new UsageError(`cannot read ${file} (${typeof code === 'string' ? code : 'error'})`);
    }
    await ctx.client().request('POST', 'sys/storage/raft/snapshot-force', {
      body: { snapshot: bytes.toString('base64') },
    });
    ctx.out('Success! Restored the snapshot; unseal with the original unseal keys.');
    return 0;
  },
});

export const statusCommand = status;

export const operatorGroup = defineGroup('Operate the server: initialize, unseal, seal, rotate', {
  init,
  unseal,
  seal,
  'step-down': stepDown,
  rotate,
  'key-status': keyStatus,
  snapshot: defineGroup('Save and restore storage snapshots', {
    save: snapshotSave,
    restore: snapshotRestore,
  }),
  // `operator migrate` opens the stores directly, so bin/coffer.js runs it before the CLI.
});
