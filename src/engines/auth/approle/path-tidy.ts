// approle `tidy/secret-id`, also run as a scheduled job: removes expired secret IDs, secret IDs
// and accessors left by deleted roles, and accessors whose secret ID is gone.
import type { EngineContext } from '../../../sdk/engine.js';
import { isPlainObject } from '../../../sdk/json.js';
import { getJson, type StorageOp } from '../../../sdk/storage.js';
import { definePath, type PathSpec } from '../../../sdk/path.js';
import type { AppRoleDeps } from './deps.js';
import {
  ACCESSOR_PREFIX,
  accessorKey,
  keyedHash,
  ROLE_PREFIX,
  SECRET_ID_PREFIX,
  secretIdKey,
  TIDY_JOB,
} from './keys.js';
import { hmacKey, readRole, readSecretIdValue, type SecretIdEntry } from './store.js';
import { TIDY_INTERVAL_MS } from './path-secret-id.js';

export interface TidyReport {
  readonly secretIdsDeleted: number;
  readonly accessorsDeleted: number;
  /** Secret IDs kept that will expire: the job runs again while there are any. */
  readonly expiringLeft: number;
}

async function folders(ctx: EngineContext, prefix: string): Promise<string[]> {
  return (await ctx.storage.list(prefix)).filter((k) => k.endsWith('/')).map((k) => k.slice(0, -1));
}

/** One pass over the mount's secret IDs; each deletion is taken under the secret ID's lock. */
export async function tidySecretIds(ctx: EngineContext, deps: AppRoleDeps): Promise<TidyReport> {
  const now = ctx.now();
  const liveRoles = new Set<string>();
  for (const name of await ctx.storage.list(ROLE_PREFIX)) {
    if (name.endsWith('/')) continue;
    const role = await readRole(ctx.storage, name).catch(() => undefined);
    if (role !== undefined) liveRoles.add(role.uuid);
  }
  const key = await hmacKey(ctx.storage, deps.mutex, false);
  let secretIdsDeleted = 0;
  let accessorsDeleted = 0;
  let expiringLeft = 0;
  for (const uuid of await folders(ctx, SECRET_ID_PREFIX)) {
    for (const hmac of await ctx.storage.list(`${SECRET_ID_PREFIX}${uuid}/`)) {
      if (hmac.endsWith('/')) continue;
      const entryKey = `${SECRET_ID_PREFIX}${uuid}/${hmac}`;
      await deps.mutex.run(`sid:${uuid}/${hmac}`, async () => {
        const raw = await getJson<unknown>(ctx.storage, entryKey);
        if (raw === undefined) return;
        let entry: SecretIdEntry | undefined;
        try {
          entry = readSecretIdValue(raw);
        } catch {
          entry = undefined; // malformed: nothing can log in with it
        }
        const expired = entry === undefined || (entry.expiresAt > 0 && now >= entry.expiresAt);
        if (!liveRoles.has(uuid) || expired) {
          const ops: StorageOp[] = [{ op: 'delete', key: entryKey }];
          if (entry !== undefined && key !== undefined) {
            ops.push({
              op: 'delete',
              key: accessorKey(uuid, keyedHash(key, 'accessor', entry.accessor)),
            });
            accessorsDeleted += 1;
          }
          await ctx.storage.batch(ops);
          secretIdsDeleted += 1;
        } else if (entry !== undefined && entry.expiresAt > 0) {
          expiringLeft += 1;
        }
      });
    }
  }
  // Accessors whose secret ID is gone (a secret ID and its accessor are written together, so
  // one without the other is left over from an interrupted deletion).
  for (const uuid of await folders(ctx, ACCESSOR_PREFIX)) {
    for (const name of await ctx.storage.list(`${ACCESSOR_PREFIX}${uuid}/`)) {
      if (name.endsWith('/')) continue;
      const entryKey = `${ACCESSOR_PREFIX}${uuid}/${name}`;
      const raw = await getJson<unknown>(ctx.storage, entryKey);
      const target =
        isPlainObject(raw) && typeof raw.secretIdHmac === 'string' ? raw.secretIdHmac : '';
      const alive =
        liveRoles.has(uuid) &&
        target !== '' &&
        (await ctx.storage.get(secretIdKey(uuid, target))) !== undefined;
      if (!alive) {
        await ctx.storage.delete(entryKey);
        accessorsDeleted += 1;
      }
    }
  }
  return { secretIdsDeleted, accessorsDeleted, expiringLeft };
}

/** The scheduled form: tidy, then run again in an hour while secret IDs are due to expire. */
export async function runTidyJob(ctx: EngineContext, deps: AppRoleDeps): Promise<void> {
  const report = await tidySecretIds(ctx, deps);
  if (report.expiringLeft > 0) await ctx.schedule.set(TIDY_JOB, ctx.now() + TIDY_INTERVAL_MS);
}

export function pathTidy(deps: AppRoleDeps): PathSpec {
  return definePath({
    pattern: 'tidy/secret-id',
    fields: {},
    operations: {
      async update(req) {
        const report = await tidySecretIds(req, deps);
        return {
          kind: 'data',
          data: {
            secret_ids_deleted: report.secretIdsDeleted,
            accessors_deleted: report.accessorsDeleted,
          },
          warnings: ['Tidy operation completed.'],
        };
      },
    },
    help: 'Removes expired secret IDs and entries left behind by deleted roles.',
  });
}
