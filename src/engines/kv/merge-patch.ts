// JSON Merge Patch (RFC 7396), used by KV v2 PATCH on data: objects merge recursively, null
// removes a member, anything else replaces.
import { isPlainObject, type JsonObject, type JsonValue } from '../../sdk/json.js';

/**
 * Returns a new value; neither argument is modified. Members keep the target's order, new ones
 * follow in the patch's order.
 * SECURITY: objects are built with Object.fromEntries (own data properties), so a member named
 * "__proto__" stays data and never changes a prototype.
 */
export function mergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isPlainObject(patch)) return patch;
  const base: JsonObject = target !== undefined && isPlainObject(target) ? target : {};
  const entries: [string, JsonValue][] = [];
  for (const [name, value] of Object.entries(base)) {
    if (!Object.hasOwn(patch, name)) entries.push([name, value]);
    else if (patch[name] !== null) entries.push([name, mergePatch(value, patch[name]!)]);
  }
  for (const [name, value] of Object.entries(patch)) {
    if (!Object.hasOwn(base, name) && value !== null) {
      entries.push([name, mergePatch(undefined, value)]);
    }
  }
  return Object.fromEntries<JsonValue>(entries);
}

/** mergePatch for the common case of an object target and an object patch. */
export function mergePatchObject(target: JsonObject, patch: JsonObject): JsonObject {
  const merged = mergePatch(target, patch);
  return isPlainObject(merged) ? merged : {};
}
