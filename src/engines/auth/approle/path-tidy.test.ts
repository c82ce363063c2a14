// approle tidy/secret-id and its scheduled job: expired secret IDs and leftovers of deleted
// roles go; live ones stay.
import { describe, expect, it } from 'vitest';
import { encodeJson } from '../../../sdk/storage.js';
import { expectCoffer, harness, T0 } from './testing.js';

const under = (h: ReturnType<typeof harness>, prefix: string): string[] =>
  [...h.storage.entries.keys()].filter((k) => k.startsWith(prefix));

describe('approle tidy', () => {
  it('removes expired secret IDs with their accessors and keeps live ones', async () => {
    const h = harness();
    const live = await h.setup('app');
    await h.data('update', 'role/app/secret-id', { ttl: 60 });
    expect(under(h, 'secret-id/')).toHaveLength(2);
    h.nowMs = T0 + 60_000;
    expect(await h.call('update', 'tidy/secret-id')).toEqual({
      kind: 'data',
      data: { secret_ids_deleted: 1, accessors_deleted: 1 },
      warnings: ['Tidy operation completed.'],
    });
    expect(under(h, 'secret-id/')).toHaveLength(1);
    expect(under(h, 'accessor/')).toHaveLength(1);
    await h.login(live.roleId, live.secretId);
  });

  it('removes secret IDs and accessors whose role is gone, and orphaned accessors', async () => {
    const h = harness();
    await h.setup('app');
    // Leftovers as a crash between writes could leave them.
    h.storage.entries.set('secret-id/00000000-dead-4000-8000-000000000000/abc', encodeJson({}));
    h.storage.entries.set(
      'accessor/00000000-dead-4000-8000-000000000000/def',
      encodeJson({ secretIdHmac: 'abc' }),
    );
    const uuid = under(h, 'secret-id/')[0]!.split('/')[1]!;
    h.storage.entries.set(`accessor/${uuid}/orphan`, encodeJson({ secretIdHmac: 'missing' }));
    const report = await h.data('update', 'tidy/secret-id');
    expect(report).toEqual({ secret_ids_deleted: 1, accessors_deleted: 2 });
    expect(under(h, 'secret-id/')).toHaveLength(1);
    expect(under(h, 'accessor/')).toHaveLength(1);
  });

  it('runs as a scheduled job, re-arming while secret IDs are due to expire', async () => {
    const h = harness();
    const { roleId, secretId } = await h.setup('app', {}, { ttl: '2h' });
    await h.data('update', 'role/app/secret-id', { ttl: '30m' });
    expect(h.schedule.jobs.get('tidy-secret-ids')).toBe(T0 + 3_600_000);
    h.schedule.jobs.clear();
    h.nowMs = T0 + 3_600_000;
    await h.engine.runScheduled!(h.context(), 'tidy-secret-ids');
    expect(under(h, 'secret-id/')).toHaveLength(1);
    expect(h.schedule.jobs.get('tidy-secret-ids')).toBe(T0 + 7_200_000);
    h.schedule.jobs.clear();
    h.nowMs = T0 + 7_200_000;
    await h.engine.runScheduled!(h.context(), 'tidy-secret-ids');
    expect(under(h, 'secret-id/')).toHaveLength(0);
    expect(h.schedule.jobs.size).toBe(0);
    await expectCoffer(h.login(roleId, secretId), 'invalid_request');
  });
});
