// Username templates: Vault's default templates give Vault's documented example names, the
// template functions, and the errors a bad template gets when written.
import { describe, expect, it } from 'vitest';
import {
  compileUsernameTemplate,
  DEFAULT_TEMPLATES,
  type TemplateEnv,
} from './username-template.js';

/** Vault's docs render their examples at unix time 1614294836 with these random strings. */
function env(random: string): TemplateEnv {
  return { now: () => 1_614_294_836_000, random: (n) => random.slice(0, n) };
}

const render = (template: string, display: string, role: string, random = 'jNFRlKsZZMxJEx60o66i') =>
  compileUsernameTemplate(template, env(random)).render({ DisplayName: display, RoleName: role });

describe('default username templates', () => {
  it('PostgreSQL: v-<display 8>-<role 8>-<random 20>-<unix>, at most 63 characters', () => {
    expect(render(DEFAULT_TEMPLATES.postgres, 'token', 'myrolename')).toBe(
      'v-token-myrolena-jNFRlKsZZMxJEx60o66i-1614294836',
    );
    expect(
      render(
        DEFAULT_TEMPLATES.postgres,
        'amuchlonger_dispname',
        'role-name-with-dashes',
        'LUHU9xqm6YNisikA3iCQ',
      ),
    ).toBe('v-amuchlon-role-nam-LUHU9xqm6YNisikA3iCQ-1614294836');
  });

  it('MySQL: cut to 32 characters; the legacy plugins: v-<role 4>-<random>, cut to 16', () => {
    expect(render(DEFAULT_TEMPLATES.mysql, 'token', 'myrolename')).toBe(
      'v-token-myrolename-jNFRlKsZZMxJE',
    );
    expect(
      render(
        DEFAULT_TEMPLATES.mysql,
        'amuchlonger_dispname',
        'role-name-with-dashes',
        'LUHU9xqm6YNisikA3iCQ',
      ),
    ).toBe('v-amuchlonge-role-name--LUHU9xqm');
    expect(render(DEFAULT_TEMPLATES.mysqlLegacy, 'token', 'myrolename')).toBe('v-myro-jNFRlKsZZ');
  });

  it('Redis: uppercased, not cut', () => {
    expect(render(DEFAULT_TEMPLATES.redis, 'token', 'myrolename')).toBe(
      'V-TOKEN-MYROLENAME-JNFRLKSZZMXJEX60O66I-1614294836',
    );
  });
});

describe('template functions', () => {
  it('supports pipelines, parentheses, literals and Vault functions', () => {
    expect(render('{{ .RoleName | replace "-" "_" | lowercase }}', 'd', 'My-Role')).toBe('my_role');
    expect(render('app-{{ truncate 3 .DisplayName }}-{{unix_time_millis}}', 'abcdef', 'r')).toBe(
      'app-abc-1614294836000',
    );
    expect(render('{{ printf "%s.%s" .RoleName (random 4) | uppercase }}', 'd', 'r')).toBe(
      'R.JNFR',
    );
    expect(render('{{ sha256 "a" | truncate 8 }}', 'd', 'r')).toBe('ca978112');
    expect(render('{{ base64 .RoleName }}', 'd', 'role')).toBe('cm9sZQ==');
    expect(render('{{ timestamp "2006-01-02T15:04:05Z07:00" }}', 'd', 'r')).toBe(
      '2021-02-25T23:13:56Z',
    );
    expect(render('{{ truncate_sha256 12 .RoleName }}', 'd', 'a-very-long-role-name')).toHaveLength(
      12,
    );
    expect(render('  {{- .RoleName -}}  x', 'd', 'r')).toBe('rx');
    expect(render('{{ uuid }}', 'd', 'r')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses bad templates when compiled, naming username_template', () => {
    for (const bad of [
      '{{ .Nope }}',
      '{{ nosuch .RoleName }}',
      '{{ .RoleName',
      '{{ truncate "x" .RoleName }}',
      '{{ random 0 }}',
      '{{ "" }}',
      '{{ ( .RoleName }}',
      '{{ .RoleName .DisplayName }}',
    ]) {
      expect(() => compileUsernameTemplate(bad, env('abc')), bad).toThrow(
        expect.objectContaining({ code: 'invalid_request', field: 'username_template' }),
      );
    }
  });
});
