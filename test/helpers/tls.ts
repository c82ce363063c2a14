// A private CA made for one test file with the openssl CLI: a CA certificate, a server
// certificate for 127.0.0.1 and "coffer.test" signed by it, and a client certificate.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

/** Writes `<prefix>-*.pem` files into `dir` (a CA named `prefix`) and returns their paths. */
export function createTestPki(dir: string, prefix = 'ca'): TestPki {
  const p = (name: string) => join(dir, `${prefix}-${name}.pem`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      p('ca-key'),
      '-out',
      p('ca'),
      '-days',
      '2',
      '-subj',
      `/CN=Coffer test CA ${prefix}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const leaf = (name: string, subject: string, ext: string) => {
    openssl(
      ['req', ...ec, '-keyout', p(`${name}-key`), '-out', p(`${name}-csr`), '-subj', subject],
      dir,
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        p(`${name}-csr`),
        '-CA',
        p('ca'),
        '-CAkey',
        p('ca-key'),
        '-CAcreateserial',
        '-out',
        p(name),
        '-days',
        '2',
        '-extfile',
        ext,
      ],
      dir,
    );
  };
  const serverExt = join(dir, `${prefix}-server.ext`);
  const clientExt = join(dir, `${prefix}-client.ext`);
  writeFileSync(
    serverExt,
    'subjectAltName=IP:127.0.0.1,DNS:coffer.test\nextendedKeyUsage=serverAuth\n',
  );
  writeFileSync(clientExt, 'extendedKeyUsage=clientAuth\n');
  leaf('server', '/CN=coffer.test', serverExt);
  leaf('client', '/CN=coffer-test-client', clientExt);
  return {
    caCert: p('ca'),
    serverCert: p('server'),
    serverKey: p('server-key'),
    clientCert: p('client'),
    clientKey: p('client-key'),
  };
}

/** A server configuration: in-memory storage, TLS on 127.0.0.1 with an OS-chosen port. */
export function tlsConfig(pki: TestPki): string {
  return [
    'storage "inmem" {}',
    'listener "tcp" {',
    '  address = "127.0.0.1:0"',
    `  tls_cert_file = ${JSON.stringify(pki.serverCert)}`,
    `  tls_key_file = ${JSON.stringify(pki.serverKey)}`,
    '}',
    '',
  ].join('\n');
}
