import { describe, expect, it } from 'vitest';
import { parseDeviceOptions, parseTimeoutMs } from './device-config.js';

function refusal(type: string, options: Record<string, string>): string {
  try {
    parseDeviceOptions(type, options);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('audit device options', () => {
  it('normalises a file device with the defaults filled in', () => {
    expect(parseDeviceOptions('file', { file_path: '/var/log/a.log' })).toEqual({
      config: {
        type: 'file',
        filePath: '/var/log/a.log',
        mode: 0o600,
        fsync: true,
        hmacAccessor: true,
        prefix: '',
        checkpointInterval: 100,
        writeTimeoutMs: 10_000,
      },
      options: {
        file_path: '/var/log/a.log',
        mode: '0600',
        fsync: 'true',
        format: 'json',
        hmac_accessor: 'true',
        log_raw: 'false',
        checkpoint_interval: '100',
        write_timeout: '10s',
      },
    });
  });

  it("takes hvac's old key `path` for file_path, and parses its own output again", () => {
    const parsed = parseDeviceOptions('file', { path: '/tmp/vault.audit.log', log_raw: 'false' });
    expect(parsed.config).toMatchObject({ filePath: '/tmp/vault.audit.log' });
    expect(parseDeviceOptions('file', parsed.options)).toEqual(parsed);
  });

  it('normalises a socket device', () => {
    const parsed = parseDeviceOptions('socket', {
      address: '[::1]:9090',
      hmac_accessor: 'false',
      write_timeout: '250ms',
      prefix: 'coffer: ',
      checkpoint_interval: '10',
    });
    expect(parsed.config).toEqual({
      type: 'socket',
      address: '[::1]:9090',
      socketType: 'tcp',
      hmacAccessor: false,
      prefix: 'coffer: ',
      checkpointInterval: 10,
      writeTimeoutMs: 250,
    });
    expect(parseDeviceOptions('socket', parsed.options)).toEqual(parsed);
    expect(
      parseDeviceOptions('socket', { address: '/run/audit.sock', socket_type: 'unix' }).config,
    ).toMatchObject({ socketType: 'unix', writeTimeoutMs: 2000 });
  });

  it('refuses raw logging, other formats, unknown options and unknown types', () => {
    expect(refusal('file', { file_path: '/a', log_raw: 'true' })).toContain('options.log_raw');
    expect(refusal('file', { file_path: '/a', format: 'jsonx' })).toContain('options.format');
    expect(refusal('file', { file_path: '/a', hmac_acessor: 'false' })).toContain(
      'options.hmac_acessor: unknown option',
    );
    expect(refusal('socket', { address: 'h:1', file_path: '/a' })).toContain('unknown option');
    expect(refusal('syslog', {})).toContain('type');
  });

  it('refuses group- or world-accessible modes and relative or special paths', () => {
    expect(parseDeviceOptions('file', { file_path: '/a', mode: '0200' }).config).toMatchObject({
      mode: 0o200,
    });
    for (const mode of ['0644', '0640', '0700', '0400', '0000', 'rw']) {
      expect(refusal('file', { file_path: '/a', mode })).toContain('options.mode');
    }
    for (const path of ['relative.log', 'stdout', 'discard', '']) {
      expect(refusal('file', { file_path: path })).toContain('options.file_path');
    }
  });

  it('checks socket addresses, types, prefixes, intervals and timeouts', () => {
    expect(refusal('socket', {})).toContain('options.address');
    expect(refusal('socket', { address: 'nohost' })).toContain('host:port');
    expect(refusal('socket', { address: 'h:70000' })).toContain('host:port');
    expect(refusal('socket', { address: 'h:1', socket_type: 'udp' })).toContain('socket_type');
    expect(refusal('socket', { address: 'rel', socket_type: 'unix' })).toContain('absolute');
    expect(refusal('socket', { address: 'h:1', prefix: 'a{' })).toContain('options.prefix');
    expect(refusal('socket', { address: 'h:1', prefix: 'a\nb' })).toContain('options.prefix');
    expect(refusal('socket', { address: 'h:1', checkpoint_interval: '0' })).toContain(
      'checkpoint_interval',
    );
    expect(refusal('socket', { address: 'h:1', write_timeout: '0s' })).toContain('write_timeout');
    expect(refusal('socket', { address: 'h:1', write_timeout: '10m' })).toContain('write_timeout');
  });

  it('parses timeouts as Go durations or whole seconds, in ms', () => {
    expect(parseTimeoutMs('2', 't')).toBe(2000);
    expect(parseTimeoutMs('1m30s', 't')).toBe(90_000);
    expect(parseTimeoutMs('1.5s', 't')).toBe(1500);
    expect(parseTimeoutMs('100us', 't')).toBe(1);
    expect(() => parseTimeoutMs('2 s', 't')).toThrow('t:');
  });
});
