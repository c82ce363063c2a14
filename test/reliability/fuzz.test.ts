// Seeded HTTP fuzzing of the real server: random methods, paths (traversal, encodings, NUL,
// long and unicode segments), headers (tokens, wrap TTLs, content types, namespaces) and bodies
// (JSON of every shape, truncated, deep, huge numbers, __proto__, binary, forms). Any 5xx, a
// dropped connection or a dead server fails the run and prints the seed and the request.
// Afterwards, a canary planted in secrets and in hostile inputs is searched for in every log
// line, audit line, error body and the storage file. Sizes: FUZZ_REQUESTS (CI 10,000; the
// bench runs 100,000 through bench/reliability.js), FUZZ_SEED (random, printed). The event
// stream (a long-lived response) is left out.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTempDir,
  encodedForms,
  findCanaries,
  killAllServers,
  startServer,
} from '../helpers/server-process.js';
import { vaultOk } from '../e2e/vault-http.js';

const REQUESTS = Number(process.env['FUZZ_REQUESTS'] ?? 10_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? randomBytes(4).readUInt32LE(0));
const CONCURRENCY = 16;
const REQUEST_TIMEOUT_MS = 10_000;
const ROOT_TOKEN = `fuzz-root-${randomBytes(8).toString('hex')}`;
/** Planted as a stored secret: may come back only from a successful read. */
const STORED_CANARY = `CANARY-stored-${randomBytes(16).toString('hex')}`;
/** Used only in hostile inputs (tokens, headers, bad bodies): must never come back or be logged. */
const INPUT_CANARY = `CANARY-input-${randomBytes(16).toString('hex')}`;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'LIST', 'HEAD', 'OPTIONS', 'FOO'];
const PATHS = [
  'secret/data/app',
  'secret/data/canary',
  'secret/metadata/app',
  'secret/metadata/',
  'secret/delete/app',
  'secret/destroy/app',
  'secret/undelete/app',
  'secret/config',
  'secret/subkeys/app',
  'cubbyhole/x',
  'sys/mounts',
  'sys/mounts/fuzz',
  'sys/auth',
  'sys/policy/fuzz',
  'sys/policies/acl/fuzz',
  'sys/audit',
  'sys/audit-hash/file',
  'sys/capabilities-self',
  'sys/wrapping/wrap',
  'sys/wrapping/unwrap',
  'sys/wrapping/lookup',
  'sys/leases/lookup',
  'sys/tools/random/32',
  'sys/tools/hash',
  'sys/health',
  'sys/seal-status',
  'sys/internal/ui/mounts',
  'auth/token/create',
  'auth/token/lookup-self',
  'auth/token/lookup',
  'auth/token/lookup-accessor',
  'auth/token/roles/r',
  'auth/userpass/login/bob',
  'identity/entity',
];
const SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '%2F',
  '%00',
  '%',
  '%zz',
  '',
  'a'.repeat(4096),
  '\u202eevil',
  'ünï',
  '*',
  '+',
  '?list=true',
  '?list=maybe',
  `?token=${INPUT_CANARY}`,
];
const WRAP_TTLS = [
  '',
  '0',
  '-1',
  '1s',
  '5m',
  '768h',
  '2764801',
  '9007199254740991',
  '1e309',
  'abc',
  '1h2',
];
const CONTENT_TYPES = [
  'application/json',
  'application/x-www-form-urlencoded',
  'application/merge-patch+json',
  'text/plain',
  'multipart/form-data; boundary=x',
  '',
];

function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)]!;
}

function randomJson(r: () => number, depth: number): unknown {
  const kind = Math.floor(r() * (depth > 3 ? 5 : 8));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return pick(r, [0, -1, 1e308, 2 ** 53 + 1, 0.5, -0]);
    case 3:
      return pick(r, ['', 'x', INPUT_CANARY, '\u0000', 'ü'.repeat(50), '${env:HOME}']);
    case 4:
      return pick(r, ['a', 'b', 'data']);
    case 5:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 4); i > 0; i--) {
        out[
          pick(r, ['data', 'options', 'policy', 'ttl', 'versions', 'type', 'cas', 'x', 'input'])
        ] = randomJson(r, depth + 1);
      }
      return out;
    }
  }
}

