// `GET sys/audit-log/:path` (sudo): what the web UI's audit screen shows for one device: the
// hash-chain verification of its whole file (streamed, with the device's checkpoint key, and
// checked against the server's own chain head so a cut tail or a forged last line shows), and
// the most recent entries, optionally filtered by a text search. Entries are the lines exactly
// as written, so every HMAC'd field stays HMAC'd ("hmac-sha256:..."); nothing is unhashed.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { CofferError, invalidField } from '../../sdk/errors.js';
import type { FieldSpecs } from '../../sdk/fields.js';
import type { JsonObject, JsonValue } from '../../sdk/json.js';
import { definePath, type PathSpec } from '../../sdk/path.js';
import { AuditLogVerifier } from '../../shared/audit-verify.js';
import type { Caller } from '../caller.js';
import type { AuditBroker, AuditLogSnapshot } from './audit-broker.js';

/** Entries returned when `limit` is not given, and the most ever returned. */
export const DEFAULT_ENTRY_LIMIT = 50;
export const MAX_ENTRY_LIMIT = 200;
/** How much of the end of the file is searched for recent entries. */
export const TAIL_WINDOW_BYTES = 1024 * 1024;
/** A search term longer than this is refused (it could never match an audit field usefully). */
const MAX_FILTER_LENGTH = 256;

const FIELDS = {
  filter: {
    type: 'string',
    description:
      'Show only lines containing this text (case-insensitive): a path, an operation, or an ' +
      'HMAC from sys/audit-hash.',
  },
  limit: { type: 'int', description: `At most this many entries (default 50, at most 200).` },
  verify: { type: 'bool', description: 'Verify the whole file (default true).' },
} as const satisfies FieldSpecs;

export interface AuditLogViewDeps {
  readonly audit: AuditBroker;
}

/** Streams `[0, sizeBytes)` of the file through the verifier: memory stays one chunk. */
export async function verifyAuditFile(
  snapshot: AuditLogSnapshot & { type: 'file' },
): Promise<JsonObject> {
  const verifier = new AuditLogVerifier({
    publicKey: snapshot.publicKey,
    ...(snapshot.fileStartHash === undefined
      ? {}
      : { previousLastLineHash: snapshot.fileStartHash }),
    contains: { seq: snapshot.head.seq, hash: snapshot.head.lastHash },
  });
  if (snapshot.sizeBytes > 0) {
    const stream = createReadStream(snapshot.filePath, {
      start: 0,
      end: snapshot.sizeBytes - 1,
      encoding: 'utf8',
    });
    for await (const chunk of stream) verifier.write(chunk as string);
  }
  const result = verifier.end();
  const { head } = snapshot;
  // SECURITY: the file alone cannot show a cut tail or a rewritten last line; the server's
  // chain head (seq and hash of the last line it wrote) can.
  const matchesHead =
    head.seq === 0
      ? result.lines === 0
      : result.lastSeq === head.seq && result.lastLineHash === head.lastHash;
  const ok = result.ok && matchesHead;
  let problem = result.problem;
  if (result.ok && !matchesHead) {
    problem =
      `the file ends at seq ${result.lastSeq ?? 0} but the server last wrote seq ${head.seq}` +
      ' (lines were cut from the end, or the last line was rewritten)';
  }
  return {
    ok,
    lines: result.lines,
    checkpoints: result.checkpoints,
    signatures_checked: result.signaturesChecked,
    unsigned_trailing_lines: result.unsignedTrailingLines,
    ...(result.firstBadLine === undefined ? {} : { first_bad_line: result.firstBadLine }),
    ...(problem === undefined ? {} : { problem }),
    ...(result.firstSeq === undefined ? {} : { first_seq: result.firstSeq }),
    ...(result.lastSeq === undefined ? {} : { last_seq: result.lastSeq }),
    ...(result.lastLineHash === undefined ? {} : { last_line_hash: result.lastLineHash }),
    server_head: { seq: head.seq, hash: head.lastHash },
    matches_server_head: matchesHead,
  };
}

