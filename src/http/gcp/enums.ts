// proto3 JSON enums: the engine answers with names; with `$alt=json;enum-encoding=int` (the Node
// client's REST fallback) they go out as numbers. Only the enum fields Secret Manager returns.

/** SecretVersion.State. */
const VERSION_STATE: Readonly<Record<string, number>> = {
  STATE_UNSPECIFIED: 0,
  ENABLED: 1,
  DISABLED: 2,
  DESTROYED: 3,
};

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export function encodeEnums<T extends Json>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => encodeEnums(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      k === 'state' && typeof v === 'string' && v in VERSION_STATE
        ? VERSION_STATE[v]!
        : encodeEnums(v);
  }
  return out as T;
}
