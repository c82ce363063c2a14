// The audit broker: the table of audit devices (persisted behind the barrier with each device's
// salt and checkpoint key), the batching writer every audit line goes through, fail-closed
// recording, sys/audit-hash, rotation (reopen) and the hash chain state of each device.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { JsonObject } from '../../sdk/json.js';
import { encodeJson, getJson, putJson, type Storage } from '../../sdk/storage.js';
import { auditLineHash } from '../../shared/audit-verify.js';
import {
  chainLine,
  chainSeqOf,
  checkpointLine,
  generateCheckpointKeys,
  genesisHash,
  type ChainState,
} from './chain.js';
import {
  parseDeviceOptions,
  type AuditDeviceConfig,
  type AuditDeviceType,
} from './device-config.js';
import { failureCode, type AuditDevice } from './devices/device.js';
import { FileAuditDevice } from './devices/file.js';
import { SocketAuditDevice } from './devices/socket.js';
import {
  formatAuditEntry,
  type AuditEntryType,
  type AuditRequestRecord,
  type AuditResponseRecord,
} from './format.js';
import { deviceHasher, hmacString, newSalt, type Hasher } from './hash.js';

/** Keys inside the broker's storage view (sys/audit/ behind the barrier). */
export const AUDIT_KEYS = {
  /** The device table (JSON): every device with its options, salt and checkpoint key pair. */
  table: 'table',
  /** chain/<device path without its slash> → the chain position at the last checkpoint. */
  chainPrefix: 'chain/',
} as const;

/** The message every caller gets when no device recorded its line. */
export const AUDIT_FAILED_MESSAGE = 'audit: no audit device could record the request';

const TABLE_VERSION = 1;
const MAX_PATH_LENGTH = 128;
const PATH_SEGMENT = /^[A-Za-z0-9_.-]+$/;

export interface AuditLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface AuditBrokerDeps {
  /** The barrier view for sys/audit/. */
  readonly storage: Storage;
  /** Epoch ms. */
  readonly now: () => number;
  readonly logger?: AuditLogger;
  /** Told of each device failure (by device type) and each batch no device recorded. */
  readonly onFailure?: (failure: {
    readonly deviceType?: string;
    readonly refused: boolean;
  }) => void;
}

export interface EnableAuditOptions {
  readonly type: string;
  readonly description?: string;
  readonly options?: Readonly<Record<string, string>>;
  /** Accepted and shown (Vault replication flag); Coffer has one cluster. */
  readonly local?: boolean;
}

export interface AuditDeviceStats {
  readonly path: string;
  /** Batches written (one write call each). */
  readonly writes: number;
  /** Lines written, checkpoints included. */
  readonly lines: number;
  /** Batches this device failed to record. */
  readonly failures: number;
}

/** A device as persisted. SECURITY: holds the salt and private key; only behind the barrier. */
interface StoredDevice {
  readonly path: string;
  readonly type: AuditDeviceType;
  readonly description: string;
  readonly local: boolean;
  /** Normalised options (what `GET sys/audit` shows, without the public key). */
  readonly options: Record<string, string>;
  /** Base64 HMAC key. */
  readonly salt: string;
  /** PKCS#8 PEM of the Ed25519 checkpoint key. */
  readonly signingKey: string;
  /** Base64 SPKI of the checkpoint public key. */
  readonly publicKey: string;
  /** The `prev` of the device's first line. */
  readonly genesis: string;
  /** Epoch ms. */
  readonly createdAt: number;
}

/** Where a device's log stands, for `sys/audit-log` (see AuditBroker.logSnapshot). */
export type AuditLogSnapshot =
  | {
      readonly path: string;
      readonly type: 'file';
      readonly filePath: string;
      /** The file's size when the lane was idle: everything before it is whole lines. */
      readonly sizeBytes: number;
      /** Base64 SPKI of the checkpoint key. */
      readonly publicKey: string;
      /** The server's chain head at that moment: the last line's seq and SHA-256. */
      readonly head: ChainState;
      /** After a rotation: the hash the file's first line names as `prev`; else it starts at seq 1. */
      readonly fileStartHash?: string;
    }
  | {
      readonly path: string;
      readonly type: 'socket';
      readonly publicKey: string;
      readonly head: ChainState;
    };

interface StoredTable {
  readonly version: number;
  readonly devices: StoredDevice[];
}

interface StoredChain {
  readonly seq: number;
  readonly lastHash: string;
  /** Set at a rotation: the last hash of the previous file, which the current file continues. */
  readonly fileStartHash?: string;
}