function randomBody(r: () => number): Buffer | undefined {
  switch (Math.floor(r() * 11)) {
    case 0:
      return undefined;
    case 1:
      return Buffer.from(JSON.stringify({ data: { v: INPUT_CANARY } }));
    case 2: {
      // Audit entries HMAC values, not field names (as Vault's do), and a body not starting
      // with "{" sent as a form becomes one field name: the canary goes only where values go.
      const text = JSON.stringify(randomJson(r, 0));
      return Buffer.from(
        text.includes(INPUT_CANARY) && !text.startsWith('{') ? `{"x":${text}}` : text,
      );
    }
    case 3:
      return Buffer.from(JSON.stringify({ data: randomJson(r, 0) }).slice(0, -3));
    case 4:
      return Buffer.from('['.repeat(10_000) + ']'.repeat(10_000));
    case 5:
      return Buffer.from(`{"a":1e309,"b":-1e309,"c":${'9'.repeat(400)}}`);
    case 6:
      return Buffer.from('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}');
    case 7:
      return randomBytes(Math.floor(r() * 512));
    case 8:
      return Buffer.from(`a=1&b=${INPUT_CANARY}&data=x`);
    case 9:
      return Buffer.from('{"a":1,"a":2,"policy":"path \\"x\\" { capabilities = [\\"read\\"] }"}');
    default:
      return Buffer.from(`{"data":{"v":"${'x'.repeat(Math.floor(r() * 70_000))}"}}`);
  }
}

function randomRequest(r: () => number): FuzzRequest {
  let path = pick(r, PATHS);
  if (r() < 0.4) {
    const parts = path.split('/');
    parts.splice(Math.floor(r() * (parts.length + 1)), 0, pick(r, SEGMENTS));
    path = parts.join('/');
  }
  if (r() < 0.1) path = path.toUpperCase();
  if (r() < 0.05) path = `${path}/`;
  const headers: Record<string, string> = {};
  const token = r();
  if (token < 0.55) headers['x-vault-token'] = ROOT_TOKEN;
  else if (token < 0.7) headers['x-vault-token'] = INPUT_CANARY;
  else if (token < 0.75) headers['authorization'] = `Bearer ${ROOT_TOKEN}`;
  else if (token < 0.8) headers['authorization'] = `Bearer ${INPUT_CANARY}`;
  if (r() < 0.15) headers['x-vault-wrap-ttl'] = pick(r, WRAP_TTLS);
  if (r() < 0.05) headers['x-vault-namespace'] = pick(r, ['', 'root', 'ns1', INPUT_CANARY]);
  const type = pick(r, CONTENT_TYPES);
  if (type !== '') headers['content-type'] = type;
  const method = pick(r, METHODS);
  const body = method === 'GET' || method === 'HEAD' ? undefined : randomBody(r);
  return { method, path: `/v1/${path}`, headers, ...(body === undefined ? {} : { body }) };
}

function describeRequest(req: FuzzRequest): string {
  const headers = Object.keys(req.headers).join(',');
  return `${req.method} ${req.path.slice(0, 200)} headers=[${headers}] body=${req.body?.length ?? 0}B`;
}

