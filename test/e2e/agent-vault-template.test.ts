// An existing Vault Agent setup under `coffer agent`: an agent.hcl as Vault Agent takes it
// (vault, auto_auth with AppRole and a file sink, template { source, destination }) and
// consul-template / Go-syntax templates render to exactly what Vault Agent writes. The
// expected files are written from Go's text/template and consul-template's documented
// semantics (trim markers, sorted map iteration, %q, toJSONPretty). A Handlebars template
// in the same file keeps working, and a template error names its file, line and column.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTempDir,
  killAllServers,
  runCoffer,
  startServer,
  type ServerProcess,
  type TempDir,
} from '../helpers/server-process.js';
import { mountKv, vaultOk } from './vault-http.js';

const ROOT = `root-${randomBytes(8).toString('hex')}`;
const PASSWORD = `s3cr3t-${randomBytes(6).toString('hex')}`;
const CERT = '-----BEGIN CERTIFICATE-----';
const CERT_B64 = Buffer.from(CERT).toString('base64');

let server: ServerProcess;
let tmp: TempDir;
let roleId: string;

const APP_TEMPLATE = `{{- /* app.ctmpl, as written for Vault Agent */ -}}
{{ with secret "secret/data/app" -}}
DB_USER={{ .Data.data.username }}
DB_PASSWORD="{{ .Data.data.password }}"
SECRET_VERSION={{ .Data.metadata.version }}
{{- end }}
{{ with secret "kv1/config" }}REGION={{ .Data.region | toUpper }}{{ end }}
{{ range $key, $value := (secret "secret/data/app").Data.data -}}
export {{ $key }}={{ $value | printf "%q" }}
{{ end -}}
TLS_CERT={{ with secret "secret/data/app" }}{{ .Data.data.cert_b64 | base64Decode }}{{ end }}
MODE={{ if eq (env "APP_ENV") "production" }}prod{{ else }}dev{{ end }}
`;

const APP_EXPECTED = `DB_USER=app
DB_PASSWORD="${PASSWORD}"
SECRET_VERSION=2
REGION=EU-WEST-1
export cert_b64="${CERT_B64}"
export password="${PASSWORD}"
export username="app"
TLS_CERT=${CERT}
MODE=prod
`;

const JSON_TEMPLATE =
  '{{ with secret "secret/data/app" }}{{ .Data.data | toJSONPretty }}{{ end }}\n';
const JSON_EXPECTED = `{
  "cert_b64": "${CERT_B64}",
  "password": "${PASSWORD}",
  "username": "app"
}
`;

function agentHcl(templates: string): string {
  const file = tmp.file(`agent-${randomBytes(4).toString('hex')}.hcl`);
  const secretIdFile = tmp.file('secret-id');
  writeFileSync(tmp.file('role-id'), roleId);
  writeFileSync(secretIdFile, secretId);
  writeFileSync(
    file,
    `vault {
  address = "${server.url}"
}

auto_auth {
  method "approle" {
    mount_path = "auth/approle"
    config = {
      role_id_file_path                   = "${tmp.file('role-id')}"
      secret_id_file_path                 = "${secretIdFile}"
      remove_secret_id_file_after_reading = false
    }
  }

  sink "file" {
    config = {
      path = "${tmp.file('sink-token')}"
    }
  }
}
${templates}`,
  );
  return file;
}

let secretId: string;

beforeAll(async () => {
  tmp = createTempDir('coffer-agent-vault-');
  server = await startServer({ dev: { rootTokenId: ROOT } });
  const url = server.url;
  const data = { username: 'app', password: 'old', cert_b64: CERT_B64 };
  await vaultOk(url, 'POST', 'secret/data/app', { token: ROOT, body: { data } });
  await vaultOk(url, 'POST', 'secret/data/app', {
    token: ROOT,
    body: { data: { ...data, password: PASSWORD } },
  });
  await mountKv(url, ROOT, 'kv1', '1');
  await vaultOk(url, 'POST', 'kv1/config', { token: ROOT, body: { region: 'eu-west-1' } });
  await vaultOk(url, 'PUT', 'sys/policies/acl/app', {
    token: ROOT,
    body: {
      policy:
        'path "secret/data/app" { capabilities = ["read"] }\npath "kv1/config" { capabilities = ["read"] }',
    },
  });
  await vaultOk(url, 'POST', 'sys/auth/approle', { token: ROOT, body: { type: 'approle' } });
  await vaultOk(url, 'POST', 'auth/approle/role/app', {
    token: ROOT,
    body: { token_policies: 'app' },
  });
  const role = await vaultOk(url, 'GET', 'auth/approle/role/app/role-id', { token: ROOT });
  roleId = (role.body as { data: { role_id: string } }).data.role_id;
  const secret = await vaultOk(url, 'POST', 'auth/approle/role/app/secret-id', { token: ROOT });
  secretId = (secret.body as { data: { secret_id: string } }).data.secret_id;
}, 60_000);

afterAll(async () => {
  await killAllServers();
  tmp.remove();
});

describe('a Vault Agent agent.hcl under coffer agent', () => {
  it('renders consul-template templates as Vault Agent does, beside a Handlebars one', async () => {
    writeFileSync(tmp.file('app.ctmpl'), APP_TEMPLATE);
    writeFileSync(tmp.file('app.json.ctmpl'), JSON_TEMPLATE);
    writeFileSync(tmp.file('user.hbs'), 'user={{secret "secret/data/app" "username"}}\n');
    const file = agentHcl(`
template {
  source      = "${tmp.file('app.ctmpl')}"
  destination = "${tmp.file('app.env')}"
}

template {
  source               = "${tmp.file('app.json.ctmpl')}"
  destination          = "${tmp.file('app.json')}"
  error_on_missing_key = true
}

template {
  source      = "${tmp.file('user.hbs')}"
  destination = "${tmp.file('user.txt')}"
}
`);
    const result = await runCoffer(['agent', `-config=${file}`, '-exit-after-auth'], {
      env: { HOME: tmp.path, APP_ENV: 'production' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(tmp.file('app.env'), 'utf8')).toBe(APP_EXPECTED);
    expect(readFileSync(tmp.file('app.json'), 'utf8')).toBe(JSON_EXPECTED);
    expect(readFileSync(tmp.file('user.txt'), 'utf8')).toBe('user=app\n');
    expect(result.stderr).not.toContain(PASSWORD);
  });

  it('names the template file, line and column of an error, in one line', async () => {
    const bad = tmp.file('bad.ctmpl');
    writeFileSync(
      bad,
      'ok\n{{ with secret "secret/data/app" }}\n  {{ .Data.data.username | nosuch }}\n{{ end }}\n',
    );
    const file = agentHcl(`
template {
  source      = "${bad}"
  destination = "${tmp.file('bad.out')}"
}
`);
    const result = await runCoffer(['agent', `-config=${file}`, '-exit-after-auth'], {
      env: { HOME: tmp.path },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${bad}:3:28: function "nosuch" not defined`);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
