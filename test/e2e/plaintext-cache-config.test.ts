// The `plaintext_cache_lifetime` setting reaches the barrier: the start-up banner reads the
// lifetime back from the barrier itself, so a setting lost between the configuration and the
// barrier (a default wired in its place) shows here.
import { afterAll, describe, expect, it } from 'vitest';
import { createTempDir, killAllServers, startServer } from '../helpers/server-process.js';

function configWith(dbPath: string, setting: string | undefined): string {
  return [
    'storage "sqlite" {',
    `  path = ${JSON.stringify(dbPath)}`,
    '}',
    'listener "tcp" {',
    '  address = "127.0.0.1:0"',
    '  tls_disable = true',
    '}',
    ...(setting === undefined ? [] : [`plaintext_cache_lifetime = ${JSON.stringify(setting)}`]),
    '',
  ].join('\n');
}

describe('plaintext_cache_lifetime from the configuration file to the barrier', () => {
  const dir = createTempDir('coffer-plaintext-config-');
  afterAll(async () => {
    await killAllServers();
    dir.remove();
  });

  const cases: [string | undefined, string][] = [
    ['0', 'Plaintext cache: off (every read decrypts)'],
    ['45s', 'Plaintext cache: 45s lifetime'],
    [undefined, 'Plaintext cache: 30s lifetime'],
  ];
  for (const [setting, line] of cases) {
    it(`${setting === undefined ? 'unset (the default)' : `"${setting}"`} gives "${line}"`, async () => {
      const server = await startServer({
        configText: configWith(dir.file(`coffer-${setting ?? 'default'}.db`), setting),
      });
      try {
        expect(server.stdout()).toContain(line);
      } finally {
        await server.stop();
      }
    }, 60_000);
  }
});
