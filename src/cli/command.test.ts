import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError, ClientError, ConnectionError } from '../client/index.js';
import { closedLoopbackPort } from '../client/testing.js';
import { UsageError } from './args.js';
import { connectionMessage, reportError } from './command.js';
import { runCli } from './main.js';

const TOKEN = 'hvs.command-test-token';
const temp = mkdtempSync(join(tmpdir(), 'coffer-command-test-'));
const servers: (HttpServer | NetServer)[] = [];

afterAll(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => {
            resolve();
          });
        }),
    ),
  );
  rmSync(temp, { recursive: true, force: true });
});

async function listen(server: HttpServer | NetServer): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Runs the CLI in-process with the real fetch against `address`. */
async function run(argv: string[], address: string) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(argv, {
    env: { COFFER_ADDR: address, COFFER_TOKEN: TOKEN, HOME: temp },
    stdout: (s) => stdout.push(s),
    stderr: (s) => stderr.push(s),
  });
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

function capture() {
  const lines: string[] = [];
  const io = { env: {}, stdout: () => undefined, stderr: (s: string) => lines.push(s) };
  return { io, text: () => lines.join('') };
}

describe('connectionMessage', () => {
  const at = (reason: string) =>
    connectionMessage(new ConnectionError('http://127.0.0.1:8200', reason));

  it('puts words before a known code and keeps the code', () => {
    expect(at('ECONNREFUSED')).toBe(
      'cannot reach Coffer at http://127.0.0.1:8200: connection refused (ECONNREFUSED)',
    );
    expect(at('ENOTFOUND')).toBe(
      'cannot reach Coffer at http://127.0.0.1:8200: host not found (ENOTFOUND)',
    );
    expect(at('UND_ERR_SOCKET')).toBe(
      'cannot reach Coffer at http://127.0.0.1:8200: the server closed the connection (UND_ERR_SOCKET)',
    );
  });

  it('shows any other reason as it is (a timeout, an unknown code, a prototype key)', () => {
    expect(at('no answer within 60000 ms')).toBe(
      'cannot reach Coffer at http://127.0.0.1:8200: no answer within 60000 ms',
    );
    expect(at('EWHATEVER')).toBe('cannot reach Coffer at http://127.0.0.1:8200: EWHATEVER');
    expect(at('constructor')).toBe('cannot reach Coffer at http://127.0.0.1:8200: constructor');
  });
});

describe('reportError', () => {
  it('prints one line for a server that cannot be reached, and exits 1', () => {
    const { io, text } = capture();
    const error = new ConnectionError('http://127.0.0.1:8200', 'ECONNREFUSED');
    expect(reportError(io, error, 'Usage: coffer read PATH', 'read')).toBe(1);
    expect(text()).toBe(
      'Error: cannot reach Coffer at http://127.0.0.1:8200: connection refused (ECONNREFUSED)\n',
    );
  });

  it('keeps the other kinds of failure as they were', () => {
    const cases: [unknown, string, number][] = [
      [
        new UsageError('missing -config'),
        'Error: missing -config\nUsage: coffer x\nRun "coffer x -h" for details.\n',
        2,
      ],
      [new ApiError(403, ['permission denied']), 'Error: permission denied (403)\n', 1],
      [new ApiError(500, []), 'Error: request failed (500)\n', 1],
      [
        new ClientError('address must start with http:// or https://'),
        'Error: address must start with http:// or https://\n',
        1,
      ],
      ['thrown string', 'Error: unexpected failure\n', 1],
    ];
    for (const [error, line, code] of cases) {
      const { io, text } = capture();
      expect(reportError(io, error, 'Usage: coffer x', 'x')).toBe(code);
      expect(text()).toBe(line);
    }
  });
});

describe('every command, server unreachable', () => {
  it('prints the same one line (no stack trace, no token) and exits 1', async () => {
    const port = await closedLoopbackPort();
    const address = `http://127.0.0.1:${port}`;
    const tokenFile = join(temp, 'agent-token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const agentConfig = join(temp, 'agent.hcl');
    writeFileSync(
      agentConfig,
      `auto_auth {\n  method "token_file" {\n    config = { token_file_path = ${JSON.stringify(tokenFile)} }\n  }\n}\n`,
    );
    const commands = [
      ['status'],
      ['read', 'secret/app'],
      ['write', 'secret/app', 'a=b'],
      ['kv', 'get', 'secret/app'],
      ['token', 'lookup'],
      ['policy', 'list'],
      ['lease', 'lookup', 'database/creds/app/x'],
      ['secrets', 'list'],
      ['env', '-path=secret/app'],
      ['run', '-path=secret/app', '--', 'true'],
      ['agent', `-config=${agentConfig}`, '-exit-after-auth'],
    ];
    const line = `Error: cannot reach Coffer at ${address}: connection refused (ECONNREFUSED)\n`;
    for (const argv of commands) {
      const result = await run(argv, address);
      expect({ argv, code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
        argv,
        code: 1,
        stdout: '',
        stderr: line,
      });
    }
  });

  it('names the TLS failure when https:// points at a plain HTTP server', async () => {
    const port = await listen(createHttpServer((_req, res) => res.end('{}')));
    const result = await run(['status'], `https://127.0.0.1:${port}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Error: cannot reach Coffer at https://127.0.0.1:${port}: TLS handshake failed; ` +
        'is the server serving plain HTTP? (ERR_SSL_WRONG_VERSION_NUMBER)\n',
    );
  });

  it('says so when the server closes the connection without answering', async () => {
    const port = await listen(
      createNetServer((socket) => {
        socket.once('data', () => socket.destroy());
      }),
    );
    const result = await run(['read', 'secret/app'], `http://127.0.0.1:${port}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Error: cannot reach Coffer at http://127.0.0.1:${port}: the server closed the connection (UND_ERR_SOCKET)\n`,
    );
  });
});
