// File audit devices and response wrapping through unmodified clients against a coffer dev
// server: node-vault 0.12.0 (npm) in-process, and hvac 0.11.2 (Debian python3-hvac) through
// test/e2e/hvac_audit_wrap_scenario.py. Each enables a file audit device, finds the device's
// HMAC of a canary in the file, and checks the canary itself never lands there in any encoding;
// then wraps a KV v2 read and unwraps it once (the second unwrap fails). Missing hvac skips its
// part locally and fails it with CI=true.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCi } from '../helpers/skips.js';
import { vaultError } from '../helpers/node-vault.js';
import {
  hvacMissingReason as missingReason,
  hvacPhaseState,
  hvacVersion,
  killHvacPhases,
  runHvacPhase,
} from '../helpers/hvac.js';
import {
  createTempDir,
  encodedForms,
  findCanaries,
  killAllServers,
  startServer,
  type ServerProcess,
} from '../helpers/server-process.js';

const SCRIPT = fileURLToPath(new URL('./hvac_audit_wrap_scenario.py', import.meta.url));
/** Bound on the wait for an audit line to reach the file. */
const AUDIT_WAIT_MS = 5_000;

/** The audit file's text ('' before the device created it). */
function readAudit(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** Waits (bounded) until the audit file contains `needle`; returns the file's text. */
async function waitForAudit(file: string, needle: string): Promise<string> {
  const deadline = performance.now() + AUDIT_WAIT_MS;
  for (;;) {
    const text = readAudit(file);
    if (text.includes(needle) || performance.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every non-empty line of the audit file parsed as JSON (throws on the first one that is not). */
function auditEntries(text: string): Record<string, unknown>[] {
  const lines = text.split('\n').filter((line) => line !== '');
  return lines.map((line, index) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(`audit line ${index + 1} is not JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`audit line ${index + 1} is not a JSON object`);
    }
    return parsed as Record<string, unknown>;
  });
}

afterAll(async () => {
  killHvacPhases();
  await killAllServers();
});

describe('node-vault 0.12.0: file audit device and response wrapping', () => {
  const dir = createTempDir('coffer-e2e-nv-audit-');
  const auditFile = dir.file('audit.log');
  const rootToken = `nva-root-${randomBytes(16).toString('hex')}`;
  // A space and a slash so that the URL-encoded form differs from the raw one.
  const canary = `nva canary/${randomUUID()}`;
  const DEVICE = 'nv-file';
  let server: ServerProcess;
  let client: ReturnType<typeof vault>;
  let wrapToken = '';

  beforeAll(async () => {
    server = await startServer({ dev: { rootTokenId: rootToken } });
    client = vault({ endpoint: server.url, token: rootToken });
  });

  afterAll(async () => {
    await server.stop('SIGTERM').catch(() => undefined);
    dir.remove();
  });

  it('enableAudit (file, absolute path) and audits lists it', async () => {
    await client.enableAudit({
      name: DEVICE,
      type: 'file',
      description: 'node-vault e2e',
      options: { file_path: auditFile },
    });
    const listed = (await client.audits()) as Record<string, unknown>;
    const device = (listed.data as Record<string, Record<string, unknown>>)[`${DEVICE}/`];
    expect(device).toMatchObject({
      type: 'file',
      description: 'node-vault e2e',
      path: `${DEVICE}/`,
      options: { file_path: auditFile },
    });
    // Vault also copies the map to the top level of a sys/audit response.
    expect(listed[`${DEVICE}/`]).toEqual(device);
  });

  it('the audit-hash of the canary is what the file holds for the KV v2 value', async () => {
    // node-vault 0.12.0 has no auditHash command: the generic write reaches sys/audit-hash.
    const hashed = (await client.write(`sys/audit-hash/${DEVICE}`, { input: canary })) as {
      data: { hash: string };
      hash?: string;
    };
    const hash = hashed.data.hash;
    expect(hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(hashed.hash).toBe(hash);

    const written = (await client.write('secret/data/nv/audit', { data: { value: canary } })) as {
      data: { version: number };
    };
    expect(written.data.version).toBe(1);
    const read = (await client.read('secret/data/nv/audit')) as {
      data: { data: Record<string, string> };
    };
    expect(read.data.data).toEqual({ value: canary });

    const text = await waitForAudit(auditFile, hash);
    expect(text.includes(hash), 'the HMAC of the canary is in the audit file').toBe(true);
  });

  it('a wrapped read (X-Vault-Wrap-TTL: 60) unwraps once with node-vault, then fails', async () => {
    const wrapped = (await client.read('secret/data/nv/audit', {
      headers: { 'X-Vault-Wrap-TTL': '60' },
    })) as {
      data: unknown;
      wrap_info: { token: string; accessor: string; ttl: number; creation_path: string };
    };
    expect(wrapped.data).toBeNull();
    expect(wrapped.wrap_info.ttl).toBe(60);
    expect(wrapped.wrap_info.creation_path).toBe('secret/data/nv/audit');
    wrapToken = wrapped.wrap_info.token;
    expect(wrapToken).not.toBe('');
    expect(JSON.stringify(wrapped)).not.toContain(canary);

    const unwrapped = (await client.unwrap({ token: wrapToken })) as {
      data: { data: Record<string, string> };
    };
    expect(unwrapped.data.data).toEqual({ value: canary });

    const again = await vaultError(client.unwrap({ token: wrapToken }));
    expect(again.status).toBe(400);
    expect(again.message).toContain('wrapping token is not valid or does not exist');
  });

  it('the audit file is JSON lines and holds the canary and tokens in no form', async () => {
    const text = await waitForAudit(auditFile, 'sys/wrapping/unwrap');
    const entries = auditEntries(text);
    // A request and a response line each for at least: list, hash, write, read, wrap, unwrap.
    expect(entries.length).toBeGreaterThanOrEqual(2 * 6);
    expect(new Set(entries.map((e) => e.type))).toEqual(new Set(['request', 'response']));
    expect(
      findCanaries(text, encodedForms({ canary, rootToken, wrapToken })),
      'secrets found in the audit file (name:form)',
    ).toEqual([]);
  });

  it('disableAudit removes the device and it writes no more lines', async () => {
    await client.disableAudit({ name: DEVICE });
    const listed = (await client.audits()) as { data: Record<string, unknown> };
    expect(listed.data[`${DEVICE}/`]).toBeUndefined();
    const size = statSync(auditFile).size;
    await client.read('secret/data/nv/audit');
    expect(statSync(auditFile).size).toBe(size);
  });
});

describe('hvac 0.11.2 (Debian): file audit device and response wrapping', () => {
  if (hvacVersion === undefined && !isCi()) {
    console.warn(`[hvac audit-wrap e2e] skipped: ${missingReason}`);
    it.skip(`hvac audit/wrap scenario (skipped: ${missingReason})`, () => {});
    return;
  }

  const dir = createTempDir('coffer-e2e-hvac-audit-');
  const home = createTempDir('coffer-e2e-hvac-audit-home-');
  const auditFile = dir.file('hvac-audit.log');
  const rootToken = `hva-root-${randomBytes(16).toString('hex')}`;
  const canary = `hva canary/${randomUUID()}`;
  let server: ServerProcess | undefined;
  let state: Record<string, unknown> = {
    root_token: rootToken,
    canary,
    audit_file: auditFile,
    device: 'hvac-file',
  };
  /** Set once a phase fails: later phases depend on its state, so they stop early. */
  let broken: string | undefined;
  let wrapToken = '';

  async function phase(name: string): Promise<Record<string, string>> {
    expect(server).toBeDefined();
    expect(broken, `an earlier phase failed (${broken ?? ''})`).toBeUndefined();
    broken = name;
    const result = await runHvacPhase(SCRIPT, name, server!.url, state, home.path);
    const added = hvacPhaseState(name, result);
    state = { ...state, ...added };
    broken = undefined;
    return added;
  }

  beforeAll(async () => {
    if (hvacVersion === undefined) return;
    server = await startServer({ dev: { rootTokenId: rootToken } });
  });

  afterAll(async () => {
    killHvacPhases();
    await server?.stop('SIGTERM').catch(() => undefined);
    dir.remove();
    home.remove();
  });

  it('finds python3-hvac for /usr/bin/python3', () => {
    if (hvacVersion === undefined) throw new Error(`CI is set but ${missingReason}`);
    console.info(`[hvac audit-wrap e2e] hvac ${hvacVersion}`);
    expect(hvacVersion).toMatch(/^\d+\.\d+/);
  });

  it('phase audit: enable_audit_device, list, calculate_hash; the hash is in the file', async () => {
    const { canary_hash: hash } = await phase('audit');
    expect(hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    const text = await waitForAudit(auditFile, hash!);
    expect(text.includes(hash!), 'the HMAC of the canary is in the audit file').toBe(true);
  });

  it('phase wrap: a wrapped read (wrap_ttl=60s) unwraps once, then InvalidRequest', async () => {
    wrapToken = (await phase('wrap')).wrap_token ?? '';
    expect(wrapToken).not.toBe('');
  });

  it('the audit file is JSON lines and holds the canary and tokens in no form', async () => {
    expect(server).toBeDefined();
    const text = await waitForAudit(auditFile, 'sys/wrapping/unwrap');
    const entries = auditEntries(text);
    expect(entries.length).toBeGreaterThanOrEqual(2 * 6);
    const secrets = { canary, rootToken, wrapToken };
    expect(
      findCanaries(text, encodedForms(secrets)),
      'secrets found in the audit file (name:form)',
    ).toEqual([]);
  });

  it('phase disable: disable_audit_device; no more lines are written', async () => {
    expect(existsSync(auditFile)).toBe(true);
    await phase('disable');
    const size = statSync(auditFile).size;
    await phase('after-disable');
    expect(statSync(auditFile).size).toBe(size);
  });
});
