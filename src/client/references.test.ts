import { describe, expect, it } from 'vitest';
import { ClientError } from './errors.js';
import { formatReference, isReference, parseReference } from './references.js';

describe('secret references', () => {
  it('parses mount, path, key and a KV v2 version', () => {
    expect(parseReference('coffer://secret/app#password')).toEqual({
      path: 'secret/app',
      key: 'password',
    });
    expect(parseReference('coffer://secret/team/app?version=3#db-password')).toEqual({
      path: 'secret/team/app',
      key: 'db-password',
      version: 3,
    });
    expect(parseReference('coffer://database/creds/app#password').path).toBe('database/creds/app');
  });

  it('percent-decodes the path and the key (a "#" in a key is %23)', () => {
    expect(parseReference('coffer://secret/my%20app#a%23b')).toEqual({
      path: 'secret/my app',
      key: 'a#b',
    });
    const ref = { path: 'secret/app', key: 'a#b', version: 2 };
    expect(parseReference(formatReference(ref))).toEqual(ref);
  });

  it.each([
    ['http://secret/app#k', /must start with coffer:\/\//],
    ['coffer://secret/app', /names no key/],
    ['coffer://secret/app#', /names no key/],
    ['coffer://#k', /empty or invalid path/],
    ['coffer://secret//app#k', /empty or invalid path/],
    ['coffer://secret/../sys#k', /empty or invalid path/],
    ['coffer://secret/app?version=0#k', /at least 1/],
    ['coffer://secret/app?version=x#k', /whole number/],
    ['coffer://secret/app?ttl=1#k', /unknown parameter "ttl"/],
    ['coffer://secret/a%zz#k', /invalid percent escape/],
  ])('refuses %s', (text, message) => {
    expect(() => parseReference(text)).toThrow(ClientError);
    expect(() => parseReference(text)).toThrow(message);
  });

  it('recognises references by their scheme only', () => {
    expect(isReference('coffer://x#y')).toBe(true);
    expect(isReference('literal value')).toBe(false);
    expect(isReference(' coffer://x#y')).toBe(false);
  });
});
