// Driver failures become CofferErrors with our own words, the database's code, and every
// secret (in its escaped forms too) removed.
import { describe, expect, it } from 'vitest';
import { failureError, redact } from './driver.js';

describe('redact', () => {
  it('removes a secret in raw, SQL-escaped, URL-encoded and JSON-escaped forms', () => {
    const secret = `pa'ss"w/ord`;
    const text = [
      secret,
      `pa''ss"w/ord`,
      `pa'ss""w/ord`,
      encodeURIComponent(secret),
      JSON.stringify(secret),
    ].join(' | ');
    const out = redact(text, [secret, undefined]);
    expect(out).not.toContain('ss"w');
    expect(out).not.toContain("pa''ss");
    expect(out).not.toContain(encodeURIComponent(secret));
    expect(out).toContain('[redacted]');
  });
});

describe('failureError', () => {
  it('maps connection failures to upstream_failure and the rest to invalid_request', () => {
    const secret = 'A1a-secretsecret';
    expect(
      failureError('connection', { kind: 'connection', code: 'ECONNREFUSED', detail: '' }, []),
    ).toMatchObject({
      code: 'upstream_failure',
      message: 'connection: the database could not be reached (ECONNREFUSED)',
    });
    const refused = failureError('connection', { kind: 'auth', code: 'WRONGPASS', detail: '' }, []);
    expect(refused).toMatchObject({ code: 'invalid_request' });
    const statement = failureError(
      'creation_statements[1]',
      { kind: 'statement', code: 'SQLSTATE 22007', detail: `invalid input syntax: "${secret}"` },
      [secret],
    );
    expect(statement.code).toBe('invalid_request');
    expect(statement.message).toBe(
      'creation_statements[1]: the database rejected the statement (SQLSTATE 22007: invalid input syntax: "[redacted]")',
    );
    // SECURITY: no cause is attached (driver errors carry the SQL with the password).
    expect(statement.cause).toBeUndefined();
  });
});
