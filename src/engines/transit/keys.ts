// Storage keys of the transit engine, relative to its mount's view (so under the barrier).
// The one place these keys are spelt.

/** Where named keys live; LIST `keys/` lists this prefix. */
export const KEY_PREFIX = 'policy/';

/** A named key's record: its settings and every version's material. */
export function keyRecordKey(name: string): string {
  return `${KEY_PREFIX}${name}`;
}
