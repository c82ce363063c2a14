// ACL templating: which parameters are accepted when a policy is written, and what a pattern
// becomes for a given identity (or that it matches nothing).
import { describe, expect, it } from 'vitest';
import { compileAcl } from './acl.js';
import { parsePolicy } from './parse.js';
import { resolveTemplate, templateError, type TemplateIdentity } from './template.js';

const identity: TemplateIdentity = {
  cacheKey: 'e1@1',
  entity: { id: 'e1', name: 'alice', metadata: { team: 'red', glob: 'x*', empty: '' } },
  aliases: new Map([
    [
      'auth_jwt_1',
      {
        id: 'a1',
        name: 'alice@example.com',
        metadata: { region: 'eu' },
        customMetadata: { cost: 'c42' },
      },
    ],
  ]),
  groups: [
    { id: 'g1', name: 'eng', metadata: { floor: '3' } },
    { id: 'g2', name: 'dot.ted', metadata: {} },
  ],
};

describe('templateError', () => {
  it.each([
    'secret/{{identity.entity.id}}/*',
    'secret/{{ identity.entity.name }}',
    'secret/{{identity.entity.metadata.team}}/{{identity.entity.id}}',
    'secret/{{identity.entity.aliases.auth_jwt_1.name}}',
    'secret/{{identity.entity.aliases.auth_jwt_1.metadata.region}}',
    'secret/{{identity.entity.aliases.auth_jwt_1.custom_metadata.cost}}',
    'secret/{{identity.entity.aliases.auth_jwt_1.id}}',
    'secret/{{identity.groups.ids.g1.name}}',
    'secret/{{identity.groups.ids.g1.metadata.floor}}',
    'secret/{{identity.groups.names.eng.id}}',
    'secret/{{identity.groups.names.eng.metadata.floor}}',
  ])('accepts %s', (pattern) => {
    expect(templateError(pattern)).toBeUndefined();
  });

  it.each([
    ['secret/{{identity.entity.id', /"{{" without "}}"/],
    ['secret/identity.entity.id}}', /"}}" without "{{"/],
    ['secret/{{identity.{{entity}}.id}}', /nested/],
    ['secret/{{identity.entity.nickname}}', /unknown template parameter/],
    ['secret/{{identity.entity.metadata.}}', /unknown template parameter/],
    ['secret/{{identity.entity.aliases.acc}}', /unknown template parameter/],
    ['secret/{{identity.groups.ids.g1}}', /unknown template parameter/],
    ['secret/{{time.now}}', /unknown template parameter/],
  ])('refuses %s', (pattern, why) => {
    expect(templateError(pattern)).toMatch(why);
  });
});

describe('resolveTemplate', () => {
  it.each([
    ['secret/{{identity.entity.id}}/*', 'secret/e1/*'],
    ['secret/{{ identity.entity.name }}', 'secret/alice'],
    ['s/{{identity.entity.metadata.team}}/{{identity.entity.id}}', 's/red/e1'],
    ['s/{{identity.entity.aliases.auth_jwt_1.name}}', 's/alice@example.com'],
    ['s/{{identity.entity.aliases.auth_jwt_1.metadata.region}}', 's/eu'],
    ['s/{{identity.entity.aliases.auth_jwt_1.custom_metadata.cost}}', 's/c42'],
    ['s/{{identity.groups.ids.g1.name}}', 's/eng'],
    ['s/{{identity.groups.names.eng.id}}', 's/g1'],
    ['s/{{identity.groups.names.dot.ted.id}}', 's/g2'],
    ['s/{{identity.groups.names.eng.metadata.floor}}', 's/3'],
  ])('fills %s', (pattern, want) => {
    expect(resolveTemplate(pattern, identity)).toBe(want);
  });

  it.each([
    ['no identity', 'secret/{{identity.entity.id}}', undefined],
    ['unknown alias mount', 's/{{identity.entity.aliases.auth_other.name}}', identity],
    ['missing metadata key', 's/{{identity.entity.metadata.nope}}', identity],
    ['empty value', 's/{{identity.entity.metadata.empty}}', identity],
    ['glob in a value', 's/{{identity.entity.metadata.glob}}', identity],
    ['group not held', 's/{{identity.groups.names.ops.id}}', identity],
    ['group id not held', 's/{{identity.groups.ids.g9.name}}', identity],
  ] as const)('cannot fill it with %s', (_why, pattern, who) => {
    expect(resolveTemplate(pattern, who)).toBeUndefined();
  });
});

describe('templated rules in an ACL', () => {
  it('is written and compiled like any rule once filled', () => {
    const policy = parsePolicy(
      'own',
      'path "secret/data/{{identity.entity.name}}/*" { capabilities = ["read"] }',
    );
    const filled = resolveTemplate(policy.rules[0]!.pattern, identity)!;
    const acl = compileAcl([{ ...policy, rules: [{ ...policy.rules[0]!, pattern: filled }] }]);
    expect(acl.allowOperation({ operation: 'read', path: 'secret/data/alice/x' }).allowed).toBe(
      true,
    );
    expect(acl.allowOperation({ operation: 'read', path: 'secret/data/bob/x' }).allowed).toBe(
      false,
    );
  });
});
