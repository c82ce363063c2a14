import { describe, expect, it } from 'vitest';
import { AgentConfigError, parseAgentConfig } from './config.js';

const FULL = `
vault {
  address = "http://127.0.0.1:8200"
}
exit_after_auth = false
auto_auth {
  method "approle" {
    mount_path = "auth/apps"
    config = {
      role_id_file_path = "/run/role-id"
      secret_id_file_path = "/run/secret-id"
      remove_secret_id_file_after_reading = false
    }
  }
  sink "file" {
    config = {
      path = "/run/token"
      mode = 0640
    }
  }
}
template {
  source = "/etc/app.tpl"
  destination = "/etc/app.conf"
  perms = "0640"
  command = "systemctl reload app"
  command_timeout = "5s"
}
template {
  contents = "{{secret \\"secret/data/app\\" \\"password\\"}}"
  destination = "/etc/pw"
  command = ["/bin/true", "x"]
}
env_template "DB_PASSWORD" {
  contents = "{{secret \\"secret/data/app\\" \\"password\\"}}"
}
exec {
  command = ["node", "app.js"]
  restart_on_secret_changes = "never"
  restart_stop_signal = "SIGINT"
}
`;

describe('agent configuration', () => {
  it('reads every block of an HCL file', () => {
    expect(parseAgentConfig(FULL, 'agent.hcl')).toEqual({
      address: 'http://127.0.0.1:8200',
      method: {
        type: 'approle',
        mountPath: 'auth/apps',
        config: {
          role_id_file_path: '/run/role-id',
          secret_id_file_path: '/run/secret-id',
          remove_secret_id_file_after_reading: false,
        },
      },
      sinks: [{ path: '/run/token', mode: 0o640 }],
      templates: [
        {
          source: '/etc/app.tpl',
          destination: '/etc/app.conf',
          perms: 0o640,
          command: 'systemctl reload app',
          commandTimeoutMs: 5_000,
          where: 'agent.hcl:22',
        },
        {
          contents: '{{secret "secret/data/app" "password"}}',
          destination: '/etc/pw',
          perms: 0o600,
          command: ['/bin/true', 'x'],
          commandTimeoutMs: 30_000,
          where: 'agent.hcl:29',
        },
      ],
      envTemplates: [
        {
          name: 'DB_PASSWORD',
          contents: '{{secret "secret/data/app" "password"}}',
          where: 'agent.hcl:34',
        },
      ],
      exec: {
        command: ['node', 'app.js'],
        restartOnSecretChanges: 'never',
        restartStopSignal: 'SIGINT',
      },
      exitAfterAuth: false,
    });
  });

  it('reads the JSON form, in both the labelled and the "type" spelling', () => {
    const labelled = parseAgentConfig(
      JSON.stringify({
        auto_auth: { method: { token_file: { config: { token_file_path: '/t' } } } },
        template: [
          { contents: 'a', destination: '/a' },
          { contents: 'b', destination: '/b', perms: '0644' },
        ],
        exit_after_auth: true,
      }),
      'agent.json',
    );
    expect(labelled.method).toEqual({
      type: 'token_file',
      mountPath: 'auth/token',
      config: { token_file_path: '/t' },
    });
    expect(labelled.templates.map((t) => [t.destination, t.perms])).toEqual([
      ['/a', 0o600],
      ['/b', 0o644],
    ]);
    expect(labelled.exitAfterAuth).toBe(true);
    const typed = parseAgentConfig(
      JSON.stringify({
        auto_auth: { method: [{ type: 'jwt', config: { path: '/j', role: 'r' } }] },
      }),
      'agent.json',
    );
    expect(typed.method).toEqual({
      type: 'jwt',
      mountPath: 'auth/jwt',
      config: { path: '/j', role: 'r' },
    });
  });

  it.each([
    ['template { destination = "/x" }', /auto_auth block is required/],
    ['auto_auth { method "ldap" {} }', /f:1: unknown auth method "ldap"/],
    ['auto_auth { }', /needs a method block/],
    [
      'auto_auth { method "token_file" { config = { a = "b" } } }\nlistener "tcp" {}',
      /f:2: unknown key "listener"/,
    ],
    [
      'auto_auth { method "token_file" {} }\ntemplate { destination = "/x" }',
      /exactly one of source and contents/,
    ],
    ['auto_auth { method "token_file" {} }\ntemplate { contents = "x" }', /needs a destination/],
    [
      'auto_auth { method "token_file" {} }\ntemplate {\n contents = "x"\n destination = "/x"\n perms = "rw" }',
      /octal mode/,
    ],
    [
      'auto_auth { method "token_file" {} }\ntemplate {\n contents = "x"\n destination = "/x" }\ntemplate {\n contents = "y"\n destination = "/x" }',
      /same destination/,
    ],
    [
      'auto_auth { method "token_file" {} }\nenv_template "X" { contents = "x" }',
      /need an exec block/,
    ],
    ['auto_auth { method "token_file" {} }\nexec { command = "node app.js" }', /list of strings/],
    [
      'auto_auth { method "token_file" {} }\nexec {\n command = ["a"]\n restart_stop_signal = "SIGNOPE" }',
      /not a known signal/,
    ],
    ['auto_auth {', /^f:/],
  ])('refuses %j', (text, message) => {
    expect(() => parseAgentConfig(text, 'f')).toThrow(AgentConfigError);
    expect(() => parseAgentConfig(text, 'f')).toThrow(message);
  });
});

describe('agent configuration: TLS in the vault block', () => {
  it("reads Vault Agent's TLS settings", () => {
    const config = parseAgentConfig(
      [
        'vault {',
        '  address = "https://127.0.0.1:8200"',
        '  ca_cert = "/etc/coffer/ca.pem"',
        '  ca_path = "/etc/coffer/cas"',
        '  client_cert = "/etc/coffer/client.pem"',
        '  client_key = "/etc/coffer/client-key.pem"',
        '  tls_server_name = "coffer.internal"',
        '  tls_skip_verify = false',
        '}',
        'auto_auth {',
        '  method "token_file" {',
        '    config = { token_file_path = "/t" }',
        '  }',
        '}',
      ].join('\n'),
      'agent.hcl',
    );
    expect(config.tls).toEqual({
      caCert: '/etc/coffer/ca.pem',
      caPath: '/etc/coffer/cas',
      clientCert: '/etc/coffer/client.pem',
      clientKey: '/etc/coffer/client-key.pem',
      serverName: 'coffer.internal',
      skipVerify: false,
    });
  });
});
