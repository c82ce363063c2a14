// SECURITY: the SigV4 signature is compared with crypto.timingSafeEqual, every time, over the
// full 32-byte HMAC. The real node:crypto runs; the only change is a pass-through spy on
// timingSafeEqual, in a file of its own so no other test sees it.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type * as Crypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { headerValues, parseAuthorization, verifySignature } from './sigv4.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const AMZ = '20261125T093417Z';
const BODY = '{}';
const HEADERS: [string, string][] = [
  ['content-type', 'application/x-amz-json-1.1'],
  ['host', 'coffer.test'],
  ['x-amz-date', AMZ],
  ['x-amz-target', 'secretsmanager.ListSecrets'],
];

/** The expected signature, computed here step by step from AWS's documentation. */
function expectedSignature(): string {
  const hex = (data: string) => createHash('sha256').update(data).digest('hex');
  const canonical = `POST\n/\n\n${HEADERS.map(([n, v]) => `${n}:${v}\n`).join('')}\n${HEADERS.map(([n]) => n).join(';')}\n${hex(BODY)}`;
  const toSign = `AWS4-HMAC-SHA256\n${AMZ}\n20261125/us-east-1/secretsmanager/aws4_request\n${hex(canonical)}`;
  let key = createHmac('sha256', `AWS4${SECRET}`).update('20261125').digest();
  for (const part of ['us-east-1', 'secretsmanager', 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  return createHmac('sha256', key).update(toSign).digest('hex');
}

function verifyWith(signature: string): void {
  const auth = parseAuthorization(
    `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/secretsmanager/aws4_request, SignedHeaders=${HEADERS.map(([n]) => n).join(';')}, Signature=${signature}`,
    AMZ,
  );
  verifySignature({
    auth,
    secret: SECRET,
    method: 'POST',
    path: '/',
    headers: headerValues(HEADERS.flat()),
    body: Buffer.from(BODY),
  });
}

describe('signature comparison', () => {
  const spy = vi.mocked(timingSafeEqual);
  beforeEach(() => {
    spy.mockClear();
  });

  it('a good signature is compared in constant time, over the whole HMAC', () => {
    const good = expectedSignature();
    expect(() => {
      verifyWith(good);
    }).not.toThrow();
    expect(spy).toHaveBeenCalledTimes(1);
    const [given, expected] = spy.mock.calls[0]!;
    expect(Buffer.from(given as Uint8Array).toString('hex')).toBe(good);
    expect(Buffer.from(expected as Uint8Array).toString('hex')).toBe(good);
  });

  it('a wrong signature is compared in constant time too, never short-circuited', () => {
    const good = expectedSignature();
    const wrong = (good[0] === 'f' ? '0' : 'f') + good.slice(1);
    expect(() => {
      verifyWith(wrong);
    }).toThrow(/does not match/);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(Buffer.from(spy.mock.calls[0]![0] as Uint8Array).toString('hex')).toBe(wrong);
  });
});
