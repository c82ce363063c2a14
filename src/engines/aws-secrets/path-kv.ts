// The same secrets through the Vault API, KV-v2-shaped and read-only: `data/<region>/<name>`
// (the AWSCURRENT version, or `?version=N`) and `metadata/<region>/<name>` (read and list).
// Mapping (docs/api/aws.md): a SecretString holding a JSON object is the data object;
// any other SecretString is {"SecretString": ...}; a SecretBinary is {"SecretBinary": base64}.
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { EngineRequest, EngineResult } from '../../sdk/engine.js';
import { isPlainObject, type JsonObject } from '../../sdk/json.js';
import { listFolder, versionByLabel } from '../../sdk/versioned-store.js';
import {
  AWSCURRENT,
  attrsOf,
  nameOfKey,
  REGION_PATTERN,
  secretArn,
  type ActionEnv,
  type Found,
} from './common.js';

function formatTime(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}

/** The Vault view of an AWS value. */
export function kvView(value: JsonObject): JsonObject {
  const text = value['SecretString'];
  if (typeof text === 'string') {
    try {
      const parsed: unknown = JSON.parse(text);
      if (isPlainObject(parsed)) return parsed as JsonObject;
    } catch {
      // not JSON: shown as a string
    }
    return { SecretString: text };
  }
  return { SecretBinary: value['SecretBinary'] ?? '' };
}

async function foundAt(env: ActionEnv, key: string): Promise<Found | undefined> {
  const slash = key.indexOf('/');
  if (slash <= 0 || !REGION_PATTERN.test(key.slice(0, slash))) return undefined;
  const meta = await env.store.readMeta(key);
  const attrs = meta === undefined ? undefined : attrsOf(meta);
  if (meta === undefined || attrs === undefined) return undefined;
  const region = key.slice(0, slash);
  const name = nameOfKey(key.slice(slash + 1));
  return { key, meta, attrs, arn: secretArn(region, env.account, name, attrs.arnSuffix) };
}

export async function kvRead(
  req: EngineRequest,
  env: ActionEnv,
  enforce: (found: Found) => Promise<void>,
): Promise<EngineResult> {
  const isData = req.path.startsWith('data/');
  const rest = req.path.slice(isData ? 'data/'.length : 'metadata/'.length);
  if (req.operation === 'list') {
    if (isData) throw new CofferError('unsupported_operation', 'unsupported operation');
    const keys = await env.store.listChildren(listFolder(rest));
    if (keys.length === 0) throw new CofferError('not_found', 'nothing to list');
    return { kind: 'data', data: { keys } };
  }
  if (req.operation !== 'read') {
    throw new CofferError(
      'unsupported_operation',
      'AWS secrets are read-only through the Vault API; write them through the AWS door',
    );
  }
  const found = await foundAt(env, rest);
  if (found === undefined || found.meta.deletionScheduledAt !== undefined) {
    throw new CofferError('not_found', 'secret not found');
  }
  await enforce(found);
  const { meta } = found;
  const current = versionByLabel(meta, AWSCURRENT);
  if (!isData) {
    const versions: JsonObject = {};
    for (const v of Object.values(meta.versions)) {
      versions[String(v.number)] = {
        created_time: formatTime(v.createdAt),
        deletion_time: '',
        destroyed: v.state === 'destroyed',
      };
    }
    return {
      kind: 'data',
      data: {
        cas_required: false,
        created_time: formatTime(meta.createdAt),
        current_version: current?.number ?? 0,
        custom_metadata: { aws_arn: found.arn },
        delete_version_after: '0s',
        max_versions: 100,
        oldest_version: meta.oldestVersion,
        updated_time: formatTime(meta.updatedAt),
        versions,
      },
    };
  }
  const raw = req.data['version'];
  let number = current?.number;
  if (raw !== undefined && raw !== '' && raw !== '0' && raw !== 0) {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isSafeInteger(n) || n < 0)
      throw invalidField('version', 'must be a version number');
    number = n;
  }
  if (number === undefined) throw new CofferError('not_found', 'secret has no current version');
  const read = await env.store.readVersion(found.key, number);
  if (read?.value === undefined) throw new CofferError('not_found', 'version not found');
  return {
    kind: 'data',
    data: {
      data: kvView(read.value),
      metadata: {
        created_time: formatTime(read.version.createdAt),
        custom_metadata: { aws_version_id: read.version.id },
        deletion_time: '',
        destroyed: false,
        version: read.version.number,
      },
    },
  };
}
