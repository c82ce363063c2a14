import { describe, expect, it } from 'vitest';
import type { Operation } from '../../sdk/engine.js';
import { compileAcl } from './acl.js';
import {
  RESPONSE_WRAPPING_POLICY,
  ROOT_POLICY,
  builtinDefaultPolicy,
  isImmutablePolicy,
} from './builtin.js';

describe('built-in policies', () => {
  it('default grants what vault-api.md §3.2 lists, and nothing else', () => {
    const acl = compileAcl([builtinDefaultPolicy()]);
    const grants: [Operation, string][] = [
      ['read', 'auth/token/lookup-self'],
      ['update', 'auth/token/renew-self'],
      ['update', 'auth/token/revoke-self'],
      ['update', 'sys/capabilities-self'],
      ['read', 'sys/internal/ui/resultant-acl'],
      ['update', 'sys/renew'],
      ['update', 'sys/leases/renew'],
      ['update', 'sys/leases/lookup'],
      ['update', 'sys/wrapping/wrap'],
      ['update', 'sys/wrapping/lookup'],
      ['update', 'sys/wrapping/unwrap'],
      ['update', 'sys/tools/hash'],
      ['update', 'sys/tools/hash/sha2-512'],
      ['create', 'cubbyhole/x'],
      ['read', 'cubbyhole/x'],
      ['update', 'cubbyhole/x'],
      ['delete', 'cubbyhole/x'],
      ['list', 'cubbyhole/'],
    ];
    for (const [operation, path] of grants) {
      expect(acl.allowOperation({ operation, path }).allowed, `${operation} ${path}`).toBe(true);
    }
    const denials: [Operation, string][] = [
      ['read', 'secret/data/x'],
      ['update', 'auth/token/create'],
      ['read', 'sys/mounts'],
      ['list', 'sys/policies/acl'],
      ['update', 'sys/leases/revoke'],
      ['update', 'sys/tools/random'],
    ];
    for (const [operation, path] of denials) {
      expect(acl.allowOperation({ operation, path }).allowed, `${operation} ${path}`).toBe(false);
    }
    expect(acl.capabilities('auth/token/lookup-self')).toEqual(['read']);
  });

  it('response-wrapping may create and read cubbyhole/response and unwrap, nothing more', () => {
    const acl = compileAcl([RESPONSE_WRAPPING_POLICY]);
    expect(acl.capabilities('cubbyhole/response')).toEqual(['create', 'read']);
    expect(acl.capabilities('sys/wrapping/unwrap')).toEqual(['update']);
    expect(acl.capabilities('cubbyhole/other')).toEqual(['deny']);
  });

  it('root is frozen, has no rules and compiles to a root ACL', () => {
    expect(Object.isFrozen(ROOT_POLICY)).toBe(true);
    expect(ROOT_POLICY.rules).toEqual([]);
    expect(compileAcl([ROOT_POLICY]).isRoot).toBe(true);
  });

  it('root and response-wrapping are immutable; default is not', () => {
    expect(isImmutablePolicy('root')).toBe(true);
    expect(isImmutablePolicy('response-wrapping')).toBe(true);
    expect(isImmutablePolicy('default')).toBe(false);
  });
});
