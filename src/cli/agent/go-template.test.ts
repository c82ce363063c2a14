// The Go-syntax agent templates, each expectation written from Go's text/template and
// consul-template's documented behaviour.
import { describe, expect, it } from 'vitest';
import { targetId, type SecretRead } from '../../client/index.js';
import { compileGoTemplate } from './go-template.js';
import { templateSyntax } from './template.js';

const KV2 = {
  data: { username: 'app', password: 'p<&>w', port: 5432, tags: ['a', 'b'] },
  metadata: { version: 3, destroyed: false },
};
const reads = new Map<string, SecretRead>([
  [
    targetId({ kind: 'api', path: 'secret/data/app' }),
    {
      target: { kind: 'api', path: 'secret/data/app' },
      apiPath: 'secret/data/app',
      data: KV2.data,
      responseData: KV2,
      watchPaths: [],
    },
  ],
  [
    targetId({ kind: 'api', path: 'database/creds/ro' }),
    {
      target: { kind: 'api', path: 'database/creds/ro' },
      apiPath: 'database/creds/ro',
      data: { username: 'v-ro-1', password: 'x' },
      responseData: { username: 'v-ro-1', password: 'x' },
      lease: { leaseId: 'database/creds/ro/abc', leaseDurationSeconds: 3600, renewable: true },
      watchPaths: [],
    },
  ],
]);

function render(text: string, env: Record<string, string> = {}, errorOnMissingKey = false) {
  return compileGoTemplate(text, 'app.ctmpl', { env, errorOnMissingKey }).render(reads);
}