interface ActiveDevice {
  readonly stored: StoredDevice;
  readonly config: AuditDeviceConfig;
  readonly device: AuditDevice;
  readonly salt: Buffer;
  readonly hasher: Hasher;
  readonly signingKey: KeyObject;
  chain: ChainState;
  /** See AuditLogSnapshot.fileStartHash. */
  fileStartHash: string | undefined;
  /** Lines written since the last checkpoint. */
  sinceCheckpoint: number;
  /** A checkpoint was written whose chain position is not yet persisted. */
  unsaved: boolean;
  writes: number;
  lines: number;
  failures: number;
}

interface PendingLine {
  readonly type: AuditEntryType;
  readonly record: AuditResponseRecord;
  /** Epoch ms when the line was requested (its `time`). */
  readonly epochMs: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** "file", "/file/" → "file/"; segments of letters, digits, "_", "." and "-". */
export function normaliseAuditPath(raw: string): string {
  const trimmed = raw.trim().replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') throw invalidField('path', 'is required');
  if (trimmed.length > MAX_PATH_LENGTH) {
    throw invalidField('path', `must be at most ${MAX_PATH_LENGTH} characters`);
  }
  for (const segment of trimmed.split('/')) {
    if (!PATH_SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw invalidField('path', 'segments may hold only letters, digits, "_", "." and "-"');
    }
  }
  return `${trimmed}/`;
}

function chainKey(path: string): string {
  return `${AUDIT_KEYS.chainPrefix}${path.slice(0, -1)}`;
}

function createDevice(config: AuditDeviceConfig): AuditDevice & { open(): Promise<void> } {
  return config.type === 'file' ? new FileAuditDevice(config) : new SocketAuditDevice(config);
}

/** The chain position a device's existing file ends at, if it ends with a chained line. */
function chainFromTail(tail: string | undefined): ChainState | undefined {
  if (tail === undefined) return undefined;
  const seq = chainSeqOf(tail);
  return seq === undefined ? undefined : { seq, lastHash: auditLineHash(tail) };
}

export class AuditBroker {
  readonly #storage: Storage;
  readonly #now: () => number;
  readonly #logger: AuditLogger | undefined;
  readonly #onFailure: AuditBrokerDeps['onFailure'];
  #devices = new Map<string, ActiveDevice>();
  #open = false;
  #pending: PendingLine[] = [];
  #flushScheduled = false;
  /** Flushes, enable/disable, reopen and close run one at a time, in order, on this lane. */
  #lane: Promise<void> = Promise.resolve();

  constructor(deps: AuditBrokerDeps) {
    this.#storage = deps.storage;
    this.#now = deps.now;
    this.#logger = deps.logger;
    this.#onFailure = deps.onFailure;
  }

  /**
   * Loads the device table and opens each device. A device that cannot be opened now (a
   * missing directory, a socket peer that is down) is kept: each batch retries it and counts
   * as failed on it until it works.
   */
  async open(): Promise<void> {
    if (this.#open) return;
    await this.#onLane(async () => {
      const table = await getJson<StoredTable>(this.#storage, AUDIT_KEYS.table);
      if (table !== undefined && table.version !== TABLE_VERSION) {
        throw new CofferError('integrity_failure', 'audit device table has an unknown version');
      }
      const devices = new Map<string, ActiveDevice>();
      for (const stored of table?.devices ?? []) {
        devices.set(stored.path, await this.#load(stored));
      }
      this.#devices = devices;
      this.#open = true;
    });
  }

  async #load(stored: StoredDevice): Promise<ActiveDevice> {
    const { config } = parseDeviceOptions(stored.type, stored.options);
    const device = createDevice(config);
    if (config.type === 'file') {
      try {
        await device.open();
      } catch (error) {
        this.#warn(stored.path, config.type, error, 'audit device could not be opened');
      }
    }
    const saved = (await getJson<StoredChain>(this.#storage, chainKey(stored.path))) ?? {
      seq: 0,
      lastHash: stored.genesis,
    };
    // A file resumes from its own last line when that is ahead of the last saved checkpoint
    // (lines written after it before a crash); otherwise from the saved position.
    let chain: ChainState = saved;
    try {
      const tail = chainFromTail(await device.lastLine());
      if (tail !== undefined && tail.seq > saved.seq) chain = tail;
    } catch (error) {
      this.#warn(stored.path, config.type, error, 'audit file tail could not be read');
    }
    const active = this.#activate(stored, config, device, chain, chain.seq - saved.seq);
    active.fileStartHash = saved.fileStartHash;
    return active;
  }

  #activate(
    stored: StoredDevice,
    config: AuditDeviceConfig,
    device: AuditDevice,
    chain: ChainState,
    sinceCheckpoint: number,
  ): ActiveDevice {
    const salt = Buffer.from(stored.salt, 'base64');
    return {
      stored,
      config,
      device,
      salt,
      hasher: deviceHasher(salt),
      signingKey: createPrivateKey(stored.signingKey),
      chain,
      fileStartHash: undefined,
      sinceCheckpoint,
      unsaved: false,
      writes: 0,
      lines: 0,
      failures: 0,
    };
  }

