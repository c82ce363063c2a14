// AWS Signature Version 4, verified server-side for the Secrets Manager door. Split in two so
// nothing unauthenticated is buffered: `parseAuthorization` + `checkClock` run on the headers
// alone (before the body is read); `verifySignature` runs once the (size-capped) body is in.
//
// Written here rather than with @smithy/signature-v4: that signer rebuilds the canonical
// headers from its own rules (it drops some headers, adds others) instead of exactly the
// client's SignedHeaders list, needs a request object and a hash constructor per call, and is
// async; the verifier is ~60 lines over node:crypto and is checked against the real clients'
// signatures (SDK v3, botocore, the AWS CLI) and against @smithy/signature-v4 in the tests.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const SERVICE = 'secretsmanager';
/** AWS's clock window: requests more than 5 minutes off the server's clock are refused. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/** Headers every AWS client signs; an unsigned target could be replayed as another action. */
const REQUIRED_SIGNED = ['host', 'x-amz-date', 'x-amz-target', 'content-type'];

export type SigV4ErrorType =
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException';

export class SigV4Error extends Error {
  readonly type: SigV4ErrorType;

  constructor(type: SigV4ErrorType, message: string) {
    super(message);
    this.type = type;
  }
}

export interface ParsedAuth {
  readonly accessKeyId: string;
  /** yyyymmdd */
  readonly date: string;
  readonly region: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** x-amz-date, yyyymmddThhmmssZ */
  readonly amzDate: string;
  readonly scope: string;
}

const AUTH =
  /^AWS4-HMAC-SHA256 +Credential=([^,\s]+), *SignedHeaders=([^,\s]+), *Signature=([0-9a-f]{64})$/;

export function parseAuthorization(
  authorization: string | undefined,
  amzDate: string | undefined,
): ParsedAuth {
  if (authorization === undefined || authorization === '') {
    throw new SigV4Error('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const m = AUTH.exec(authorization.trim());
  if (m === null) {
    throw new SigV4Error(
      'IncompleteSignatureException',
      'Authorization header requires Credential, SignedHeaders and Signature parameters (AWS4-HMAC-SHA256).',
    );
  }
  const parts = m[1]!.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1]!)) {
    throw new SigV4Error(
      'IncompleteSignatureException',
      'Credential must be <access key>/<yyyymmdd>/<region>/secretsmanager/aws4_request.',
    );
  }
  if (parts[3] !== SERVICE) {
    throw new SigV4Error(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${SERVICE}'.`,
    );
  }
  const signedHeaders = m[2]!.split(';');
  for (const required of REQUIRED_SIGNED) {
    if (!signedHeaders.includes(required)) {
      throw new SigV4Error(
        'IncompleteSignatureException',
        `SignedHeaders must include ${required}.`,
      );
    }
  }
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    throw new SigV4Error('IncompleteSignatureException', 'X-Amz-Date must be yyyymmddThhmmssZ.');
  }
  if (amzDate.slice(0, 8) !== parts[1]) {
    throw new SigV4Error(
      'InvalidSignatureException',
      'Credential should be scoped to a valid date: the date of X-Amz-Date.',
    );
  }
  return {
    accessKeyId: parts[0]!,
    date: parts[1],
    region: parts[2]!,
    signedHeaders,
    signature: m[3]!,
    amzDate,
    scope: parts.slice(1).join('/'),
  };
}

function amzToMs(amzDate: string): number {
  return Date.UTC(
    Number(amzDate.slice(0, 4)),
    Number(amzDate.slice(4, 6)) - 1,
    Number(amzDate.slice(6, 8)),
    Number(amzDate.slice(9, 11)),
    Number(amzDate.slice(11, 13)),
    Number(amzDate.slice(13, 15)),
  );
}

function amzOf(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** AWS's wording, which SDKs recognise to correct their clock from our Date header. */
export function checkClock(auth: ParsedAuth, nowMs: number): void {
  const at = amzToMs(auth.amzDate);
  if (at < nowMs - CLOCK_SKEW_MS) {
    throw new SigV4Error(
      'InvalidSignatureException',
      `Signature expired: ${auth.amzDate} is now earlier than ${amzOf(nowMs - CLOCK_SKEW_MS)} (${amzOf(nowMs)} - 5 min.)`,
    );
  }
  if (at > nowMs + CLOCK_SKEW_MS) {
    throw new SigV4Error(
      'InvalidSignatureException',
      `Signature not yet current: ${auth.amzDate} is still later than ${amzOf(nowMs + CLOCK_SKEW_MS)} (${amzOf(nowMs)} + 5 min.)`,
    );
  }
}

/** Header values by lowercase name from Node's rawHeaders, in order (repeats joined by ','). */
export function headerValues(rawHeaders: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const list = out.get(name) ?? [];
    list.push(rawHeaders[i + 1]!.trim().replace(/\s+/g, ' '));
    out.set(name, list);
  }
  return out;
}

const keyCache = new Map<string, { secret: string; key: Buffer }>();
const KEY_CACHE_MAX = 1_000;

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** The derived signing key, cached per (access key, day, region): 4 HMACs saved per request. */
function signingKey(auth: ParsedAuth, secret: string): Buffer {
  const id = `${auth.accessKeyId}\n${auth.date}\n${auth.region}`;
  const cached = keyCache.get(id);
  if (cached !== undefined && cached.secret === secret) return cached.key;
  const key = hmac(
    hmac(hmac(hmac(`AWS4${secret}`, auth.date), auth.region), SERVICE),
    'aws4_request',
  );
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(id, { secret, key });
  return key;
}

/**
 * Recomputes the signature over the canonical request (POST, path, empty query, exactly the
 * signed headers, SHA-256 of the raw body) and compares it in constant time. Also checks
 * x-amz-content-sha256 when the client sent it.
 */
export function verifySignature(options: {
  readonly auth: ParsedAuth;
  readonly secret: string;
  readonly method: string;
  readonly path: string;
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly body: Buffer;
}): void {
  const { auth, headers } = options;
  const bodyHash = createHash('sha256').update(options.body).digest('hex');
  const declared = headers.get('x-amz-content-sha256');
  // SECURITY: UNSIGNED-PAYLOAD is refused too; Secrets Manager clients always sign the body.
  if (declared !== undefined && declared.join(',') !== bodyHash) {
    throw new SigV4Error(
      'InvalidSignatureException',
      'The provided x-amz-content-sha256 header does not match what was computed.',
    );
  }
  const lines: string[] = [];
  for (const name of auth.signedHeaders) {
    const values = headers.get(name);
    if (values === undefined) {
      throw new SigV4Error(
        'IncompleteSignatureException',
        `Signed header ${name} is missing from the request.`,
      );
    }
    lines.push(`${name}:${values.join(',')}\n`);
  }
  const canonical = [
    options.method,
    options.path,
    '',
    lines.join(''),
    auth.signedHeaders.join(';'),
    bodyHash,
  ].join('\n');
  const stringToSign = [
    ALGORITHM,
    auth.amzDate,
    auth.scope,
    createHash('sha256').update(canonical, 'utf8').digest('hex'),
  ].join('\n');
  const expected = createHmac('sha256', signingKey(auth, options.secret))
    .update(stringToSign, 'utf8')
    .digest();
  const given = Buffer.from(auth.signature, 'hex');
  // SECURITY: constant-time comparison; the message never says what was expected.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SigV4Error(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
}
