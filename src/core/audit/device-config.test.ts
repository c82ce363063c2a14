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

describe('audit device options: each refusal names the field and the rule', () => {
  const file = (options: Record<string, string>) =>
    refusal('file', { file_path: '/a', ...options });
  const socket = (options: Record<string, string>) =>
    refusal('socket', { address: 'h:1', ...options });

  it('refuses types, unknown options, raw logging and formats with their messages', () => {
    expect(refusal('syslog', {})).toBe('type: audit device type must be "file" or "socket"');
    expect(refusal('socket', { address: 'h:1', fsync: 'true' })).toBe(
      'options.fsync: unknown option for a socket audit device',
    );
    expect(file({ address: 'h:1' })).toBe(
      'options.address: unknown option for a file audit device',
    );
    expect(file({ log_raw: 'true' })).toBe(
      'options.log_raw: raw audit logging is not supported: secrets would be written in clear',
    );
    expect(file({ log_raw: 'maybe' })).toBe('options.log_raw: must be a boolean');
    expect(
      parseDeviceOptions('file', { file_path: '/a', log_raw: 'false', format: 'json' }).options,
    ).toMatchObject({ log_raw: 'false', format: 'json' });
    expect(file({ format: 'jsonx' })).toBe('options.format: only "json" is supported');
    expect(file({ hmac_accessor: 'perhaps' })).toBe('options.hmac_accessor: must be a boolean');
    expect(file({ fsync: 'perhaps' })).toBe('options.fsync: must be a boolean');
    expect(
      parseDeviceOptions('file', { file_path: '/a', fsync: 'false', hmac_accessor: 'false' }),
    ).toMatchObject({
      config: { fsync: false, hmacAccessor: false },
      options: { fsync: 'false', hmac_accessor: 'false' },
    });
  });

  it('file paths: required, trimmed, absolute, one name only', () => {
    expect(refusal('file', {})).toBe('options.file_path: is required');
    expect(refusal('file', { file_path: '   ' })).toBe('options.file_path: is required');
    expect(refusal('file', { file_path: '/a', path: '/b' })).toBe(
      'options.path: give file_path or its old name path, not both',
    );
    expect(refusal('file', { file_path: ' stdout ' })).toBe(
      'options.file_path: "stdout" is not supported: give an absolute file path',
    );
    expect(refusal('file', { file_path: 'discard' })).toBe(
      'options.file_path: "discard" is not supported: give an absolute file path',
    );
    for (const path of ['relative.log', '/a\0b']) {
      expect(refusal('file', { file_path: path })).toBe(
        'options.file_path: must be an absolute file path',
      );
    }
    expect(parseDeviceOptions('file', { file_path: '  /var/a.log ' }).config).toMatchObject({
      filePath: '/var/a.log',
    });
  });

  it('modes: three octal digits with an optional 0, within 0600, owner write kept', () => {
    expect(parseDeviceOptions('file', { file_path: '/a', mode: ' 600 ' })).toMatchObject({
      config: { mode: 0o600 },
      options: { mode: '0600' },
    });
    expect(parseDeviceOptions('file', { file_path: '/a', mode: '0200' }).options['mode']).toBe(
      '0200',
    );
    for (const mode of ['00600', '0800', '60', '0x600', '']) {
      expect(file({ mode })).toBe('options.mode: must be an octal mode such as "0600"');
    }
    for (const mode of ['0700', '0400', '0000', '0601', '0610']) {
      expect(file({ mode })).toBe(
        'options.mode: must grant nothing beyond 0600 and keep owner write (use "0600"); ship logs with a socket device',
      );
    }
  });

  it('prefixes: up to 256 characters, no "{" and no control character', () => {
    const message =
      'options.prefix: must be at most 256 characters without "{" or control characters';
    expect(
      parseDeviceOptions('file', { file_path: '/a', prefix: 'p'.repeat(256) }).options,
    ).toMatchObject({ prefix: 'p'.repeat(256) });
    expect(file({ prefix: 'p'.repeat(257) })).toBe(message);
    for (const prefix of ['a{', '\u0000', 'a\u001f', 'a\u007f', '\tx']) {
      expect(file({ prefix })).toBe(message);
    }
    expect(parseDeviceOptions('file', { file_path: '/a', prefix: ' ~\u0080 ' }).config.prefix).toBe(
      ' ~\u0080 ',
    );
    expect(parseDeviceOptions('file', { file_path: '/a', prefix: '' }).options).not.toHaveProperty(
      'prefix',
    );
  });

  it('checkpoint intervals: whole numbers from 1 to 100000', () => {
    const message = 'options.checkpoint_interval: must be a whole number from 1 to 100000';
    expect(
      parseDeviceOptions('file', { file_path: '/a', checkpoint_interval: ' 1 ' }),
    ).toMatchObject({
      config: { checkpointInterval: 1 },
      options: { checkpoint_interval: '1' },
    });
    expect(
      parseDeviceOptions('file', { file_path: '/a', checkpoint_interval: '100000' }).config
        .checkpointInterval,
    ).toBe(100_000);
    for (const value of ['0', '100001', '1.5', '-1', '+5', '1e3', 'ten', '', '010x']) {
      expect(file({ checkpoint_interval: value })).toBe(message);
    }
    expect(
      parseDeviceOptions('file', { file_path: '/a', checkpoint_interval: '010' }).config
        .checkpointInterval,
    ).toBe(10);
  });

  it('write timeouts: trimmed, shown as given, from 1ms to 5m', () => {
    expect(parseDeviceOptions('file', { file_path: '/a', write_timeout: ' 5m ' })).toMatchObject({
      config: { writeTimeoutMs: 300_000 },
      options: { write_timeout: '5m' },
    });
    const range =
      'options.write_timeout: must be between 1ms and 5m (a device may not block requests longer)';
    expect(file({ write_timeout: '300001ms' })).toBe(range);
    expect(file({ write_timeout: '1h' })).toBe(range);
    expect(file({ write_timeout: '0' })).toBe(range);
    expect(file({ write_timeout: '2 s' })).toBe(
      'options.write_timeout: must be a duration such as "2s" or "500ms"',
    );
  });

  it('socket addresses and types', () => {
    const tcp = 'options.address: must be host:port for a tcp socket';
    expect(refusal('socket', { address: '  ' })).toBe('options.address: is required');
    expect(refusal('socket', {})).toBe('options.address: is required');
    for (const address of ['h:0', 'h:65536', 'h:123456', ':80', 'a b:1', 'h:', '[::1:80', 'h:1x']) {
      expect(socket({ address })).toBe(tcp);
    }
    for (const address of ['h:65535', 'h:1', '[::1]:80', '10.0.0.1:514', ' siem.example:6514 ']) {
      expect(parseDeviceOptions('socket', { address }).options).toMatchObject({
        address: address.trim(),
        socket_type: 'tcp',
      });
    }
    expect(socket({ socket_type: 'udp' })).toBe(
      'options.socket_type: must be "tcp" or "unix" (udp cannot confirm delivery)',
    );
    for (const address of ['rel.sock', '/run/a\0.sock']) {
      expect(refusal('socket', { address, socket_type: 'unix' })).toBe(
        'options.address: must be an absolute socket path for a unix socket',
      );
    }
    expect(
      parseDeviceOptions('socket', { address: '/run/a.sock', socket_type: 'unix' }).options,
    ).toEqual({
      address: '/run/a.sock',
      socket_type: 'unix',
      format: 'json',
      hmac_accessor: 'true',
      log_raw: 'false',
      checkpoint_interval: '100',
      write_timeout: '2s',
    });
  });
});

