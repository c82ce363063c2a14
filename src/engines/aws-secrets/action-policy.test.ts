// Resource-policy evaluation of the AWS door, in process: what an explicit Deny matches
// (principal, action, NotAction, resource globs) and what a malformed document is refused for;
// then Put/Get/Delete/ValidateResourcePolicy and their enforcement through the aws-sm engine
// over memory storage, as the door's requests reach it.
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { isCofferError } from '../../sdk/errors.js';
import { engineHarness, testMount, testRequest, type EngineHarness } from '../../sdk/testing.js';
import { explicitlyDenied, parsePolicy } from './action-policy.js';
import { actionPath, AWS_ACTIONS, type AwsAction } from './actions.js';
import { createAwsEngine } from './engine.js';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf';
const ALICE = 'arn:aws:iam::123456789012:user/alice';
const MALLORY = 'arn:aws:iam::999999999999:user/mallory';

function statements(...items: object[]) {
  const parsed = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: items }));
  expect(parsed.errors).toEqual([]);
  return parsed.statements;
}

describe('explicitlyDenied', () => {
  const deny = (extra: object) => ({
    Effect: 'Deny',
    Principal: { AWS: ALICE },
    Action: 'secretsmanager:GetSecretValue',
    Resource: '*',
    ...extra,
  });

  it('denies exactly the principal, action and resource the statement names', () => {
    const s = statements(deny({}));
    expect(explicitlyDenied(s, 'secretsmanager:GetSecretValue', ARN, ALICE)).toBe(true);
    expect(explicitlyDenied(s, 'secretsmanager:GetSecretValue', ARN, MALLORY)).toBe(false);
    expect(explicitlyDenied(s, 'secretsmanager:DescribeSecret', ARN, ALICE)).toBe(false);
    expect(explicitlyDenied(s, 'secretsmanager:GetSecretValue', ARN, undefined)).toBe(false);
  });

  it('an Allow never denies', () => {
    const s = statements({ ...deny({}), Effect: 'Allow' });
    expect(explicitlyDenied(s, 'secretsmanager:GetSecretValue', ARN, ALICE)).toBe(false);
  });

  it('matches a whole account, "*" principals, action globs and resource globs', () => {
    expect(
      explicitlyDenied(
        statements(deny({ Principal: { AWS: '123456789012' } })),
        'secretsmanager:GetSecretValue',
        ARN,
        ALICE,
      ),
    ).toBe(true);
    expect(
      explicitlyDenied(
        statements(deny({ Principal: { AWS: 'arn:aws:iam::123456789012:root' } })),
        'secretsmanager:GetSecretValue',
        ARN,
        ALICE,
      ),
    ).toBe(true);
    const anyone = statements(deny({ Principal: '*', Action: 'secretsmanager:Get*' }));
    expect(explicitlyDenied(anyone, 'secretsmanager:GetSecretValue', ARN, MALLORY)).toBe(true);
    expect(explicitlyDenied(anyone, 'secretsmanager:GetSecretValue', ARN, undefined)).toBe(true);
    expect(explicitlyDenied(anyone, 'secretsmanager:PutSecretValue', ARN, MALLORY)).toBe(false);
    const other = statements(deny({ Resource: 'arn:aws:secretsmanager:*:*:secret:other-*' }));
    expect(explicitlyDenied(other, 'secretsmanager:GetSecretValue', ARN, ALICE)).toBe(false);
    const same = statements(deny({ Resource: 'arn:aws:secretsmanager:*:*:secret:app/db-??????' }));
    expect(explicitlyDenied(same, 'secretsmanager:GetSecretValue', ARN, ALICE)).toBe(true);
  });

  it('NotAction denies every action but the listed ones', () => {
    const s = statements({
      Effect: 'Deny',
      Principal: { AWS: ALICE },
      NotAction: 'secretsmanager:DescribeSecret',
      Resource: '*',
    });
    expect(explicitlyDenied(s, 'secretsmanager:GetSecretValue', ARN, ALICE)).toBe(true);
    expect(explicitlyDenied(s, 'secretsmanager:DescribeSecret', ARN, ALICE)).toBe(false);
  });

  it('a glob is a glob, not a regular expression', () => {
    const s = statements(
      deny({ Resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app.db*' }),
    );
    expect(explicitlyDenied(s, 'secretsmanager:GetSecretValue', ARN, ALICE)).toBe(false);
  });
});

describe('parsePolicy', () => {
  const errorsOf = (doc: unknown) => parsePolicy(JSON.stringify(doc)).errors;

  it('names what is malformed', () => {
    expect(parsePolicy('{').errors).toEqual(['The policy document is not valid JSON.']);
    expect(errorsOf([])).toEqual(['The policy document must be a JSON object.']);
    expect(errorsOf({})).toEqual(['The policy document must have at least one Statement.']);
    expect(errorsOf({ Statement: [1] })).toEqual(['Statement 1 must be an object.']);
    expect(errorsOf({ Statement: { Effect: 'Maybe' } })).toEqual([
      'Statement 1: Effect must be "Allow" or "Deny".',
    ]);
    expect(errorsOf({ Statement: { Effect: 'Deny', Principal: 'alice' } })).toEqual([
      'Statement 1: Principal must be "*" or {"AWS": ARN or list of ARNs}.',
    ]);
    expect(errorsOf({ Statement: { Effect: 'Deny', Principal: '*' } })).toEqual([
      'Statement 1: Action must be a string or a list of strings.',
    ]);
    expect(
      errorsOf({ Statement: { Effect: 'Deny', Principal: '*', Action: 's3:GetObject' } }),
    ).toEqual(['Statement 1: unsupported action "s3:GetObject".']);
  });

  it('reads a single statement, principal lists with "*", and a missing Resource as "*"', () => {
    const { statements: s, errors } = parsePolicy(
      JSON.stringify({
        Statement: { Effect: 'Allow', Principal: { AWS: [ALICE, '*'] }, Action: '*' },
      }),
    );
    expect(errors).toEqual([]);
    expect(s).toEqual([{ effect: 'Allow', principals: '*', actions: ['*'], resources: ['*'] }]);
  });
});

describe('parsePolicy, every shape', () => {
  const errorsOf = (doc: unknown) => parsePolicy(JSON.stringify(doc)).errors;
  const PRINCIPAL_ERROR = 'Statement 1: Principal must be "*" or {"AWS": ARN or list of ARNs}.';
  const ACTION_ERROR = 'Statement 1: Action must be a string or a list of strings.';

  it('a document that is not an object has no statements', () => {
    for (const text of ['null', '5', '"x"', 'true']) {
      expect(parsePolicy(text)).toStrictEqual({
        statements: [],
        errors: ['The policy document must be a JSON object.'],
      });
    }
    expect(parsePolicy('{').statements).toStrictEqual([]);
  });

  it('a statement must be an object', () => {
    expect(errorsOf({ Statement: [null] })).toEqual(['Statement 1 must be an object.']);
    expect(errorsOf({ Statement: ['x'] })).toEqual(['Statement 1 must be an object.']);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['a name', 'alice'],
    ['a list', [ALICE]],
    ['without AWS', {}],
    ['with AWS not a string', { AWS: 5 }],
    ['with a list holding a number', { AWS: [ALICE, 5] }],
  ])('a Principal %s is refused', (_, principal) => {
    expect(errorsOf({ Statement: { Effect: 'Deny', Principal: principal, Action: '*' } })).toEqual([
      PRINCIPAL_ERROR,
    ]);
  });

  it.each([
    ['a number', 5],
    ['a list holding a number', ['secretsmanager:GetSecretValue', 5]],
    ['a list holding null', [null]],
  ])('an Action that is %s is refused', (_, action) => {
    expect(errorsOf({ Statement: { Effect: 'Deny', Principal: '*', Action: action } })).toEqual([
      ACTION_ERROR,
    ]);
  });

  it('actions are secretsmanager:<letters, * or ?>, nothing around them', () => {
    for (const action of [
      'xsecretsmanager:GetSecretValue',
      'secretsmanager:GetSecretValue1',
      'secretsmanager:Get SecretValue',
      'secretsmanager:',
    ]) {
      expect(errorsOf({ Statement: { Effect: 'Deny', Principal: '*', Action: action } })).toEqual([
        `Statement 1: unsupported action "${action}".`,
      ]);
    }
    expect(
      errorsOf({ Statement: { Effect: 'Deny', Principal: '*', Action: 'secretsmanager:?et*' } }),
    ).toEqual([]);
  });

  it('an unsupported action is quoted up to 64 characters', () => {
    const long = `s3:${'x'.repeat(100)}`;
    expect(errorsOf({ Statement: { Effect: 'Deny', Principal: '*', NotAction: [long] } })).toEqual([
      `Statement 1: unsupported action "${long.slice(0, 64)}".`,
    ]);
  });

  it('a statement has exactly the fields it was given: NotAction only when present', () => {
    const { statements: s } = parsePolicy(
      JSON.stringify({
        Statement: [
          { Effect: 'Deny', Principal: { AWS: ALICE }, Action: 'secretsmanager:Get*' },
          { Effect: 'Deny', Principal: '*', NotAction: 'secretsmanager:List*', Resource: [ARN] },
        ],
      }),
    );
    expect(s).toStrictEqual([
      { effect: 'Deny', principals: [ALICE], actions: ['secretsmanager:Get*'], resources: ['*'] },
      {
        effect: 'Deny',
        principals: '*',
        actions: [],
        notActions: ['secretsmanager:List*'],
        resources: [ARN],
      },
    ]);
  });
});

describe('explicitlyDenied, lists and edges', () => {
  const GET = 'secretsmanager:GetSecretValue';
  const BOB = 'arn:aws:iam::123456789012:user/bob';
  const statements = (...items: object[]) =>
    parsePolicy(JSON.stringify({ Statement: items })).statements;
  const deny = (extra: object) => ({
    Effect: 'Deny',
    Principal: { AWS: ALICE },
    Action: GET,
    Resource: '*',
    ...extra,
  });

  it('any one of several principals, actions, resources or statements is enough', () => {
    expect(
      explicitlyDenied(statements(deny({ Principal: { AWS: [BOB, ALICE] } })), GET, ARN, ALICE),
    ).toBe(true);
    expect(
      explicitlyDenied(
        statements(deny({ Action: ['secretsmanager:DescribeSecret', GET] })),
        GET,
        ARN,
        ALICE,
      ),
    ).toBe(true);
    expect(
      explicitlyDenied(statements(deny({ Resource: ['arn:aws:other', ARN] })), GET, ARN, ALICE),
    ).toBe(true);
    expect(
      explicitlyDenied(statements(deny({ Principal: { AWS: BOB } }), deny({})), GET, ARN, ALICE),
    ).toBe(true);
  });

  it('NotAction with several actions spares each of them', () => {
    const s = statements(
      deny({
        Action: undefined,
        NotAction: ['secretsmanager:DescribeSecret', 'secretsmanager:ListSecrets'],
      }),
    );
    expect(explicitlyDenied(s, 'secretsmanager:DescribeSecret', ARN, ALICE)).toBe(false);
    expect(explicitlyDenied(s, 'secretsmanager:ListSecrets', ARN, ALICE)).toBe(false);
    expect(explicitlyDenied(s, GET, ARN, ALICE)).toBe(true);
  });

  it('action names match in any case, as IAM matches them', () => {
    expect(
      explicitlyDenied(
        statements(deny({ Action: 'secretsmanager:getsecretvalue' })),
        GET,
        ARN,
        ALICE,
      ),
    ).toBe(true);
  });

  it('resource globs take regular-expression characters literally', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app.db+x-AbCdEf';
    const s = statements(deny({ Resource: 'arn:aws:secretsmanager:*:*:secret:app.db+x-??????' }));
    expect(explicitlyDenied(s, GET, arn, ALICE)).toBe(true);
    expect(
      explicitlyDenied(
        s,
        GET,
        'arn:aws:secretsmanager:us-east-1:123456789012:secret:appxdbbx-AbCdEf',
        ALICE,
      ),
    ).toBe(false);
  });

  it('a caller that is not an IAM ARN matches only itself, never an account', () => {
    const byAccount = statements(deny({ Principal: { AWS: '123456789012' } }));
    expect(
      explicitlyDenied(byAccount, GET, ARN, 'serviceAccount:ci@p.iam.gserviceaccount.com'),
    ).toBe(false);
    expect(explicitlyDenied(byAccount, GET, ARN, `x${ALICE}`)).toBe(false);
    const byName = statements(deny({ Principal: { AWS: 'alice' } }));
    expect(explicitlyDenied(byName, GET, ARN, 'alice')).toBe(true);
  });
});

describe('resource policies through the engine', () => {
  let h: EngineHarness;
  const BOB = 'arn:aws:iam::123456789012:user/bob';

  beforeEach(() => {
    const mount = testMount({ path: 'aws/', type: 'aws-sm', options: {} });
    h = engineHarness(createAwsEngine(mount), { mount });
  });

  /** One AWS action as the door sends it to the engine, by `principal` (ALICE by default; null: none). */
  const aws = async (
    action: AwsAction,
    input: Record<string, unknown>,
    principal: string | null = ALICE,
  ) => {
    const route = AWS_ACTIONS[action];
    const name = route.target === 'secret' ? String(input['Name'] ?? input['SecretId']) : undefined;
    const result = await h.engine.handle({
      ...testRequest(route.operation, actionPath(action, 'us-east-1', name), input, h.storage, {
        mount: h.mount,
        now: () => h.nowMs,
      }),
      door: {
        api: 'aws',
        method: `secretsmanager.${action}`,
        ...(principal === null ? {} : { principal }),
      },
    });
    return result.kind === 'data' ? result.data : {};
  };
  const refusal = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      if (!isCofferError(err)) throw err;
      return { type: err.doorCode, message: err.message, field: err.field };
    }
    throw new Error('expected a refusal');
  };
  const create = (name: string) =>
    aws('CreateSecret', { Name: name, SecretString: 'v', ClientRequestToken: randomUUID() });
  const doc = (...statements: object[]) =>
    JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const denyGet = (principal: unknown = { AWS: ALICE }) =>
    doc({
      Effect: 'Deny',
      Principal: principal,
      Action: 'secretsmanager:GetSecretValue',
      Resource: '*',
    });
  const storedPolicies = () => [...h.storage.entries.keys()].filter((k) => k.startsWith('policy/'));

  it('an explicit Deny refuses its action to its principal, and nothing else', async () => {
    await create('app/db');
    const put = await aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: denyGet() });
    expect(put['Name']).toBe('app/db');
    expect(put['ARN']).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:app\/db-/);
    expect(await refusal(aws('GetSecretValue', { SecretId: 'app/db' }))).toEqual({
      type: 'AccessDeniedException',
      message:
        'User is not authorized to perform: secretsmanager:GetSecretValue on resource because of an explicit deny in a resource-based policy',
      field: undefined,
    });
    // Another action, another principal, no principal: not denied.
    expect((await aws('DescribeSecret', { SecretId: 'app/db' }))['Name']).toBe('app/db');
    expect((await aws('GetSecretValue', { SecretId: 'app/db' }, BOB))['SecretString']).toBe('v');
    expect((await aws('GetSecretValue', { SecretId: 'app/db' }, null))['SecretString']).toBe('v');
  });

  it('BatchGetSecretValue is denied as GetSecretValue', async () => {
    await create('app/db');
    await aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: denyGet() });
    expect((await refusal(aws('BatchGetSecretValue', { SecretId: 'app/db' }))).type).toBe(
      'AccessDeniedException',
    );
  });

  it('GetResourcePolicy returns the text as put; DeleteResourcePolicy lifts it and keeps nothing', async () => {
    await create('app/db');
    expect(await aws('GetResourcePolicy', { SecretId: 'app/db' })).not.toHaveProperty(
      'ResourcePolicy',
    );
    await aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: denyGet() });
    const got = await aws('GetResourcePolicy', { SecretId: 'app/db' });
    expect(got['ResourcePolicy']).toBe(denyGet());
    expect(got['Name']).toBe('app/db');
    expect(got['ARN']).toBe((await aws('DescribeSecret', { SecretId: 'app/db' }))['ARN']);
    const deleted = await aws('DeleteResourcePolicy', { SecretId: 'app/db' });
    expect(deleted).toEqual({ ARN: got['ARN'], Name: 'app/db' });
    expect((await aws('GetSecretValue', { SecretId: 'app/db' }))['SecretString']).toBe('v');
    expect(await aws('GetResourcePolicy', { SecretId: 'app/db' })).not.toHaveProperty(
      'ResourcePolicy',
    );
    expect(storedPolicies()).toEqual([]);
  });

  it('a replaced policy is the one enforced', async () => {
    await create('app/db');
    await aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: denyGet() });
    await aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: denyGet({ AWS: BOB }) });
    expect((await aws('GetSecretValue', { SecretId: 'app/db' }))['SecretString']).toBe('v');
    expect((await refusal(aws('GetSecretValue', { SecretId: 'app/db' }, BOB))).type).toBe(
      'AccessDeniedException',
    );
    expect(storedPolicies()).toHaveLength(1);
  });

  it('a policy whose text was lost (a crash inside DeleteResourcePolicy) denies nothing', async () => {
    await create('app/db');
    await aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: denyGet() });
    for (const key of storedPolicies()) h.storage.entries.delete(key);
    expect((await aws('GetSecretValue', { SecretId: 'app/db' }))['SecretString']).toBe('v');
  });

  it('a malformed document is refused with every error, naming ResourcePolicy', async () => {
    await create('app/db');
    const text = doc(
      { Effect: 'Maybe' },
      { Effect: 'Deny', Principal: '*', Action: 's3:GetObject' },
    );
    expect(
      await refusal(aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: text })),
    ).toEqual({
      type: 'MalformedPolicyDocumentException',
      message:
        'Statement 1: Effect must be "Allow" or "Deny". Statement 2: unsupported action "s3:GetObject".',
      field: 'ResourcePolicy',
    });
    expect(storedPolicies()).toEqual([]);
  });

  it('the document is 1 to 20480 characters', async () => {
    await create('app/db');
    const pad = (text: string, length: number) =>
      text.slice(0, -1) + ' '.repeat(length - text.length) + '}';
    const max = pad(denyGet(), 20480);
    expect(max).toHaveLength(20480);
    await aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: max });
    for (const text of ['', pad(denyGet(), 20481)]) {
      expect(
        (await refusal(aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: text })))
          .type,
      ).toBe('ValidationException');
    }
    expect(
      (await refusal(aws('ValidateResourcePolicy', { ResourcePolicy: pad(denyGet(), 20481) })))
        .type,
    ).toBe('ValidationException');
  });

  it('BlockPublicPolicy refuses an Allow to "*", and only that', async () => {
    await create('app/db');
    const open = doc({ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:*' });
    expect(
      await refusal(
        aws('PutResourcePolicy', {
          SecretId: 'app/db',
          ResourcePolicy: open,
          BlockPublicPolicy: true,
        }),
      ),
    ).toEqual({
      type: 'PublicPolicyException',
      message:
        'BlockPublicPolicy is set and the resource policy grants public access (Principal "*").',
      field: 'ResourcePolicy',
    });
    expect(storedPolicies()).toEqual([]);
    const denyAll = doc({ Effect: 'Deny', Principal: '*', Action: 'secretsmanager:DeleteSecret' });
    await aws('PutResourcePolicy', {
      SecretId: 'app/db',
      ResourcePolicy: denyAll,
      BlockPublicPolicy: true,
    });
    const named = doc({ Effect: 'Allow', Principal: { AWS: BOB }, Action: 'secretsmanager:*' });
    await aws('PutResourcePolicy', {
      SecretId: 'app/db',
      ResourcePolicy: named,
      BlockPublicPolicy: true,
    });
    await aws('PutResourcePolicy', {
      SecretId: 'app/db',
      ResourcePolicy: open,
      BlockPublicPolicy: false,
    });
    await aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: open });
    expect(storedPolicies()).toHaveLength(1);
    // One public Allow among other statements is enough to block.
    const mixed = doc(
      { Effect: 'Deny', Principal: { AWS: BOB }, Action: 'secretsmanager:*' },
      { Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue' },
    );
    expect(
      (
        await refusal(
          aws('PutResourcePolicy', {
            SecretId: 'app/db',
            ResourcePolicy: mixed,
            BlockPublicPolicy: true,
          }),
        )
      ).type,
    ).toBe('PublicPolicyException');
  });

  it('a secret that does not exist, or is marked for deletion, takes no policy', async () => {
    expect(
      (await refusal(aws('PutResourcePolicy', { SecretId: 'nope', ResourcePolicy: denyGet() })))
        .type,
    ).toBe('ResourceNotFoundException');
    await create('app/db');
    await aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: denyGet({ AWS: BOB }) });
    await aws('DeleteSecret', { SecretId: 'app/db', RecoveryWindowInDays: 7 });
    const marked = {
      type: 'InvalidRequestException',
      message: "You can't perform this operation on the secret because it was marked for deletion.",
      field: undefined,
    };
    expect(
      await refusal(aws('PutResourcePolicy', { SecretId: 'app/db', ResourcePolicy: denyGet() })),
    ).toEqual(marked);
    expect(await refusal(aws('GetResourcePolicy', { SecretId: 'app/db' }))).toEqual(marked);
    expect(await refusal(aws('DeleteResourcePolicy', { SecretId: 'app/db' }))).toEqual(marked);
  });

  it('ValidateResourcePolicy reports syntax errors, and refuses text that is not JSON', async () => {
    expect(await aws('ValidateResourcePolicy', { ResourcePolicy: denyGet() })).toEqual({
      PolicyValidationPassed: true,
      ValidationErrors: [],
    });
    expect(
      await aws('ValidateResourcePolicy', {
        ResourcePolicy: doc({ Effect: 'Deny', Principal: 'bob', Action: '*' }, { Effect: 'Nope' }),
        SecretId: 'app/db',
      }),
    ).toEqual({
      PolicyValidationPassed: false,
      ValidationErrors: [
        {
          CheckName: 'SYNTAX_CHECK',
          ErrorMessage: 'Statement 1: Principal must be "*" or {"AWS": ARN or list of ARNs}.',
        },
        {
          CheckName: 'SYNTAX_CHECK',
          ErrorMessage: 'Statement 2: Effect must be "Allow" or "Deny".',
        },
      ],
    });
    // A document that is JSON but not an object is a failed validation, not a refusal.
    expect(await aws('ValidateResourcePolicy', { ResourcePolicy: '[]' })).toEqual({
      PolicyValidationPassed: false,
      ValidationErrors: [
        { CheckName: 'SYNTAX_CHECK', ErrorMessage: 'The policy document must be a JSON object.' },
      ],
    });
    expect(await refusal(aws('ValidateResourcePolicy', { ResourcePolicy: '{' }))).toEqual({
      type: 'MalformedPolicyDocumentException',
      message: 'The policy document is not valid JSON.',
      field: 'ResourcePolicy',
    });
    for (const SecretId of ['', 'x'.repeat(2049)]) {
      expect(
        (await refusal(aws('ValidateResourcePolicy', { ResourcePolicy: denyGet(), SecretId })))
          .type,
      ).toBe('ValidationException');
    }
  });
});
