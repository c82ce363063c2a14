// `coffer server --dev` as a child process: unsealed at once, `secret/` is KV v2, the chosen
// root token works, SIGTERM exits 0, and the log (unlike the banner) never shows the token.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import {
  createTempDir,
  findCanaries,
  killAllServers,
  runCoffer,
  startServer,
} from '../helpers/server-process.js';
import { sealStatus, vaultOk, vaultRequest } from './vault-http.js';

describe('coffer server --dev (in memory)', () => {
  afterAll(async () => {
    await killAllServers();
  });

  it('serves an unsealed KV v2 secret/ with the given root token and stops on SIGTERM', async () => {
    const rootToken = `dev-root-${randomUUID()}`;
    const value = `dev-canary-${randomUUID()}`;
    const server = await startServer({ dev: { rootTokenId: rootToken } });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.stdout()).toContain(`    $ export COFFER_ADDR='${server.url}'\n`);
    expect(await sealStatus(server.url)).toMatchObject({ initialized: true, sealed: false });

    const written = await vaultOk(server.url, 'POST', 'secret/data/app', {
      token: rootToken,
      body: { data: { value } },
    });
    expect((written.body as { data: { version: number } }).data.version).toBe(1);
    const read = await vaultOk(server.url, 'GET', 'secret/data/app', { token: rootToken });
    expect((read.body as { data: { data: unknown } }).data.data).toEqual({ value });
    const denied = await vaultRequest(server.url, 'GET', 'secret/data/app', { token: 'wrong' });
    expect(denied.status).toBe(403);

    expect(await server.stop('SIGTERM')).toBe(0);
    // The dev banner prints the token on purpose; the JSON log must not.
    expect(server.stdout()).toContain(rootToken);
    expect(findCanaries(server.stderr(), { rootToken, value })).toEqual([]);
  });

  it('says in one line that the port is taken (no "Error: Error:")', async () => {
    const first = await startServer({ dev: true });
    const address = new URL(first.url).host;
    const tmp = createTempDir('coffer-port-');
    try {
      const config = tmp.file('coffer.hcl');
      writeFileSync(
        config,
        `storage "inmem" {}\nlistener "tcp" {\n  address = "${address}"\n  tls_disable = true\n}\n`,
      );
      const second = await runCoffer(['server', '--config', config], { env: {} });
      expect(second.code).toBe(1);
      expect(second.stderr).toBe(
        `Error: cannot listen on ${address}: the address is already in use (EADDRINUSE)\n`,
      );
    } finally {
      tmp.remove();
    }
  });
});
