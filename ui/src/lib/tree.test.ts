import { describe, expect, it } from 'vitest';
import type { ResultantAcl } from '../api.js';
import { grantedChildren, mergeEntries, mountCandidates, shapeOf } from './tree.js';

const acl: ResultantAcl = {
  root: false,
  exactPaths: {
    'secret/data/app/db': { capabilities: ['read'] },
    'secret/data/app/hidden': { capabilities: ['deny'] },
    'sys/policies/explain': { capabilities: ['update'] },
    'cubbyhole/x': { capabilities: ['read'] },
  },
  globPaths: {
    'secret/data/team/': { capabilities: ['read', 'list'] },
    'secret/metadata/app/web/': { capabilities: ['list'] },
    'secret/data/app/db-': { capabilities: ['read'] },
    'secret/data/+/shared': { capabilities: ['read'] },
  },
};

describe('the secrets tree from the ACL', () => {
  it('finds mount candidates outside sys/ and auth/', () => {
    expect(mountCandidates(acl)).toEqual([
      'cubbyhole/x',
      'secret/data/',
      'secret/data/app/db',
      'secret/data/app/db-',
      'secret/data/team/',
      'secret/metadata/app/web/',
    ]);
    expect(mountCandidates(acl, 2)).toHaveLength(2);
  });

  it('offers the granted entries under a folder, never denied ones', () => {
    const bases = ['secret/data/', 'secret/metadata/'];
    expect(grantedChildren(acl, bases, '')).toEqual(['app/', 'team/']);
    expect(grantedChildren(acl, bases, 'app/')).toEqual(['db', 'web/']);
    expect(grantedChildren(acl, bases, 'team/')).toEqual([]);
  });

  it('merges listed and granted entries, folders first', () => {
    expect(mergeEntries(['b', 'a/'], ['a/', 'c'])).toEqual(['a/', 'b', 'c']);
  });

  it('knows how to browse each engine type', () => {
    expect(shapeOf('kv', { version: '2' })).toBe('kv2');
    expect(shapeOf('kv', {})).toBe('kv1');
    expect(shapeOf('database', null)).toBe('database');
    expect(shapeOf('aws-secrets', null)).toBe('other');
  });
});
