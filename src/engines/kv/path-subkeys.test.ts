// KV v2 subkeys/: structure without values, depth limits, versions and the 404 body.
import { describe, expect, it } from 'vitest';
import { expectCoffer, harness } from './testing.js';
import { subkeys } from './path-subkeys.js';

const DATA = { foo: 'abc', bar: { baz: 'def', deep: { x: 1 } }, quux: {}, list: [1, 2] };

describe('kv v2 subkeys', () => {
  it('replaces every value with null, empty objects too', async () => {
    const h = harness();
    await h.call('create', 'data/k', { data: DATA });
    expect(await h.call('read', 'subkeys/k')).toEqual({
      kind: 'data',
      data: {
        subkeys: { foo: null, bar: { baz: null, deep: { x: null } }, quux: null, list: null },
        metadata: {
          created_time: '2026-01-01T00:00:00Z',
          custom_metadata: null,
          deletion_time: '',
          destroyed: false,
          version: 1,
        },
      },
    });
  });

  it('stops at the requested depth', async () => {
    const h = harness();
    await h.call('create', 'data/k', { data: DATA });
    expect((await h.data('read', 'subkeys/k', { depth: 1 })).subkeys).toEqual({
      foo: null,
      bar: null,
      quux: null,
      list: null,
    });
    expect((await h.data('read', 'subkeys/k', { depth: '2' })).subkeys).toEqual({
      foo: null,
      bar: { baz: null, deep: null },
      quux: null,
      list: null,
    });
    await expectCoffer(h.call('read', 'subkeys/k', { depth: -1 }), 'invalid_request', 'depth');
  });

  it('reads a given version and answers absent for a deleted one', async () => {
    const h = harness();
    await h.call('create', 'data/k', { data: { a: 1 } });
    await h.call('update', 'data/k', { data: { b: 2 } });
    expect((await h.data('read', 'subkeys/k', { version: 1 })).subkeys).toEqual({ a: null });
    await h.call('delete', 'data/k');
    expect(await h.call('read', 'subkeys/k')).toMatchObject({
      kind: 'data',
      absent: true,
      data: { subkeys: null, metadata: { version: 2, deletion_time: '2026-01-01T00:00:00Z' } },
    });
  });

  it('answers not_found for a missing key or version and refuses other fields', async () => {
    const h = harness();
    await expectCoffer(h.call('read', 'subkeys/none'), 'not_found');
    await h.call('create', 'data/k', { data: {} });
    await expectCoffer(h.call('read', 'subkeys/k', { version: 5 }), 'not_found');
    await expectCoffer(h.call('read', 'subkeys/k', { data: 1 }), 'invalid_request', 'data');
    await expectCoffer(h.call('update', 'subkeys/k', {}), 'unsupported_operation');
  });

  it('never carries a value into the result, even at the nesting ceiling', () => {
    let deep: Record<string, unknown> = { secret: 'v' };
    for (let i = 0; i < 150; i++) deep = { n: deep };
    const text = JSON.stringify(subkeys(deep as never, 0));
    expect(text).not.toContain('"v"');
    expect(text).not.toContain('secret');
  });
});
