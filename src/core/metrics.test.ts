import { describe, expect, it, vi } from 'vitest';
import { Metrics, jobKind } from './metrics.js';

describe('metrics', () => {
  it('labels a scheduled job by its kind, never by the role or secret it names', async () => {
    const metrics = new Metrics({ now: () => 0, processMetrics: false });
    metrics.scheduledJob('database/', 'database', 'static-role/payroll-admin', 'success');
    metrics.scheduledJob('aws/', 'aws-sm', 'rotate/prod/db-password', 'failure');
    metrics.scheduledJob('auth/userpass/', 'userpass', 'lockout-sweep', 'success');
    const { body } = await metrics.prometheus();
    expect(body).toContain(
      'coffer_rotations_total{mount="database/",mount_type="database",outcome="success"} 1',
    );
    expect(body).toContain(
      'coffer_rotations_total{mount="aws/",mount_type="aws-sm",outcome="failure"} 1',
    );
    expect(body).toContain('job="lockout-sweep",outcome="success"} 1');
    expect(body).not.toContain('payroll-admin');
    expect(body).not.toContain('db-password');
  });

  it('puts each request duration in its bucket, cumulatively, per label set', async () => {
    const metrics = new Metrics({ now: () => 0, processMetrics: false });
    let clock = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const ok = { mount: 'secret/', mountType: 'kv', operation: 'read', outcome: 'ok' };
      for (const ms of [0.2, 0.5, 0.7, 3, 30, 5_000]) {
        clock = 0;
        const done = metrics.startRequest();
        clock = ms;
        done(ok);
      }
      clock = 0;
      const denied = metrics.startRequest();
      clock = 1;
      denied({ ...ok, outcome: 'permission_denied' });
    } finally {
      now.mockRestore();
    }
    const { body } = await metrics.prometheus();
    const labels = 'mount="secret/",mount_type="kv",operation="read",outcome="ok"';
    const bucket = (le: string): string =>
      new RegExp(
        `coffer_request_duration_seconds_bucket\\{le="${le.replace('+', '\\+')}",${labels}\\} (\\d+)`,
      ).exec(body)?.[1] ?? '';
    // Upper bounds are inclusive (0.5 ms lands in le=0.0005), as in Prometheus.
    expect(bucket('0.0005')).toBe('2');
    expect(bucket('0.001')).toBe('3');
    expect(bucket('0.005')).toBe('4');
    expect(bucket('0.025')).toBe('4');
    expect(bucket('0.05')).toBe('5');
    expect(bucket('2.5')).toBe('5');
    expect(bucket('+Inf')).toBe('6');
    expect(body).toContain(`coffer_request_duration_seconds_count{${labels}} 6`);
    expect(body).toMatch(new RegExp(`coffer_request_duration_seconds_sum\\{${labels}\\} 5\\.0344`));
    expect(body).toContain(
      'coffer_request_duration_seconds_count{mount="secret/",mount_type="kv",operation="read",outcome="permission_denied"} 1',
    );
  });

  it('maps unexpected job names to "other"', () => {
    expect(jobKind('static-role/x')).toBe('static-role');
    expect(jobKind('Weird Name/x')).toBe('other');
    expect(jobKind('')).toBe('other');
  });

  it('reports sealed and no leases until a source is connected', async () => {
    const metrics = new Metrics({ now: () => 0, processMetrics: false });
    const { body } = await metrics.prometheus();
    expect(body).toContain('coffer_core_sealed 1');
    expect(body).not.toMatch(/coffer_leases\{/);
  });
});
