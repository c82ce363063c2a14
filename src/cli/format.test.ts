import { describe, expect, it } from 'vitest';
import {
  formatColumns,
  formatJson,
  formatKeysList,
  formatMapTable,
  formatRawField,
  formatRfc822,
  formatValue,
  formatWarnings,
  headerForMap,
  humanDuration,
  padEqualSigns,
  secretRows,
  authRows,
  formatQuotedList,
} from './format.js';

describe('tables', () => {
  it('aligns a Key/Value table with four spaces like the Vault CLI', () => {
    expect(formatMapTable({ version: 1, created_time: 'now', custom_metadata: null })).toBe(
      [
        'Key                Value',
        '---                -----',
        'created_time       now',
        'custom_metadata    <nil>',
        'version            1',
      ].join('\n'),
    );
  });

  it('shows empty cells as n/a and never pads the last column', () => {
    expect(
      formatColumns(
        [
          ['a', ''],
          ['bbb', 'x'],
        ],
        ['K', 'V'],
      ),
    ).toBe(['K      V', '-      -', 'a      n/a', 'bbb    x'].join('\n'));
  });

  it('lists keys under a Keys header', () => {
    expect(formatKeysList(['db', 'team/'])).toBe('Keys\n----\ndb\nteam/');
  });
});

describe('formatValue (Go %v)', () => {
  it('formats scalars, arrays and sorted maps', () => {
    expect(formatValue('s')).toBe('s');
    expect(formatValue(null)).toBe('<nil>');
    expect(formatValue(3)).toBe('3');
    expect(formatValue(false)).toBe('false');
    expect(formatValue(['a', 1, null])).toBe('[a 1 <nil>]');
    expect(formatValue({ z: 1, a: { b: 'c' } })).toBe('map[a:map[b:c] z:1]');
    expect(formatValue({})).toBe('map[]');
  });
});

describe('humanDuration', () => {
  it('drops zero tails like the Vault CLI', () => {
    expect(humanDuration(2764800)).toBe('768h');
    expect(humanDuration(3600)).toBe('1h');
    expect(humanDuration(3660)).toBe('1h1m');
    expect(humanDuration(3601)).toBe('1h1s');
    expect(humanDuration(3661)).toBe('1h1m1s');
    expect(humanDuration(90)).toBe('1m30s');
    expect(humanDuration(60)).toBe('1m');
    expect(humanDuration(5)).toBe('5s');
    expect(humanDuration(0)).toBe('0s');
  });
});

describe('section headers', () => {
  it('pads titles with equal signs to the table width', () => {
    const metadata = {
      created_time: '',
      custom_metadata: null,
      deletion_time: '',
      destroyed: false,
      version: 1,
    };
    // Longest key 15 + 4 spaces + "Value" = 24 wide, as Vault prints it.
    expect(headerForMap('Metadata', metadata)).toBe('======= Metadata =======');
    expect(headerForMap('Data', { foo: 'x' })).toBe('=== Data ===');
    expect(headerForMap('Data', { password: 'x' })).toBe('====== Data ======');
    expect(padEqualSigns('Secret Path', 'secret/data/creds'.length)).toBe('== Secret Path ==');
  });

  it('always keeps at least two signs on each side', () => {
    expect(padEqualSigns('Secret Path', 3)).toBe('== Secret Path ==');
    expect(padEqualSigns('Secret Path', 14)).toBe('== Secret Path ==');
  });
});

describe('secretRows', () => {
  it('shows refresh_interval for a lease without id, then the data', () => {
    expect(secretRows({ lease_id: '', lease_duration: 2764800, data: { b: '2', a: '1' } })).toEqual(
      [
        ['refresh_interval', '768h'],
        ['a', '1'],
        ['b', '2'],
      ],
    );
  });

  it('shows lease and auth facts', () => {
    const rows = secretRows({
      lease_id: 'database/creds/r/abc',
      lease_duration: 3600,
      renewable: true,
      auth: {
        client_token: 'hvs.x',
        accessor: 'acc',
        policies: ['default'],
        token_policies: ['default'],
        metadata: { role: 'r' },
        lease_duration: 60,
        renewable: false,
      },
      data: null,
    });
    expect(rows).toEqual([
      ['lease_id', 'database/creds/r/abc'],
      ['lease_duration', '1h'],
      ['lease_renewable', 'true'],
      ['token', 'hvs.x'],
      ['token_accessor', 'acc'],
      ['token_duration', '1m'],
      ['token_renewable', 'false'],
      ['token_policies', '["default"]'],
      ['identity_policies', '[]'],
      ['policies', '["default"]'],
      ['token_meta_role', 'r'],
    ]);
  });

  it('shows TTL-like data keys as durations, as the Vault CLI does', () => {
    const rows = secretRows({
      data: { ttl: 3599, creation_ttl: 3600, explicit_max_ttl: 0, period: '90', num_uses: 5 },
    });
    expect(rows).toEqual([
      ['creation_ttl', '1h'],
      ['explicit_max_ttl', '0s'],
      ['num_uses', '5'],
      ['period', '1m30s'],
      ['ttl', '59m59s'],
    ]);
  });
});

describe('authRows', () => {
  const auth = {
    client_token: 'hvs.secret-token',
    accessor: 'acc',
    policies: ['default', 'ops'],
    token_policies: ['default'],
    identity_policies: ['ops'],
    metadata: null,
    lease_duration: 0,
    renewable: false,
  };

  it('quotes policy lists like Go %q and shows a zero duration as infinity', () => {
    expect(authRows(auth)).toEqual([
      ['token', 'hvs.secret-token'],
      ['token_accessor', 'acc'],
      ['token_duration', '∞'],
      ['token_renewable', 'false'],
      ['token_policies', '["default"]'],
      ['identity_policies', '["ops"]'],
      ['policies', '["default" "ops"]'],
    ]);
    expect(formatQuotedList(null)).toBe('[]');
  });

  it('leaves the token out on request', () => {
    const rows = authRows(auth, { withToken: false });
    expect(rows.map(([key]) => key)).not.toContain('token');
    expect(JSON.stringify(rows)).not.toContain('hvs.secret-token');
  });
});

describe('other formats', () => {
  it('pretty-prints JSON with two spaces', () => {
    expect(formatJson({ a: [1] })).toBe('{\n  "a": [\n    1\n  ]\n}');
  });

  it('prints raw fields', () => {
    expect(formatRawField('s3cret')).toBe('s3cret');
    expect(formatRawField(3)).toBe('3');
    expect(formatRawField({ a: 1 })).toBe('{"a":1}');
    expect(formatRawField(null)).toBe('');
  });

  it('formats warnings and RFC 822 times', () => {
    expect(formatWarnings({ warnings: ['w1'] })).toBe(
      'WARNING! The following warnings were returned from Coffer:\n\n  * w1',
    );
    expect(formatWarnings({ warnings: null })).toBe('');
    expect(formatRfc822('2018-05-20T00:21:07.5Z')).toBe('20 May 18 00:21 UTC');
    expect(formatRfc822('garbage')).toBe('garbage');
  });
});
