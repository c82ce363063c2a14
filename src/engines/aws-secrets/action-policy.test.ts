// Resource-policy evaluation of the AWS door, in process: what an explicit Deny matches
// (principal, action, NotAction, resource globs) and what a malformed document is refused for.
import { describe, expect, it } from 'vitest';
import { explicitlyDenied, parsePolicy } from './action-policy.js';

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