/**
 * The newest entries among the last TAIL_WINDOW_BYTES of the file, newest first. A line cut
 * by the window's start is skipped; a line that is not JSON is skipped too (the verifier
 * reports it).
 */
async function recentEntries(
  snapshot: AuditLogSnapshot & { type: 'file' },
  filter: string,
  limit: number,
): Promise<{ entries: JsonValue[]; scannedBytes: number; complete: boolean }> {
  const start = Math.max(0, snapshot.sizeBytes - TAIL_WINDOW_BYTES);
  const length = snapshot.sizeBytes - start;
  const buffer = Buffer.alloc(length);
  if (length > 0) {
    const handle = await open(snapshot.filePath, 'r');
    try {
      let offset = 0;
      while (offset < length) {
        const { bytesRead } = await handle.read(buffer, offset, length - offset, start + offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
      }
    } finally {
      await handle.close();
    }
  }
  const lines = buffer.toString('utf8').split('\n');
  if (start > 0) lines.shift();
  const needle = filter.toLowerCase();
  const entries: JsonValue[] = [];
  for (let i = lines.length - 1; i >= 0 && entries.length < limit; i--) {
    const line = lines[i]!;
    const brace = line.indexOf('{');
    if (brace === -1) continue;
    if (needle !== '' && !line.toLowerCase().includes(needle)) continue;
    try {
      entries.push(JSON.parse(line.slice(brace)) as JsonValue);
    } catch {
      // Not a whole JSON line: the verification names it.
    }
  }
  return { entries, scannedBytes: length, complete: start === 0 };
}

export function auditLogViewPaths(deps: AuditLogViewDeps): PathSpec<FieldSpecs, Caller>[] {
  const view = definePath<typeof FIELDS, Caller>({
    pattern: 'audit-log/:path*',
    fields: FIELDS,
    help:
      "One audit device's hash-chain verification and its most recent entries (HMAC'd as " +
      'written), for the web UI. Needs sudo.',
    operations: {
      read: async (_req, fields, params) => {
        const limit = fields.limit ?? DEFAULT_ENTRY_LIMIT;
        if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_ENTRY_LIMIT) {
          throw invalidField('limit', `must be between 1 and ${MAX_ENTRY_LIMIT}`);
        }
        const filter = (fields.filter ?? '').trim();
        if (filter.length > MAX_FILTER_LENGTH) {
          throw invalidField('filter', `must be at most ${MAX_FILTER_LENGTH} characters`);
        }
        const snapshot = await deps.audit.logSnapshot(params.path ?? '');
        const base: JsonObject = {
          path: snapshot.path,
          type: snapshot.type,
          checkpoint_public_key: snapshot.publicKey,
          // What `coffer audit verify -address` checks a copy of the file against.
          server_head: { seq: snapshot.head.seq, hash: snapshot.head.lastHash },
        };
        if (snapshot.type !== 'file') {
          return {
            kind: 'data',
            data: {
              ...base,
              verification: null,
              readable: false,
              reason: 'a socket device sends its lines elsewhere: verify them at the receiver',
              entries: [],
            },
          };
        }
        try {
          const verification = fields.verify === false ? null : await verifyAuditFile(snapshot);
          const recent = await recentEntries(snapshot, filter, limit);
          return {
            kind: 'data',
            data: {
              ...base,
              file_path: snapshot.filePath,
              size_bytes: snapshot.sizeBytes,
              readable: true,
              verification,
              entries: recent.entries,
              scanned_bytes: recent.scannedBytes,
              scanned_whole_file: recent.complete,
            },
          };
        } catch (error) {
          if (error instanceof CofferError) throw error;
          // SECURITY: an errno code at most; never a line of the file.
          throw new CofferError('internal', 'audit: the audit file could not be read');
        }
      },
    },
  });
  return [view];
}
