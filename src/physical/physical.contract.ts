// The PhysicalBackend conformance suite: one set of cases every storage backend must pass,
// registered by each backend's own test file (inmem, sqlite, and later PostgreSQL).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CofferError } from '../sdk/errors.js';
import type { PhysicalBackend } from './physical.js';

export interface OpenedBackend {
  readonly backend: PhysicalBackend;
  /** Releases everything the factory created (files, databases); tolerates a closed backend. */
  cleanup(): Promise<void>;
  /**
   * Durable backends only: opens the same store again after `backend` was closed. The suite
   * closes what it reopens.
   */
  readonly reopen?: () => Promise<PhysicalBackend>;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const text = (value: string): Uint8Array => new TextEncoder().encode(value);

async function putAll(backend: PhysicalBackend, keys: readonly string[]): Promise<void> {
  await backend.batch(keys.map((key) => ({ op: 'put', key, value: text(key) })));
}

/**
 * `durable`: the backend keeps data across close and reopen; its factory must give `reopen`
 * (the durability tests run only for such backends, so none passes by returning early).
 */
export function describePhysicalBackend(
  name: string,
  open: () => Promise<OpenedBackend>,
  options: { readonly durable: boolean } = { durable: false },
): void {
  describe(`PhysicalBackend contract: ${name}`, () => {
    let opened: OpenedBackend;
    let backend: PhysicalBackend;

    beforeEach(async () => {
      opened = await open();
      backend = opened.backend;
    });

    afterEach(async () => {
      await backend.close();
      await opened.cleanup();
    });

    describe('get, put, delete', () => {
      it('reads back what was put, and the latest overwrite', async () => {
        await backend.put('a', bytes(1, 2, 3));
        expect(await backend.get('a')).toEqual(bytes(1, 2, 3));
        await backend.put('a', bytes(9));
        expect(await backend.get('a')).toEqual(bytes(9));
      });

      it('returns undefined for a missing key', async () => {
        expect(await backend.get('missing')).toBeUndefined();
        expect(await backend.get('')).toBeUndefined();
      });

      it('deletes, and deleting twice or a missing key is fine', async () => {
        await backend.put('a', bytes(1));
        await backend.delete('a');
        expect(await backend.get('a')).toBeUndefined();
        await backend.delete('a');
        await backend.delete('never-existed');
        expect(await backend.list('')).toEqual([]);
      });

      it('stores every byte value and the empty value unchanged', async () => {
        const all = Uint8Array.from({ length: 256 }, (_, i) => i);
        await backend.put('all', all);
        await backend.put('empty', new Uint8Array(0));
        expect(await backend.get('all')).toEqual(all);
        const empty = await backend.get('empty');
        expect(empty).toBeInstanceOf(Uint8Array);
        expect(empty?.length).toBe(0);
      });

      it('keeps its own copy: mutating the caller array after put changes nothing', async () => {
        const value = bytes(1, 2, 3);
        const write = backend.put('a', value);
        value.fill(0); // before the write even settled
        await write;
        const read = await backend.get('a');
        expect(read).toEqual(bytes(1, 2, 3));
        read!.fill(7);
        expect(await backend.get('a')).toEqual(bytes(1, 2, 3));
      });

      it('keeps keys with SQL wildcards, quotes and unicode distinct', async () => {
        const keys = ['a%b', 'a_b', 'axb', "it's", 'ключ', 'emoji-😀', 'tab\tkey'];
        for (const [i, key] of keys.entries()) await backend.put(key, bytes(i));
        for (const [i, key] of keys.entries()) expect(await backend.get(key)).toEqual(bytes(i));
        expect(await backend.get('a%')).toBeUndefined();
        expect(await backend.get('a_')).toBeUndefined();
      });
    });

    describe('list', () => {
      it('lists direct children, folders once with a trailing slash, sorted', async () => {
        await putAll(backend, ['p/z', 'p/a', 'p/dir/x', 'p/dir/y', 'p/dir/deep/z', 'q/other']);
        expect(await backend.list('p/')).toEqual(['a', 'dir/', 'z']);
        expect(await backend.list('p/dir/')).toEqual(['deep/', 'x', 'y']);
        expect(await backend.list('p/dir/deep/')).toEqual(['z']);
      });

      it("lists the top level for prefix ''", async () => {
        await putAll(backend, ['top', 'p/a', 'p/b/c', 'q/r']);
        expect(await backend.list('')).toEqual(['p/', 'q/', 'top']);
      });

      it('lists nothing for an empty or missing folder', async () => {
        expect(await backend.list('')).toEqual([]);
        await putAll(backend, ['p/a']);
        expect(await backend.list('nothing/')).toEqual([]);
        expect(await backend.list('p/a/')).toEqual([]);
      });

      it('does not mix a folder with keys that merely share its string prefix', async () => {
        await putAll(backend, ['a/b', 'a/bc', 'a/b/c', 'a/b/d/e', 'a/b-x', 'a/b0']);
        expect(await backend.list('a/')).toEqual(['b', 'b-x', 'b/', 'b0', 'bc']);
        expect(await backend.list('a/b/')).toEqual(['c', 'd/']);
      });

      it('treats % and _ in keys and prefixes literally', async () => {
        await putAll(backend, ['x%/1', 'x_/2', 'xa/3', 'x%y', 'x_y', 'xay']);
        expect(await backend.list('x%/')).toEqual(['1']);
        expect(await backend.list('x_/')).toEqual(['2']);
        expect(await backend.list('')).toEqual(['x%/', 'x%y', 'x_/', 'x_y', 'xa/', 'xay']);
      });

      it('handles unicode keys and prefixes, sorted in JS string order', async () => {
        await putAll(backend, [
          'u/é',
          'u/z',
          'u/😀',
          'u/\uffee',
          'u/日本/1',
          'ü/a',
          'u\u{10ffff}/a',
        ]);
        expect(await backend.list('u/')).toEqual(['z', 'é', '日本/', '😀', '\uffee']);
        expect(await backend.list('u/日本/')).toEqual(['1']);
        expect(await backend.list('ü/')).toEqual(['a']);
        expect(await backend.list('u\u{10ffff}/')).toEqual(['a']);
        expect(await backend.list('')).toEqual(['u/', 'u\u{10ffff}/', 'ü/']);
      });

      it('lists a folder with many children and a deep subtree', async () => {
        const keys: string[] = [];
        for (let i = 0; i < 50; i += 1) keys.push(`big/leaf-${String(i).padStart(2, '0')}`);
        for (let i = 0; i < 50; i += 1) keys.push(`big/sub/${i}/x`, `big/sub/${i}/y`);
        await putAll(backend, keys);
        const listed = await backend.list('big/');
        expect(listed).toHaveLength(51);
        expect(listed[0]).toBe('leaf-00');
        expect(listed[50]).toBe('sub/');
        expect(await backend.list('big/sub/')).toHaveLength(50);
      });
    });

    describe('batch', () => {
      it('applies puts and deletes together', async () => {
        await backend.put('old', bytes(1));
        await backend.batch([
          { op: 'put', key: 'new', value: bytes(2) },
          { op: 'delete', key: 'old' },
        ]);
        expect(await backend.get('old')).toBeUndefined();
        expect(await backend.get('new')).toEqual(bytes(2));
      });

      it('applies ops in order (the last write to a key wins)', async () => {
        await backend.batch([
          { op: 'put', key: 'k', value: bytes(1) },
          { op: 'delete', key: 'k' },
          { op: 'put', key: 'k', value: bytes(3) },
          { op: 'put', key: 'gone', value: bytes(4) },
          { op: 'delete', key: 'gone' },
        ]);
        expect(await backend.get('k')).toEqual(bytes(3));
        expect(await backend.get('gone')).toBeUndefined();
      });

      it('accepts an empty batch', async () => {
        await backend.batch([]);
        expect(await backend.list('')).toEqual([]);
      });
    });

    describe('concurrency', () => {
      it('keeps every one of 500 parallel puts', async () => {
        const keys = Array.from({ length: 500 }, (_, i) => `c/${String(i).padStart(3, '0')}`);
        await Promise.all(keys.map((key) => backend.put(key, text(key))));
        const values = await Promise.all(keys.map((key) => backend.get(key)));
        values.forEach((value, i) => {
          expect(value).toEqual(text(keys[i]!));
        });
        expect(await backend.list('c/')).toEqual(keys.map((key) => key.slice(2)));
      });

      it('resolves parallel writes to one key with one of the written values', async () => {
        await Promise.all(Array.from({ length: 20 }, (_, i) => backend.put('same', bytes(i))));
        const value = await backend.get('same');
        expect(value?.length).toBe(1);
      });
    });

    describe('close', () => {
      it('finishes writes issued before close', async () => {
        const writes = [backend.put('w/1', bytes(1)), backend.put('w/2', bytes(2))];
        await backend.close();
        await expect(Promise.all(writes)).resolves.toHaveLength(2);
        if (opened.reopen !== undefined) {
          const again = await opened.reopen();
          try {
            expect(await again.list('w/')).toEqual(['1', '2']);
          } finally {
            await again.close();
          }
        }
      });

      it("rejects every call after close with code 'internal'", async () => {
        await backend.close();
        await backend.close(); // idempotent
        const calls: Promise<unknown>[] = [
          backend.get('a'),
          backend.put('a', bytes(1)),
          backend.delete('a'),
          backend.list(''),
          backend.batch([{ op: 'put', key: 'a', value: bytes(1) }]),
        ];
        for (const call of calls) {
          const err = await call.then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(CofferError);
          expect((err as CofferError).code).toBe('internal');
        }
      });

      // Registered only for durable backends: a skipped test fails a CI run.
      if (options.durable) {
        it('keeps data across close and reopen', async () => {
          const reopen = opened.reopen;
          if (reopen === undefined)
            throw new Error(`${name} is durable but its factory has no reopen`);
          const all = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
          await backend.put('keep/bytes', all);
          await backend.put('keep/empty', new Uint8Array(0));
          await backend.batch([
            { op: 'put', key: 'keep/dir/x', value: bytes(1) },
            { op: 'put', key: 'drop', value: bytes(2) },
          ]);
          await backend.delete('drop');
          await backend.close();
          const again = await reopen();
          try {
            expect(await again.get('keep/bytes')).toEqual(all);
            expect((await again.get('keep/empty'))?.length).toBe(0);
            expect(await again.get('drop')).toBeUndefined();
            expect(await again.list('keep/')).toEqual(['bytes', 'dir/', 'empty']);
          } finally {
            await again.close();
          }
        });
      }
    });
  });
}