  /**
   * Writes pending lines, a closing checkpoint on every device and its chain position, then
   * closes the devices. Lines requested afterwards are refused until open() again.
   */
  async close(): Promise<void> {
    if (!this.#open) return;
    await this.#onLane(async () => {
      await this.#flushNow();
      this.#open = false;
      const devices = [...this.#devices.values()];
      this.#devices = new Map();
      for (const active of devices) {
        await this.#checkpointAndSave(active);
        await active.device.close();
      }
    });
  }

  /**
   * Log rotation: after the operator moved the files away, each device gets a checkpoint in
   * its old file, then reopens its path. The first line of the new file continues the chain
   * (its `prev` is the hash of the old file's last line, that closing checkpoint).
   */
  async reopen(): Promise<void> {
    this.#requireOpen();
    await this.#onLane(async () => {
      await this.#flushNow();
      for (const active of this.#devices.values()) {
        await this.#checkpointAndSave(active, false);
        // The new file continues the chain from here; its verification starts from this hash.
        if (active.config.type === 'file') {
          active.fileStartHash = active.chain.lastHash;
          active.unsaved = true;
        }
        if (active.unsaved) await this.#saveChain(active);
        try {
          await active.device.reopen();
        } catch (error) {
          this.#warn(
            active.stored.path,
            active.config.type,
            error,
            'audit device could not be reopened',
          );
        }
      }
    });
  }

  /** `PUT sys/audit/:path`: validates, opens the device (refusing one it cannot open) and persists it. */
  async enable(rawPath: string, input: EnableAuditOptions): Promise<void> {
    this.#requireOpen();
    const path = normaliseAuditPath(rawPath);
    const { config, options } = parseDeviceOptions(input.type, input.options ?? {});
    await this.#onLane(async () => {
      for (const [existing, active] of this.#devices) {
        if (existing.startsWith(path) || path.startsWith(existing)) {
          throw invalidField('path', `"${path}" is already in use (device "${existing}")`);
        }
        if (
          config.type === 'file' &&
          active.config.type === 'file' &&
          active.config.filePath === config.filePath
        ) {
          throw invalidField('options.file_path', `is already used by audit device "${existing}"`);
        }
      }
      const device = createDevice(config);
      try {
        await device.open();
      } catch (error) {
        const field = config.type === 'file' ? 'options.file_path' : 'options.address';
        throw invalidField(field, `cannot open the audit ${config.type} (${failureCode(error)})`);
      }
      try {
        const keys = generateCheckpointKeys();
        const stored: StoredDevice = {
          path,
          type: config.type,
          description: input.description ?? '',
          local: input.local ?? false,
          options,
          salt: newSalt().toString('base64'),
          signingKey: keys.privateKeyPem,
          publicKey: keys.publicKeySpki,
          genesis: genesisHash(),
          createdAt: this.#now(),
        };
        // Re-enabled on a file that already holds a chain: continue it, so the file verifies
        // as one chain (checkpoints before this point were signed by the earlier device's key).
        const chain = chainFromTail(await device.lastLine()) ?? {
          seq: 0,
          lastHash: stored.genesis,
        };
        const table: StoredTable = {
          version: TABLE_VERSION,
          devices: [...[...this.#devices.values()].map((d) => d.stored), stored],
        };
        await this.#storage.batch([
          { op: 'put', key: AUDIT_KEYS.table, value: encodeJson(table) },
          { op: 'put', key: chainKey(path), value: encodeJson(chain) },
        ]);
        this.#devices.set(path, this.#activate(stored, config, device, chain, 0));
      } catch (error) {
        await device.close();
        throw error;
      }
    });
  }

  /**
   * `DELETE sys/audit/:path`: a final checkpoint, then the device and its salt and keys are
   * forgotten (re-enabling creates new ones, as in Vault). Unknown paths are a no-op (hvac's
   * tests disable devices that may not exist).
   */
  async disable(rawPath: string): Promise<void> {
    this.#requireOpen();
    const path = normaliseAuditPath(rawPath);
    await this.#onLane(async () => {
      await this.#flushNow();
      const active = this.#devices.get(path);
      if (active === undefined) return;
      await this.#checkpointAndSave(active, false);
      const table: StoredTable = {
        version: TABLE_VERSION,
        devices: [...this.#devices.values()].filter((d) => d !== active).map((d) => d.stored),
      };
      await this.#storage.batch([
        { op: 'put', key: AUDIT_KEYS.table, value: encodeJson(table) },
        { op: 'delete', key: chainKey(path) },
      ]);
      this.#devices.delete(path);
      await active.device.close();
    });
  }

  /** `GET sys/audit`: `"path/" → {type, description, options, local, path}`. */
  list(): JsonObject {
    const out: JsonObject = {};
    for (const { stored } of this.#devices.values()) {
      out[stored.path] = {
        type: stored.type,
        description: stored.description,
        options: { ...stored.options, checkpoint_public_key: stored.publicKey },
        local: stored.local,
        path: stored.path,
      };
    }
    return out;
  }

  /** `sys/audit-hash/:path`: the HMAC that device writes for `input`. */
  hash(rawPath: string, input: string): string {
    let path: string;
    try {
      path = normaliseAuditPath(rawPath);
    } catch {
      throw new CofferError('invalid_request', 'unknown audit backend');
    }
    const active = this.#devices.get(path);
    if (active === undefined) {
      throw new CofferError('invalid_request', `unknown audit backend ${path}`);
    }
    return hmacString(active.salt, input);
  }

  /**
   * For `sys/audit-log` (the web UI's audit view): flushes what is queued, then reports where a
   * device's log ends now and its chain head. Taken on the writing lane, so `sizeBytes` falls
   * between two batches (on a line boundary) and the head is exactly the file's last line.
   * Reading the file happens afterwards, off the lane; lines appended meanwhile are past `sizeBytes`.
   */
  async logSnapshot(rawPath: string): Promise<AuditLogSnapshot> {
    this.#requireOpen();
    const path = normaliseAuditPath(rawPath);
    return this.#onLane(async () => {
      await this.#flushNow();
      const active = this.#devices.get(path);
      if (active === undefined) throw new CofferError('not_found', 'no audit device at that path');
      const { config, stored, chain, fileStartHash } = active;
      const head = { seq: chain.seq, lastHash: chain.lastHash };
      if (config.type !== 'file') {
        return { path, type: config.type, publicKey: stored.publicKey, head };
      }
      let sizeBytes = 0;
      try {
        sizeBytes = (await stat(config.filePath)).size;
      } catch (error) {
        this.#warn(path, config.type, error, 'audit file could not be inspected');
        throw new CofferError('internal', 'audit: the audit file could not be read');
      }
      return {
        path,
        type: 'file',
        filePath: config.filePath,
        sizeBytes,
        publicKey: stored.publicKey,
        head,
        ...(fileStartHash === undefined ? {} : { fileStartHash }),
      };
    });
  }

  hasDevices(): boolean {
    return this.#devices.size > 0;
  }

  /**
   * Open with no device enabled: a line requested now would be recorded by nobody and its
   * promise would resolve at once, so a caller may skip building and awaiting it. False while
   * closed (requests then fail closed through logRequest).
   */
  get idle(): boolean {
    return this.#open && this.#devices.size === 0;
  }

  deviceStats(): AuditDeviceStats[] {
    return [...this.#devices.values()].map((d) => ({
      path: d.stored.path,
      writes: d.writes,
      lines: d.lines,
      failures: d.failures,
    }));
  }

  /**
   * Records the request line on every device. Resolves once at least one device has handed it
   * to the OS; rejects (internal error) when devices are enabled and none could. With no device
   * enabled it resolves at once, as Vault does. The record must not change until it settles.
   */
  logRequest(record: AuditRequestRecord): Promise<void> {
    return this.#enqueue('request', record);
  }

  /** Records the response line; same contract as logRequest. */
  logResponse(record: AuditResponseRecord): Promise<void> {
    return this.#enqueue('response', record);
  }

  #enqueue(type: AuditEntryType, record: AuditResponseRecord): Promise<void> {
    // SECURITY: fail closed while the table is not loaded: no device list means no audit.
    if (!this.#open) {
      return Promise.reject(new CofferError('internal', 'audit: the audit broker is not open'));
    }
    if (this.#devices.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ type, record, epochMs: this.#now(), resolve, reject });
      this.#schedule();
    });
  }

  /** One flush per event-loop turn (or per write in flight): every line queued by then goes in one write per device. */
  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      void this.#onLane(() => this.#flushNow());
    });
  }

  #onLane<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#lane.then(task);
    this.#lane = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #flushNow(): Promise<void> {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    if (!this.#open) {
      // Queued while the broker was closing: nothing will record these lines.
      for (const item of batch) item.reject(new CofferError('internal', AUDIT_FAILED_MESSAGE));
      return;
    }
    const devices = [...this.#devices.values()];
    const outcomes = await Promise.all(devices.map((active) => this.#writeBatch(active, batch)));
    // SECURITY: fail closed: a line counts as recorded only if some device recorded it.
    const recorded = devices.length === 0 || outcomes.some((ok) => ok);
    if (!recorded) this.#onFailure?.({ refused: true });
    for (const item of batch) {
      if (recorded) item.resolve();
      else item.reject(new CofferError('internal', AUDIT_FAILED_MESSAGE));
    }
    for (const active of devices) if (active.unsaved) await this.#saveChain(active);
  }

  /** Formats, chains and writes one batch on one device; false when it failed there. */
  async #writeBatch(active: ActiveDevice, batch: readonly PendingLine[]): Promise<boolean> {
    const { config } = active;
    let chain = active.chain;
    let since = active.sinceCheckpoint;
    let checkpointed = false;
    const lines: string[] = [];
    // The lines of one batch repeat the same strings (a request's token and accessor in both of
    // its lines, the same caller across requests): each distinct string is HMAC'd once per
    // batch. The memo lives only while this batch is formatted; it holds nothing the batch's
    // own records do not already hold.
    const memo = new Map<string, string>();
    const hasher: Hasher = (value) => {
      let hashed = memo.get(value);
      if (hashed === undefined) {
        hashed = active.hasher(value);
        memo.set(value, hashed);
      }
      return hashed;
    };
    try {
      for (const item of batch) {
        const entry = formatAuditEntry(item.type, item.record, item.epochMs, hasher, {
          hmacAccessor: config.hmacAccessor,
        });
        const line = chainLine(chain, entry, config.prefix);
        lines.push(line.text);
        chain = line.state;
        since++;
        if (since >= config.checkpointInterval) {
          const checkpoint = checkpointLine(chain, active.signingKey, this.#now(), config.prefix);
          lines.push(checkpoint.text);
          chain = checkpoint.state;
          since = 0;
          checkpointed = true;
        }
      }
      await active.device.write(Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
    } catch (error) {
      active.failures++;
      this.#warn(active.stored.path, config.type, error, 'audit device could not record a batch');
      return false;
    }
    active.chain = chain;
    active.sinceCheckpoint = since;
    active.unsaved ||= checkpointed;
    active.writes++;
    active.lines += lines.length;
    return true;
  }

  /** A checkpoint over the lines since the last one (if any), then the chain position saved. */
  async #checkpointAndSave(active: ActiveDevice, save = true): Promise<void> {
    if (active.sinceCheckpoint > 0) {
      const checkpoint = checkpointLine(
        active.chain,
        active.signingKey,
        this.#now(),
        active.config.prefix,
      );
      try {
        await active.device.write(Buffer.from(`${checkpoint.text}\n`, 'utf8'));
        active.chain = checkpoint.state;
        active.sinceCheckpoint = 0;
        active.writes++;
        active.lines++;
        active.unsaved = true;
      } catch (error) {
        active.failures++;
        this.#warn(
          active.stored.path,
          active.config.type,
          error,
          'audit checkpoint could not be written',
        );
      }
    }
    if (save && active.unsaved) await this.#saveChain(active);
  }

  async #saveChain(active: ActiveDevice): Promise<void> {
    try {
      await putJson(this.#storage, chainKey(active.stored.path), {
        seq: active.chain.seq,
        lastHash: active.chain.lastHash,
        ...(active.fileStartHash === undefined ? {} : { fileStartHash: active.fileStartHash }),
      } satisfies StoredChain);
      active.unsaved = false;
    } catch (error) {
      // The file still holds the chain (read back at startup); a socket resumes from the last
      // saved checkpoint, which its receiver sees as a break in seq.
      this.#warn(
        active.stored.path,
        active.config.type,
        error,
        'audit chain position could not be saved',
      );
    }
  }

  #requireOpen(): void {
    if (!this.#open) throw new CofferError('internal', 'audit: the audit broker is not open');
  }

  /** SECURITY: logs the device and an errno-like code, never a line or a value. */
  #warn(path: string, type: string, error: unknown, message: string): void {
    this.#logger?.warn({ device: path, type, code: failureCode(error) }, message);
    this.#onFailure?.({ deviceType: type, refused: false });
  }
}