describe('parseTimeoutMs', () => {
  it('takes every Go unit, fractions, and sums of parts, rounding up to whole ms', () => {
    expect(parseTimeoutMs('0.0625h', 't')).toBe(225_000);
    expect(parseTimeoutMs('1m', 't')).toBe(60_000);
    expect(parseTimeoutMs('250ms', 't')).toBe(250);
    expect(parseTimeoutMs('1500us', 't')).toBe(2);
    expect(parseTimeoutMs('1500µs', 't')).toBe(2);
    expect(parseTimeoutMs('1ns', 't')).toBe(1);
    expect(parseTimeoutMs('1s500ms', 't')).toBe(1500);
    expect(parseTimeoutMs(' 3 ', 't')).toBe(3000);
    expect(parseTimeoutMs('300', 't')).toBe(300_000);
  });

  it('refuses text that is not wholly a duration, and zero', () => {
    for (const text of ['', 's', '1.5', '+3', '1x', 'x1s', '1s x', '1.s', '-1s']) {
      expect(() => parseTimeoutMs(text, 'f')).toThrow(
        'f: must be a duration such as "2s" or "500ms"',
      );
    }
    expect(() => parseTimeoutMs('0ms', 'f')).toThrow('f: must be between 1ms and 5m');
    expect(() => parseTimeoutMs('301', 'f')).toThrow('f: must be between 1ms and 5m');
  });
});
