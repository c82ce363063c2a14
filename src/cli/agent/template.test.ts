import { describe, expect, it } from 'vitest';
import { targetId } from '../../client/index.js';
import type { ReadTarget, SecretRead } from '../../client/index.js';
import { compileTemplate, TemplateError } from './template.js';

function reads(entries: [ReadTarget, Record<string, unknown>][]): Map<string, SecretRead> {
  return new Map(
    entries.map(([target, data]) => [
      targetId(target),
      { target, apiPath: target.path, data, watchPaths: [target.path] },
    ]),
  );
}

const APP: ReadTarget = { kind: 'api', path: 'secret/data/app' };
const DATA = { password: 'p&ss<"w>\'rd', user: 'admin', port: 5432, tags: ['a', 'b'] };

describe('agent templates', () => {
  it('finds every secret call first, each distinct target once', () => {
    const t = compileTemplate(
      [
        '{{secret "secret/data/app" "password"}}',
        '{{secret "/secret/data/app/" "user"}}',
        '{{#with (secret "secret/data/app")}}{{user}}{{/with}}',
        '{{secret "coffer://secret/other?version=2#key"}}',
        '{{#if true}}{{secret "database/creds/app" "username"}}{{/if}}',
      ].join('\n'),
      't:1',
    );
    expect(t.targets).toEqual([
      APP,
      { kind: 'kv', path: 'secret/other', version: 2 },
      { kind: 'api', path: 'database/creds/app' },
    ]);
  });

  it('renders keys, references and whole maps without HTML escaping', () => {
    const t = compileTemplate(
      [
        'password={{secret "secret/data/app" "password"}}',
        'ref={{secret "coffer://secret/other#key"}}',
        '{{#with (secret "secret/data/app")}}dsn={{user}}:{{password}}@db:{{port}}{{/with}}',
        'tags={{secret "secret/data/app" "tags"}}',
      ].join('\n'),
      't:1',
    );
    const text = t.render(
      reads([
        [APP, DATA],
        [{ kind: 'kv', path: 'secret/other' }, { key: 'k-1' }],
      ]),
    );
    expect(text).toBe(
      [
        `password=${DATA.password}`,
        'ref=k-1',
        `dsn=admin:${DATA.password}@db:5432`,
        'tags=["a","b"]',
      ].join('\n'),
    );
  });

  it('fails on a missing key or field, naming it and never a value', () => {
    const t = compileTemplate('{{secret "secret/data/app" "pasword"}}', 't:3');
    expect(() => t.render(reads([[APP, DATA]]))).toThrow(
      new TemplateError('t:3: no key "pasword" in the secret at secret/data/app'),
    );
    const strict = compileTemplate('{{#with (secret "secret/data/app")}}{{usr}}{{/with}}', 't:4');
    expect(() => strict.render(reads([[APP, DATA]]))).toThrow(TemplateError);
    try {
      strict.render(reads([[APP, DATA]]));
    } catch (error) {
      expect((error as Error).message).toMatch(/^t:4: /);
      expect((error as Error).message).not.toContain(DATA.password);
    }
  });

  it.each([
    ['{{secret path "k"}}', /arguments of secret must be quoted strings/],
    ['{{secret (concat "a" "b") "k"}}', /arguments of secret must be quoted strings/],
    ['{{secret}}', /secret takes a path/],
    ['{{secret "a" "b" "c"}}', /secret takes a path/],
    ['{{secret "coffer://s/p#k" "x"}}', /already names its key/],
    ['{{secret "s/p" key="x"}}', /no name=value arguments/],
    ['{{> header}}', /partials are not supported/],
    ['{{env "HOME"}}', /t:1: .*unknown helper env/],
    ['{{#if}}', /^t:1: /],
  ])('refuses %j when it is loaded', (text, message) => {
    expect(() => compileTemplate(text, 't:1')).toThrow(TemplateError);
    expect(() => compileTemplate(text, 't:1')).toThrow(message);
  });

  it('keeps only the first line of a parse error (no template text around it)', () => {
    try {
      compileTemplate('line one\n{{#each}}\n{{/if}}', 't:9');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});