/** Resident set of a process in MiB. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

describe(`HTTP fuzzing (${REQUESTS} requests, seed ${SEED})`, () => {
  const dir = createTempDir('coffer-fuzz-');
  afterAll(async () => {
    await killAllServers();
    dir.remove();
  });

  it(
    'no 5xx, no dropped connection, no crash; no canary in logs, audit, errors or storage',
    {
      timeout: 600_000,
    },
    async () => {
      const dbPath = dir.file('coffer.db');
      const auditPath = dir.file('audit.log');
      const server = await startServer({ dev: { rootTokenId: ROOT_TOKEN, storagePath: dbPath } });
      const pid = server.proc.pid!;
      await vaultOk(server.url, 'PUT', 'sys/audit/file', {
        token: ROOT_TOKEN,
        body: { type: 'file', options: { file_path: auditPath } },
      });
      await vaultOk(server.url, 'POST', 'secret/data/canary', {
        token: ROOT_TOKEN,
        body: { data: { v: STORED_CANARY } },
      });
      const rssBefore = rssMiB(pid);
      const r = rng(SEED);
      const statuses = new Map<number, number>();
      const errorBodies: string[] = [];
      let failure: string | undefined;
      let next = 0;
      const started = Date.now();
      const lanes = Array.from({ length: CONCURRENCY }, async () => {
        while (failure === undefined && next < REQUESTS) {
          const index = next++;
          const req = randomRequest(r);
          let status: number;
          let text: string;
          try {
            const res = await fetch(`${server.url}${req.path}`, {
              method: req.method,
              headers: req.headers,
              ...(req.body === undefined ? {} : { body: req.body }),
              signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
            });
            status = res.status;
            text = await res.text();
          } catch (err) {
            // A refused large body (413, then the connection closed) may reach the client as a
            // reset; anything else is a failure.
            if (req.body !== undefined && req.body.length > 64 * 1024) continue;
            const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
            const why = cause === undefined ? '' : ` / ${cause.code ?? ''} ${cause.message ?? ''}`;
            failure = `request #${index} failed (${(err as Error).message}${why}): ${describeRequest(req)}`;
            return;
          }
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status >= 500) {
            failure = `request #${index} got ${status}: ${describeRequest(req)}`;
            return;
          }
          if (status >= 400) errorBodies.push(text);
        }
      });
      await Promise.all(lanes);
      const seconds = (Date.now() - started) / 1000;
      const rssAfter = rssMiB(pid);
      const seen = [...statuses.entries()].sort((a, b) => a[0] - b[0]);
      console.log(
        `fuzz seed ${SEED}: ${REQUESTS} requests in ${seconds.toFixed(1)} s, statuses ` +
          `${seen.map(([s, n]) => `${s}x${n}`).join(' ')}; RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`,
      );
      expect(failure, `seed ${SEED}: ${failure ?? ''}`).toBeUndefined();
      expect(server.hasExited()).toBe(false);
      const health = await fetch(`${server.url}/v1/sys/health`);
      expect(health.status).toBe(200);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();

      // The canary leak scan, over everything the server wrote and answered.
      await server.stop();
      const forms = encodedForms({ stored: STORED_CANARY, input: INPUT_CANARY, root: ROOT_TOKEN });
      const storedAndInput = Object.fromEntries(
        Object.entries(forms).filter(([name]) => !name.startsWith('root')),
      );
      const logs = server.stdout() + server.stderr();
      const audit = readFileSync(auditPath, 'utf8');
      const storage = ['', '-wal', '-shm']
        .map((suffix) => {
          try {
            return readFileSync(`${dbPath}${suffix}`).toString('latin1');
          } catch {
            return '';
          }
        })
        .join('\n');
      // The dev server prints its root token once at start-up, as Vault does: look after it.
      const rootLine = logs.indexOf('Root Token: ');
      expect(rootLine).toBeGreaterThan(-1);
      const logsAfterBanner = logs.slice(logs.indexOf('\n', rootLine) + 1);
      expect(findCanaries(logsAfterBanner, forms)).toEqual([]);
      expect(findCanaries(audit, forms)).toEqual([]);
      expect(findCanaries(storage, storedAndInput)).toEqual([]);
      expect(findCanaries(errorBodies.join('\n'), forms)).toEqual([]);
      console.log(
        `canary scan: ${Object.keys(forms).length} forms over ${(logs.length / 1024).toFixed(0)} KiB of logs, ` +
          `${(audit.length / 1024).toFixed(0)} KiB of audit, ${errorBodies.length} error bodies, ` +
          `${(storage.length / 1024).toFixed(0)} KiB of storage: 0 hits`,
      );
    },
  );
});
