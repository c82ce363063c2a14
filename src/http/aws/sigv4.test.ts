// SigV4 verification of the AWS door, in process: the signatures it accepts (a reference signer
// written out below and checked against AWS's published test-suite vectors, and the real SDK v3
// client's own signer), and every refusal with its exact AWS error type and message.
import { createHash, createHmac } from 'node:crypto';
import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import {
  ALGORITHM,
  checkClock,
  CLOCK_SKEW_MS,
  headerValues,
  parseAuthorization,
  SERVICE,
  SigV4Error,
  verifySignature,
  type ParsedAuth,
  type SigV4ErrorType,
} from './sigv4.js';

const AKID = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
/** Every field differs from its neighbours, so a wrong slice of the date shows. */
const AMZ = '20261125T093417Z';
const NOW = Date.UTC(2026, 10, 25, 9, 34, 17);
const BODY = '{"SecretId":"app/db"}';
const SIGNED = 'content-type;host;x-amz-date;x-amz-target';

// ---------------------------------------------------------------------------------------------
// A reference signer, the steps of AWS's documentation written out one by one (canonical
// request, string to sign, derived key, signature), independent of the verifier under test.

interface RefInput {
  readonly secret: string;
  readonly amzDate: string;
  readonly region: string;
  readonly service: string;
  readonly method: string;
  readonly path: string;
  /** Lowercase names, values already canonical (trimmed, inner spaces collapsed). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function refSign(input: RefInput): {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
} {
  const names = Object.keys(input.headers).sort();
  let canonicalHeaders = '';
  for (const name of names) canonicalHeaders += `${name}:${input.headers[name]}\n`;
  const canonicalRequest = `${input.method}\n${input.path}\n\n${canonicalHeaders}\n${names.join(';')}\n${sha256Hex(input.body)}`;
  const day = input.amzDate.slice(0, 8);
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${input.amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const kDate = createHmac('sha256', `AWS4${input.secret}`).update(day).digest();
  const kRegion = createHmac('sha256', kDate).update(input.region).digest();
  const kService = createHmac('sha256', kRegion).update(input.service).digest();
  const kSigning = createHmac('sha256', kService).update('aws4_request').digest();
  const signature = createHmac('sha256', kSigning).update(stringToSign).digest('hex');
  return { canonicalRequest, stringToSign, signature };
}

describe('the reference signer of these tests', () => {
  // AWS's SigV4 test suite (docs.aws.amazon.com, "signature-v4-test-suite"): get-vanilla and
  // post-vanilla, credential AKIDEXAMPLE/20150830/us-east-1/service/aws4_request.
  const vanilla = {
    secret: SECRET,
    amzDate: '20150830T123600Z',
    region: 'us-east-1',
    service: 'service',
    path: '/',
    headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
    body: '',
  };

  it("reproduces AWS's published get-vanilla and post-vanilla signatures", () => {
    const get = refSign({ ...vanilla, method: 'GET' });
    expect(get.canonicalRequest).toBe(
      'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(get.signature).toBe('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
    expect(refSign({ ...vanilla, method: 'POST' }).signature).toBe(
      '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Requests signed by the reference signer, as the door hands them to the verifier.

interface Signed {
  readonly authorization: string;
  readonly rawHeaders: string[];
  readonly signature: string;
}

/** A botocore-shaped GetSecretValue request, signed over `signedHeaders` (all of them sent). */
function signedRequest(
  overrides: {
    secret?: string;
    amzDate?: string;
    region?: string;
    headers?: Record<string, string>;
    body?: string;
    path?: string;
  } = {},
): Signed {
  const amzDate = overrides.amzDate ?? AMZ;
  const region = overrides.region ?? 'us-east-1';
  const headers = overrides.headers ?? {
    'content-type': 'application/x-amz-json-1.1',
    host: 'coffer.test:8200',
    'x-amz-date': amzDate,
    'x-amz-target': 'secretsmanager.GetSecretValue',
  };
  const { signature } = refSign({
    secret: overrides.secret ?? SECRET,
    amzDate,
    region,
    service: SERVICE,
    method: 'POST',
    path: overrides.path ?? '/',
    headers,
    body: overrides.body ?? BODY,
  });
  const names = Object.keys(headers).sort();
  return {
    authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/${amzDate.slice(0, 8)}/${region}/secretsmanager/aws4_request, SignedHeaders=${names.join(';')}, Signature=${signature}`,
    rawHeaders: names.flatMap((name) => [name, headers[name]!]),
    signature,
  };
}

function verify(
  signed: Signed,
  overrides: {
    secret?: string;
    method?: string;
    path?: string;
    body?: string;
    raw?: string[];
  } = {},
): void {
  const auth = parseAuthorization(
    signed.authorization,
    headerValues(signed.rawHeaders).get('x-amz-date')?.[0],
  );
  verifySignature({
    auth,
    secret: overrides.secret ?? SECRET,
    method: overrides.method ?? 'POST',
    path: overrides.path ?? '/',
    headers: headerValues(overrides.raw ?? signed.rawHeaders),
    body: Buffer.from(overrides.body ?? BODY),
  });
}

/** The SigV4Error `fn` throws: its type and message (anything else fails the test). */
function refusal(fn: () => unknown): { type: SigV4ErrorType; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SigV4Error);
    const e = err as SigV4Error;
    return { type: e.type, message: e.message };
  }
  throw new Error('expected a SigV4Error, nothing was thrown');
}

const MISMATCH = {
  type: 'InvalidSignatureException',
  message:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
};

const auth = (credential: string, signedHeaders = SIGNED, signature = 'a'.repeat(64)) =>
  `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
const CREDENTIAL = `${AKID}/20261125/us-east-1/secretsmanager/aws4_request`;

describe('parseAuthorization', () => {
  it('reads the access key, scope, signed headers and signature of a well-formed header', () => {
    const sig = '0123456789abcdef'.repeat(4);
    expect(parseAuthorization(auth(CREDENTIAL, SIGNED, sig), AMZ)).toEqual({
      accessKeyId: AKID,
      date: '20261125',
      region: 'us-east-1',
      signedHeaders: ['content-type', 'host', 'x-amz-date', 'x-amz-target'],
      signature: sig,
      amzDate: AMZ,
      scope: '20261125/us-east-1/secretsmanager/aws4_request',
    });
  });

  it('accepts surrounding whitespace, several spaces after the algorithm, none after commas', () => {
    const sig = 'b'.repeat(64);
    const compact = `  AWS4-HMAC-SHA256   Credential=${CREDENTIAL},SignedHeaders=${SIGNED},Signature=${sig}\t`;
    expect(parseAuthorization(compact, AMZ).signature).toBe(sig);
    const spaced = `AWS4-HMAC-SHA256 Credential=${CREDENTIAL},   SignedHeaders=${SIGNED},  Signature=${sig}`;
    expect(parseAuthorization(spaced, AMZ).signedHeaders).toHaveLength(4);
  });

  it('an absent or empty header is a missing authentication token', () => {
    const missing = {
      type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    };
    expect(refusal(() => parseAuthorization(undefined, AMZ))).toEqual(missing);
    expect(refusal(() => parseAuthorization('', AMZ))).toEqual(missing);
  });

  it.each([
    [
      'another algorithm',
      `AWS4-HMAC-SHA512 Credential=${CREDENTIAL}, SignedHeaders=${SIGNED}, Signature=${'a'.repeat(64)}`,
    ],
    [
      'text before the algorithm',
      `xAWS4-HMAC-SHA256 Credential=${CREDENTIAL}, SignedHeaders=${SIGNED}, Signature=${'a'.repeat(64)}`,
    ],
    [
      'no space after the algorithm',
      `AWS4-HMAC-SHA256Credential=${CREDENTIAL}, SignedHeaders=${SIGNED}, Signature=${'a'.repeat(64)}`,
    ],
    ['text after the signature', `${auth(CREDENTIAL)}x`],
    ['a signature of 63 hex digits', auth(CREDENTIAL, SIGNED, 'a'.repeat(63))],
    ['a signature of 65 hex digits', auth(CREDENTIAL, SIGNED, 'a'.repeat(65))],
    ['an upper-case signature', auth(CREDENTIAL, SIGNED, 'A'.repeat(64))],
    ['a signature that is not hex', auth(CREDENTIAL, SIGNED, 'g'.repeat(64))],
    ['no SignedHeaders', `AWS4-HMAC-SHA256 Credential=${CREDENTIAL}, Signature=${'a'.repeat(64)}`],
    ['an empty credential', auth('')],
    [
      'a space inside the credential',
      auth(`${AKID} /20261125/us-east-1/secretsmanager/aws4_request`),
    ],
    ['a space inside the signed headers', auth(CREDENTIAL, 'host; x-amz-date')],
    [
      'parameters out of order',
      `AWS4-HMAC-SHA256 SignedHeaders=${SIGNED}, Credential=${CREDENTIAL}, Signature=${'a'.repeat(64)}`,
    ],
    ['a Basic header', 'Basic dXNlcjpwYXNz'],
  ])('a malformed header (%s) is an incomplete signature', (_, header) => {
    expect(refusal(() => parseAuthorization(header, AMZ))).toEqual({
      type: 'IncompleteSignatureException',
      message:
        'Authorization header requires Credential, SignedHeaders and Signature parameters (AWS4-HMAC-SHA256).',
    });
  });

  it.each([
    ['four parts', `${AKID}/20261125/secretsmanager/aws4_request`],
    ['six parts', `${AKID}/20261125/us-east-1/secretsmanager/aws4_request/x`],
    ['another terminator', `${AKID}/20261125/us-east-1/secretsmanager/aws4_requests`],
    ['a terminator in another case', `${AKID}/20261125/us-east-1/secretsmanager/AWS4_REQUEST`],
    ['a seven-digit date', `${AKID}/2026112/us-east-1/secretsmanager/aws4_request`],
    ['a nine-digit date', `${AKID}/120261125/us-east-1/secretsmanager/aws4_request`],
    ['a date with a trailing digit', `${AKID}/202611250/us-east-1/secretsmanager/aws4_request`],
    ['a date that is not digits', `${AKID}/2026-11-2/us-east-1/secretsmanager/aws4_request`],
  ])('a credential with %s is refused for its shape', (_, credential) => {
    expect(refusal(() => parseAuthorization(auth(credential), AMZ))).toEqual({
      type: 'IncompleteSignatureException',
      message: 'Credential must be <access key>/<yyyymmdd>/<region>/secretsmanager/aws4_request.',
    });
  });

  it.each(['s3', 'SecretsManager', 'secretsmanagerx', ''])(
    'a credential scoped to another service (%j) is an invalid signature',
    (service) => {
      expect(
        refusal(() =>
          parseAuthorization(auth(`${AKID}/20261125/us-east-1/${service}/aws4_request`), AMZ),
        ),
      ).toEqual({
        type: 'InvalidSignatureException',
        message: "Credential should be scoped to correct service: 'secretsmanager'.",
      });
    },
  );

  it.each(['host', 'x-amz-date', 'x-amz-target', 'content-type'])(
    'SignedHeaders without %s is refused',
    (required) => {
      const signed = SIGNED.split(';')
        .filter((name) => name !== required)
        .join(';');
      expect(refusal(() => parseAuthorization(auth(CREDENTIAL, signed), AMZ))).toEqual({
        type: 'IncompleteSignatureException',
        message: `SignedHeaders must include ${required}.`,
      });
    },
  );

  it('SignedHeaders may name more headers than the four every client signs', () => {
    const signed = `content-length;${SIGNED};x-amz-user-agent`;
    expect(parseAuthorization(auth(CREDENTIAL, signed), AMZ).signedHeaders).toEqual(
      signed.split(';'),
    );
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['without its Z', '20261125T093417'],
    ['in ISO 8601 with separators', '2026-11-25T09:34:17Z'],
    ['with a leading character', 'x20261125T093417Z'],
    ['with a trailing character', '20261125T093417Z0'],
    ['with a space for the T', '20261125 093417Z'],
    ['with a short time', '20261125T09341Z'],
  ])('an X-Amz-Date %s is refused', (_, amzDate) => {
    expect(refusal(() => parseAuthorization(auth(CREDENTIAL), amzDate))).toEqual({
      type: 'IncompleteSignatureException',
      message: 'X-Amz-Date must be yyyymmddThhmmssZ.',
    });
  });

  it('a credential date other than the date of X-Amz-Date is an invalid signature', () => {
    expect(refusal(() => parseAuthorization(auth(CREDENTIAL), '20261126T093417Z'))).toEqual({
      type: 'InvalidSignatureException',
      message: 'Credential should be scoped to a valid date: the date of X-Amz-Date.',
    });
  });

  it('the checks run in order: credential shape, service, signed headers, date', () => {
    // Each header below is wrong in two ways; the earlier check decides the error.
    const badShapeAndService = auth(`${AKID}/20261125/us-east-1/s3/aws4_requests`, 'host');
    expect(refusal(() => parseAuthorization(badShapeAndService, undefined)).type).toBe(
      'IncompleteSignatureException',
    );
    expect(refusal(() => parseAuthorization(badShapeAndService, undefined)).message).toMatch(
      /^Credential must be/,
    );
    const badServiceAndHeaders = auth(`${AKID}/20261125/us-east-1/s3/aws4_request`, 'host');
    expect(refusal(() => parseAuthorization(badServiceAndHeaders, undefined)).message).toMatch(
      /^Credential should be scoped to correct service/,
    );
    const badHeadersAndDate = auth(CREDENTIAL, 'host');
    expect(refusal(() => parseAuthorization(badHeadersAndDate, undefined)).message).toBe(
      'SignedHeaders must include x-amz-date.',
    );
  });
});

describe('checkClock', () => {
  const at = (amzDate: string): ParsedAuth =>
    parseAuthorization(
      auth(`${AKID}/${amzDate.slice(0, 8)}/us-east-1/secretsmanager/aws4_request`),
      amzDate,
    );

  it('allows exactly five minutes either way', () => {
    expect(CLOCK_SKEW_MS).toBe(300_000);
    expect(() => {
      checkClock(at(AMZ), NOW);
    }).not.toThrow();
    expect(() => {
      checkClock(at('20261125T092917Z'), NOW);
    }).not.toThrow();
    expect(() => {
      checkClock(at('20261125T093917Z'), NOW);
    }).not.toThrow();
  });

  it('a signature more than five minutes old has expired, in AWS wording', () => {
    // The server clock has milliseconds; AWS's wording shows whole seconds.
    expect(
      refusal(() => {
        checkClock(at('20261125T092916Z'), NOW + 250);
      }),
    ).toEqual({
      type: 'InvalidSignatureException',
      message:
        'Signature expired: 20261125T092916Z is now earlier than 20261125T092917Z (20261125T093417Z - 5 min.)',
    });
    expect(
      refusal(() => {
        checkClock(at('20261125T092917Z'), NOW + 1);
      }).message,
    ).toMatch(/^Signature expired: /);
  });

  it('a signature more than five minutes ahead is not yet current, in AWS wording', () => {
    expect(
      refusal(() => {
        checkClock(at('20261125T093918Z'), NOW + 250);
      }),
    ).toEqual({
      type: 'InvalidSignatureException',
      message:
        'Signature not yet current: 20261125T093918Z is still later than 20261125T093917Z (20261125T093417Z + 5 min.)',
    });
    expect(
      refusal(() => {
        checkClock(at('20261125T093917Z'), NOW - 1);
      }).message,
    ).toMatch(/^Signature not yet current: /);
  });

  it('every field of X-Amz-Date counts: a year, month, day, hour, minute or second off', () => {
    for (const amzDate of [
      '20251125T093417Z',
      '20271125T093417Z',
      '20261025T093417Z',
      '20261225T093417Z',
      '20261124T093417Z',
      '20261126T093417Z',
      '20261125T083417Z',
      '20261125T103417Z',
      '20261125T092417Z',
      '20261125T094417Z',
    ]) {
      expect(() => {
        checkClock(at(amzDate), NOW);
      }, amzDate).toThrow(SigV4Error);
    }
    // Seconds: 5 min + 1 s either side refused, 5 min accepted (above).
    expect(() => {
      checkClock(at('20261125T093418Z'), NOW + CLOCK_SKEW_MS + 2_000);
    }).toThrow(/^Signature expired/);
    expect(() => {
      checkClock(at('20261125T093416Z'), NOW - CLOCK_SKEW_MS - 2_000);
    }).toThrow(/^Signature not yet current/);
  });

  it('the month of X-Amz-Date is counted from January', () => {
    // 2026-03-01 exactly: with months counted from 1, Date.UTC would read April.
    expect(() => {
      checkClock(at('20260301T000000Z'), Date.UTC(2026, 2, 1, 0, 0, 0));
    }).not.toThrow();
  });
});

describe('headerValues', () => {
  it('lower-cases names, trims values, collapses inner whitespace and keeps repeats in order', () => {
    const values = headerValues([
      'Host',
      'coffer.test',
      'X-Amz-Meta',
      '  a \t  b  ',
      'x-amz-meta',
      'c',
    ]);
    expect([...values.entries()]).toEqual([
      ['host', ['coffer.test']],
      ['x-amz-meta', ['a b', 'c']],
    ]);
  });

  it('a trailing name without a value is ignored', () => {
    expect([...headerValues(['Host', 'h', 'Dangling']).entries()]).toEqual([['host', ['h']]]);
  });
});

describe('verifySignature', () => {
  it('accepts a request signed as AWS documents it', () => {
    expect(() => {
      verify(signedRequest());
    }).not.toThrow();
  });

  it('accepts the same request signed by the SDK v3 client itself', async () => {
    let captured: { headers: Record<string, string>; body: Buffer; path: string } | undefined;
    const client = new SecretsManagerClient({
      region: 'eu-west-3',
      endpoint: 'http://coffer.test:8200',
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
      maxAttempts: 1,
      requestHandler: {
        handle: (request: { headers: Record<string, string>; body: unknown; path: string }) => {
          captured = {
            headers: { ...request.headers },
            body: Buffer.from(request.body as string | Uint8Array),
            path: request.path,
          };
          return Promise.resolve({
            response: {
              statusCode: 200,
              headers: { 'content-type': 'application/x-amz-json-1.1' },
              body: new TextEncoder().encode('{"Name":"app/db"}'),
            },
          });
        },
      },
    });
    await client.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
    client.destroy();
    expect(captured).toBeDefined();
    const { headers, body, path } = captured!;
    const raw = Object.entries(headers).flat();
    const parsed = parseAuthorization(headers['authorization'], headers['x-amz-date']);
    expect(parsed.region).toBe('eu-west-3');
    expect(parsed.signedHeaders).toContain('x-amz-content-sha256');
    const request = {
      auth: parsed,
      secret: SECRET,
      method: 'POST',
      path,
      headers: headerValues(raw),
    };
    expect(() => {
      verifySignature({ ...request, body: body });
    }).not.toThrow();
    expect(
      refusal(() => {
        verifySignature({ ...request, body: Buffer.concat([body, Buffer.from(' ')]) });
      }),
    ).toEqual({
      type: 'InvalidSignatureException',
      message: 'The provided x-amz-content-sha256 header does not match what was computed.',
    });
  });

  it('the signature covers the body, the path, the method and the secret', () => {
    const signed = signedRequest();
    expect(
      refusal(() => {
        verify(signed, { body: `${BODY} ` });
      }),
    ).toEqual(MISMATCH);
    expect(
      refusal(() => {
        verify(signed, { path: '/x' });
      }),
    ).toEqual(MISMATCH);
    expect(
      refusal(() => {
        verify(signed, { method: 'PUT' });
      }),
    ).toEqual(MISMATCH);
    expect(
      refusal(() => {
        verify(signed, { secret: `${SECRET}x` });
      }),
    ).toEqual(MISMATCH);
    expect(() => {
      verify(signedRequest({ path: '/x' }), { path: '/x' });
    }).not.toThrow();
  });

  it('the signature covers every signed header, and only those', () => {
    const signed = signedRequest();
    const raw = [...signed.rawHeaders];
    raw[raw.indexOf('x-amz-target') + 1] = 'secretsmanager.DeleteSecret';
    expect(
      refusal(() => {
        verify(signed, { raw });
      }),
    ).toEqual(MISMATCH);
    expect(() => {
      verify(signed, { raw: [...signed.rawHeaders, 'User-Agent', 'anything'] });
    }).not.toThrow();
  });

  it('one flipped digit of the signature is a mismatch', () => {
    const signed = signedRequest();
    const last = signed.signature.at(-1) === '0' ? '1' : '0';
    const forged = signed.signature.slice(0, -1) + last;
    expect(
      refusal(() => {
        verify({
          ...signed,
          authorization: signed.authorization.replace(signed.signature, forged),
        });
      }),
    ).toEqual(MISMATCH);
  });

  it('header values are canonical: names in any case, values trimmed and collapsed, repeats joined', () => {
    const signed = signedRequest({
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        host: 'coffer.test:8200',
        'x-amz-date': AMZ,
        'x-amz-meta': 'a b,c',
        'x-amz-target': 'secretsmanager.GetSecretValue',
      },
    });
    const raw = [
      'Content-Type',
      'application/x-amz-json-1.1',
      'HOST',
      'coffer.test:8200',
      'X-Amz-Date',
      AMZ,
      'X-Amz-Meta',
      '  a    b ',
      'x-amz-meta',
      'c',
      'X-Amz-Target',
      'secretsmanager.GetSecretValue',
    ];
    expect(() => {
      verify(signed, { raw });
    }).not.toThrow();
  });

  it('a signed header missing from the request is an incomplete signature', () => {
    const signed = signedRequest();
    const raw = signed.rawHeaders.slice(2); // drops content-type (sorted first)
    expect(signed.rawHeaders[0]).toBe('content-type');
    expect(
      refusal(() => {
        verify(signed, { raw });
      }),
    ).toEqual({
      type: 'IncompleteSignatureException',
      message: 'Signed header content-type is missing from the request.',
    });
  });

  it('x-amz-content-sha256, signed or not, must be the hash of the body (no UNSIGNED-PAYLOAD)', () => {
    const signed = signedRequest();
    const hash = createHash('sha256').update(BODY).digest('hex');
    expect(() => {
      verify(signed, { raw: [...signed.rawHeaders, 'X-Amz-Content-Sha256', hash] });
    }).not.toThrow();
    const wrong = {
      type: 'InvalidSignatureException',
      message: 'The provided x-amz-content-sha256 header does not match what was computed.',
    };
    for (const declared of ['UNSIGNED-PAYLOAD', sha256Hex(''), hash.toUpperCase()]) {
      expect(
        refusal(() => {
          verify(signed, { raw: [...signed.rawHeaders, 'x-amz-content-sha256', declared] });
        }),
      ).toEqual(wrong);
    }
    // Sent twice, as HTTP joins repeats (with ","): the right hash split in two is not it.
    expect(
      refusal(() => {
        verify(signed, {
          raw: [
            ...signed.rawHeaders,
            'x-amz-content-sha256',
            hash.slice(0, 32),
            'x-amz-content-sha256',
            hash.slice(32),
          ],
        });
      }),
    ).toEqual(wrong);
    // Sent twice, even with the right hash both times: the values joined are not a hash.
    expect(
      refusal(() => {
        verify(signed, {
          raw: [...signed.rawHeaders, 'x-amz-content-sha256', hash, 'x-amz-content-sha256', hash],
        });
      }),
    ).toEqual(wrong);
  });

  it('a rotated secret is used at once: the derived key is cached per secret too', () => {
    const first = signedRequest();
    expect(() => {
      verify(first);
    }).not.toThrow();
    const rotated = `${SECRET}2`;
    const second = signedRequest({ secret: rotated });
    expect(() => {
      verify(second, { secret: rotated });
    }).not.toThrow();
    expect(
      refusal(() => {
        verify(first, { secret: rotated });
      }),
    ).toEqual(MISMATCH);
    expect(() => {
      verify(first);
    }).not.toThrow();
  });

  it('the derived key is per day and region: one access key signing for several', () => {
    for (const region of ['us-east-1', 'eu-west-3', 'us-east-1', 'ap-south-1']) {
      expect(() => {
        verify(signedRequest({ region }));
      }).not.toThrow();
    }
    for (const amzDate of ['20261125T000000Z', '20261126T000000Z', '20261125T235959Z']) {
      expect(() => {
        verify(signedRequest({ amzDate }));
      }).not.toThrow();
    }
  });

  it('a signature of another length (a hand-made ParsedAuth) is a mismatch, not a crash', () => {
    const signed = signedRequest();
    const parsed = parseAuthorization(signed.authorization, AMZ);
    for (const signature of ['', signed.signature.slice(0, 62), `${signed.signature}00`]) {
      expect(
        refusal(() => {
          verifySignature({
            auth: { ...parsed, signature },
            secret: SECRET,
            method: 'POST',
            path: '/',
            headers: headerValues(signed.rawHeaders),
            body: Buffer.from(BODY),
          });
        }),
      ).toEqual(MISMATCH);
    }
  });

  it('the algorithm and the service are the ones AWS names', () => {
    expect(ALGORITHM).toBe('AWS4-HMAC-SHA256');
    expect(SERVICE).toBe('secretsmanager');
    const error = new SigV4Error('IncompleteSignatureException', 'm');
    expect(error).toBeInstanceOf(Error);
    expect([error.type, error.message]).toEqual(['IncompleteSignatureException', 'm']);
  });
});
