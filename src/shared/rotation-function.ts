// Rotation functions, door-neutral: what a door runs for each step of a rotation (AWS's four
// Lambda steps; Google's rotation notifications later). A function is an HTTPS webhook that
// receives the exact event JSON, HMAC-signed, with a timeout and retries (through the outbound
// chokepoint), or a local command that reads the event on standard input. Built-in rotators
// (database passwords) run inside the door's engine and are named the same way.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { CofferError, invalidField } from '../sdk/errors.js';
import type { JsonObject } from '../sdk/json.js';
import { checkOutboundUrl, type Outbound } from './outbound.js';

export type RotationFunction =
  | {
      readonly type: 'webhook';
      readonly url: string;
      /** SECURITY: the HMAC key the receiver checks `X-Coffer-Signature` with. */
      readonly hmacKey: string;
      readonly timeoutMs: number;
      /** Further attempts after a failed one, within one step. */
      readonly retries: number;
    }
  | {
      readonly type: 'command';
      /** argv: the program and its arguments (no shell). */
      readonly command: readonly string[];
      readonly timeoutMs: number;
    }
  | {
      readonly type: 'builtin';
      /** e.g. "postgresql-alternating-users" (see the door's built-in rotators). */
      readonly rotator: string;
      /** Bounds one step (its database connections and statements); absent = 30 s. */
      readonly timeoutMs?: number;
    };

export const SIGNATURE_HEADER = 'x-coffer-signature';
export const TIMESTAMP_HEADER = 'x-coffer-timestamp';

/** `sha256=<hex HMAC(key, "<timestamp>.<body>")>`: the timestamp bounds replays. */
export function signEvent(hmacKey: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', hmacKey).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Checks a registration request's fields; the caller stores the result. */
export function parseRotationFunction(fields: Readonly<Record<string, unknown>>): RotationFunction {
  const type = fields['type'];
  const timeout = fields['timeout_ms'] ?? 30_000;
  if (
    typeof timeout !== 'number' ||
    !Number.isInteger(timeout) ||
    timeout < 100 ||
    timeout > 900_000
  ) {
    throw invalidField('timeout_ms', 'must be 100 to 900000 milliseconds');
  }
  if (type === 'webhook') {
    const url = fields['url'];
    if (typeof url !== 'string') throw invalidField('url', 'is required');
    checkOutboundUrl(url, 'url');
    const hmacKey = fields['hmac_key'];
    if (typeof hmacKey !== 'string' || hmacKey.length < 16) {
      throw invalidField('hmac_key', 'must be at least 16 characters');
    }
    const retries = fields['retries'] ?? 2;
    if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 10) {
      throw invalidField('retries', 'must be 0 to 10');
    }
    return { type, url, hmacKey, timeoutMs: timeout, retries };
  }
  if (type === 'command') {
    const command = fields['command'];
    if (
      !Array.isArray(command) ||
      command.length === 0 ||
      !command.every((c) => typeof c === 'string' && c !== '')
    ) {
      throw invalidField('command', 'must be a non-empty list of strings (argv, no shell)');
    }
    return { type, command: command as string[], timeoutMs: timeout };
  }
  if (type === 'builtin') {
    const rotator = fields['rotator'];
    if (typeof rotator !== 'string' || !/^[a-z0-9-]{1,64}$/.test(rotator)) {
      throw invalidField('rotator', 'must name a built-in rotator');
    }
    return { type, rotator, timeoutMs: timeout };
  }
  throw invalidField('type', 'must be "webhook", "command" or "builtin"');
}

/** What reads render: never the HMAC key. */
export function renderRotationFunction(fn: RotationFunction): JsonObject {
  switch (fn.type) {
    case 'webhook':
      return { type: fn.type, url: fn.url, timeout_ms: fn.timeoutMs, retries: fn.retries };
    case 'command':
      return { type: fn.type, command: [...fn.command], timeout_ms: fn.timeoutMs };
    case 'builtin':
      return { type: fn.type, rotator: fn.rotator, timeout_ms: fn.timeoutMs ?? 30_000 };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs a webhook or command function for one event. Resolves on success (2xx / exit 0);
 * throws upstream_failure otherwise. SECURITY: errors name the function kind and status,
 * never the URL, the event or the response body.
 */
export async function invokeRotationFunction(
  fn: RotationFunction,
  event: JsonObject,
  deps: { readonly outbound: Outbound; readonly now: () => number },
): Promise<void> {
  const body = JSON.stringify(event);
  if (fn.type === 'webhook') {
    let last: unknown;
    for (let attempt = 0; attempt <= fn.retries; attempt++) {
      if (attempt > 0) await sleep(Math.min(200 * 2 ** attempt, 5_000));
      const timestamp = String(Math.floor(deps.now() / 1000));
      try {
        const res = await deps.outbound.request({
          url: fn.url,
          label: 'rotation webhook',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [SIGNATURE_HEADER]: signEvent(fn.hmacKey, timestamp, body),
            [TIMESTAMP_HEADER]: timestamp,
          },
          body,
        });
        if (res.status >= 200 && res.status < 300) return;
        last = new CofferError('upstream_failure', `rotation webhook answered ${res.status}`);
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof CofferError
      ? last
      : new CofferError('upstream_failure', 'rotation webhook failed');
  }
  if (fn.type === 'command') {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(fn.command[0]!, fn.command.slice(1), {
        stdio: ['pipe', 'ignore', 'ignore'],
        env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), fn.timeoutMs);
      child.on('error', () => {
        clearTimeout(timer);
        reject(new CofferError('upstream_failure', 'rotation command could not start'));
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else
          reject(
            new CofferError(
              'upstream_failure',
              `rotation command exited with ${code ?? 'a signal'}`,
            ),
          );
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(body);
    });
    return;
  }
  throw new CofferError('internal', 'built-in rotators run inside their engine');
}
