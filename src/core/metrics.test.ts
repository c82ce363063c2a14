import { describe, expect, it } from 'vitest';
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
