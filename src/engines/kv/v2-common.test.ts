// Shared KV v2 renderings: Go RFC3339Nano times, version metadata, option and field checks.
import { describe, expect, it } from 'vitest';
import {
  customMetadataJson,
  formatTime,
  nonNegative,
  onlyFields,
  parseCasOption,
  versionMetadataJson,
} from './v2-common.js';
import type { SecretMeta } from '../../sdk/versioned-store.js';

const META: SecretMeta = {
  key: 'k',
  createdAt: 0,
  updatedAt: 0,
  currentVersion: 1,
  oldestVersion: 0,
  maxVersions: 0,
  casRequired: false,
  deleteVersionAfterSeconds: 0,
  customMetadata: {},
  description: '',
  tags: {},
  versions: {},
};

describe('kv v2 common', () => {
  it('formats times as Go RFC3339Nano, trimming trailing zeros', () => {
    expect(formatTime(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00Z');
    expect(formatTime(Date.UTC(2026, 0, 1, 0, 0, 0, 120))).toBe('2026-01-01T00:00:00.12Z');
    expect(formatTime(Date.UTC(2026, 0, 1, 0, 0, 10, 5))).toBe('2026-01-01T00:00:10.005Z');
    expect(formatTime(Date.UTC(2026, 0, 1, 0, 0, 10, 500))).toBe('2026-01-01T00:00:10.5Z');
    expect(formatTime(undefined)).toBe('');
  });

  it('renders empty custom_metadata as null and version metadata in Vault fields', () => {
    expect(customMetadataJson(META)).toBeNull();
    const meta = { ...META, customMetadata: { a: 'b' } };
    expect(
      versionMetadataJson(meta, {
        number: 3,
        id: 'x',
        createdAt: 0,
        state: 'destroyed',
        deletedAt: 1000,
        labels: ['L'],
      }),
    ).toEqual({
      created_time: '1970-01-01T00:00:00Z',
      custom_metadata: { a: 'b' },
      deletion_time: '1970-01-01T00:00:01Z',
      destroyed: true,
      version: 3,
    });
  });

  it('parses the cas option weakly and refuses unknown options', () => {
    expect(parseCasOption(undefined)).toBeUndefined();
    expect(parseCasOption({})).toBeUndefined();
    expect(parseCasOption({ cas: null })).toBeUndefined();
    expect(parseCasOption({ cas: 2 })).toBe(2);
    expect(parseCasOption({ cas: '0' })).toBe(0);
    expect(() => parseCasOption({ cas: 1.5 })).toThrow(
      expect.objectContaining({ field: 'options.cas' }),
    );
    expect(() => parseCasOption({ cas: 1, other: 1 })).toThrow(
      expect.objectContaining({ field: 'options.other' }),
    );
  });

  it('limits fields per operation and checks non-negative numbers', () => {
    onlyFields({ a: 1 }, ['a', 'b']);
    expect(() => {
      onlyFields({ c: 1 }, ['a']);
    }).toThrow(expect.objectContaining({ code: 'invalid_request', field: 'c' }));
    expect(nonNegative(undefined, 'depth')).toBe(0);
    expect(nonNegative(3, 'depth')).toBe(3);
    expect(() => nonNegative(-1, 'depth')).toThrow(expect.objectContaining({ field: 'depth' }));
  });
});