describe('Go-syntax agent templates', () => {
  it('reads .Data.data of a KV v2 secret inside with', () => {
    expect(render('{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}')).toBe(
      'p<&>w',
    );
    expect(render('{{ (secret "secret/data/app").Data.metadata.version }}')).toBe('3');
  });

  it('collects every secret path before rendering', () => {
    const t = compileGoTemplate(
      '{{ with secret "secret/data/app" }}{{ end }}{{ with secret "/database/creds/ro/" }}{{ end }}{{ secret "secret/data/app" }}',
      'x',
      { env: {} },
    );
    expect(t.targets).toEqual([
      { kind: 'api', path: 'secret/data/app' },
      { kind: 'api', path: 'database/creds/ro' },
    ]);
  });

  it('gives lease fields for dynamic secrets', () => {
    expect(
      render(
        '{{ with secret "database/creds/ro" }}{{ .Data.username }} {{ .LeaseDuration }} {{ .Renewable }}{{ end }}',
      ),
    ).toBe('v-ro-1 3600 true');
  });

  it('trims whitespace with - markers', () => {
    expect(render('a  \n {{- "b" -}} \n  c')).toBe('abc');
    expect(render('a {{ "b" }} c')).toBe('a b c');
    expect(render('x{{/* a comment */}}y')).toBe('xy');
    expect(render('x {{- /* a comment */ -}} y')).toBe('xy');
  });

  it('ranges over maps in sorted key order and over lists, with else', () => {
    expect(
      render(
        '{{ with secret "secret/data/app" }}{{ range $k, $v := .Data.data }}{{ $k }};{{ end }}{{ end }}',
      ),
    ).toBe('password;port;tags;username;');
    expect(
      render(
        '{{ with secret "secret/data/app" }}{{ range .Data.data.tags }}[{{ . }}]{{ end }}{{ end }}',
      ),
    ).toBe('[a][b]');
    expect(
      render(
        '{{ with secret "secret/data/app" }}{{ range $i, $t := .Data.data.tags }}{{ $i }}={{ $t }} {{ end }}{{ end }}',
      ),
    ).toBe('0=a 1=b ');
    expect(
      render(
        '{{ with secret "secret/data/app" }}{{ range .Data.nope }}x{{ else }}none{{ end }}{{ end }}',
      ),
    ).toBe('none');
  });

  it('if / else if / else and comparison functions', () => {
    const t =
      '{{ if eq (env "APP_ENV") "prod" }}P{{ else if eq (env "APP_ENV") "dev" }}D{{ else }}O{{ end }}';
    expect(render(t, { APP_ENV: 'prod' })).toBe('P');
    expect(render(t, { APP_ENV: 'dev' })).toBe('D');
    expect(render(t, {})).toBe('O');
    expect(render('{{ if and (gt 3 2) (not false) (ne "a" "b") }}yes{{ end }}')).toBe('yes');
    expect(render('{{ with "" }}x{{ else }}empty{{ end }}')).toBe('empty');
  });

  it('toJSON and toJSONPretty marshal as Go does (sorted keys, HTML escapes)', () => {
    expect(render('{{ with secret "secret/data/app" }}{{ .Data.data | toJSON }}{{ end }}')).toBe(
      '{"password":"p\\u003c\\u0026\\u003ew","port":5432,"tags":["a","b"],"username":"app"}',
    );
    expect(
      render('{{ with secret "secret/data/app" }}{{ .Data.metadata | toJSONPretty }}{{ end }}'),
    ).toBe('{\n  "destroyed": false,\n  "version": 3\n}');
  });

  it('base64, printf, index, variables, pipelines', () => {
    expect(render('{{ "aGVsbG8=" | base64Decode }} {{ "hi" | base64Encode }}')).toBe('hello aGk=');
    expect(render('{{ printf "%s:%d" "db" 5432 }} {{ printf "%q %v %%" "a" true }}')).toBe(
      'db:5432 "a" true %',
    );
    expect(
      render(
        '{{ $s := secret "secret/data/app" }}{{ index $s.Data.data "username" }} {{ index $s.Data.data.tags 1 }}',
      ),
    ).toBe('app b');
    expect(render('{{ $x := "a" }}{{ $x = "b" }}{{ $x }}')).toBe('b');
    expect(render('{{ "A" | toLower | printf "<%s>" }}')).toBe('<a>');
  });

  it('prints a missing key as <no value>, or refuses with error_on_missing_key', () => {
    expect(render('{{ with secret "secret/data/app" }}{{ .Data.data.nope }}{{ end }}')).toBe(
      '<no value>',
    );
    expect(() =>
      render('{{ with secret "secret/data/app" }}\n  {{ .Data.data.nope }}{{ end }}', {}, true),
    ).toThrow('app.ctmpl:2:6: map has no entry for key "nope"');
  });

  it('names the template, line and column of parse errors', () => {
    expect(() => render('line one\n{{ with secret "a" }}\n{{ .X }')).toThrow(
      /^app\.ctmpl:3:1: unclosed action/,
    );
    expect(() => render('ok\n  {{ nosuch "x" }}')).toThrow(
      'app.ctmpl:2:6: function "nosuch" not defined',
    );
    expect(() => render('{{ if true }}x')).toThrow(/app\.ctmpl:1:15: missing \{\{end\}\}/);
    expect(() => render('{{ end }}')).toThrow('app.ctmpl:1:3: unexpected {{end}}');
    expect(() => render('{{ secret "secret/data/app" "k=v" }}')).toThrow(
      /app\.ctmpl:1:4: secret takes one quoted path/,
    );
    expect(() => render('{{ secret (env "P") }}')).toThrow(/secret takes one quoted path/);
    expect(() => render('{{ "%%%" | base64Decode }}')).toThrow(
      'app.ctmpl:1:12: error calling base64Decode: illegal base64 data',
    );
  });
});

describe('templateSyntax', () => {
  it('keeps Handlebars templates Handlebars and detects Go ones', () => {
    expect(templateSyntax('{{secret "secret/data/app" "password"}}', 'w')).toBe('handlebars');
    expect(templateSyntax('{{#with (secret "x")}}{{user}}{{/with}}', 'w')).toBe('handlebars');
    expect(templateSyntax('{{ with secret "x" }}{{ .Data.data.a }}{{ end }}', 'w')).toBe('go');
    expect(templateSyntax('{{- range $k, $v := x }}', 'w')).toBe('go');
    expect(templateSyntax('plain text', 'w')).toBe('handlebars');
    expect(templateSyntax('{{ .A }}', 'w', 'handlebars')).toBe('handlebars');
    expect(() => templateSyntax('{{#if a}}{{ .B }}{{/if}}', 'agent.hcl:3')).toThrow(
      'agent.hcl:3: the template mixes Go and Handlebars syntax; set syntax = "go" or "handlebars"',
    );
  });
});
