// The `coffer` CLI entry: routes argv to a command and returns its exit code. This is the only
// CLI file that touches the real process (argv, env, stdio) and only when run as the main module
// or through processIo(); `coffer server` is routed elsewhere by bin/coffer.js.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineGroup, groupHelp } from './command.js';
import type { CliIo, Command, CommandGroup } from './command.js';
import { agentCommand } from './commands-agent.js';
import { auditGroup } from './commands-audit.js';
import { completionCommand } from './commands-completion.js';
import { awsGroup } from './commands-aws.js';
import { authGroup } from './commands-auth.js';
import { envCommand } from './commands-env.js';
import { genericCommands } from './commands-generic.js';
import { kvGroup } from './commands-kv.js';
import { leaseGroup } from './commands-lease.js';
import { loginCommand } from './commands-login.js';
import { operatorGroup, statusCommand } from './commands-operator.js';
import { policyGroup } from './commands-policy.js';
import { runCommand } from './commands-run.js';
import { secretsGroup } from './commands-secrets.js';
import { tokenGroup } from './commands-token.js';
import { unwrapCommand } from './commands-unwrap.js';
import { k8sGroup } from '../k8s/commands.js';

export type { CliIo } from './command.js';

const ROOT: CommandGroup = defineGroup('Coffer: a self-hosted secrets manager (Vault API)', {
  status: statusCommand,
  operator: operatorGroup,
  kv: kvGroup,
  secrets: secretsGroup,
  login: loginCommand,
  token: tokenGroup,
  policy: policyGroup,
  audit: auditGroup,
  auth: authGroup,
  lease: leaseGroup,
  unwrap: unwrapCommand,
  run: runCommand,
  env: envCommand,
  agent: agentCommand,
  k8s: k8sGroup,
  aws: awsGroup,
  // `server` is handled by bin/coffer.js before the CLI; completion still offers it.
  completion: completionCommand(() => ROOT, ['server']),
  ...genericCommands,
});

const HELP_WORDS = new Set(['help', '-h', '-help', '--help']);
const VERSION_WORDS = new Set(['-v', '-version', '--version']);

function rootHelp(): string {
  return [
    'Usage: coffer <command> [options] [args]',
    '',
    'Common commands:',
    '    status     Print the seal status of the server',
    '    login      Log in (token, userpass, AppRole, JWT, OIDC, Kubernetes) and store the token',
    '    kv         Read and write secrets in KV mounts',
    '    read       Read data at any API path',
    '    write      Write data to any API path',
    '    list       List the keys under any API path',
    '    delete     Delete data at any API path',
    '',
    'Other commands:',
    '    agent      Log in, render secrets into files, supervise a program',
    '    audit      Enable, disable and list audit devices; verify an audit log offline',
    '    auth       Enable, disable, list and tune auth methods',
    '    aws        Issue and revoke access keys for the AWS Secrets Manager door',
    '    env        Print secrets as dotenv, shell, JSON or YAML variables',
    '    k8s        Kubernetes: the CofferSecret operator, the injector webhook',
    '    lease      Look up, renew and revoke leases',
    '    operator   Initialize, unseal, seal and rotate the server',
    '    policy     Write, read, list, delete, format and explain ACL policies',
    '    print      Print the token the CLI would use ("print token")',
    '    run        Run a program with secrets as environment variables',
    '    secrets    Enable, disable, list and tune secrets engines',
    '    server     Start a Coffer server',
    '    token      Create, look up, renew and revoke tokens',
    '    unwrap     Return a wrapped response',
    '    version    Print the CLI version',
    '    completion Print a bash or zsh completion script',
    '',
    'Flags for every command: -address, -token, -format=table|json|yaml, -wrap-ttl',
    '(see "coffer <command> -h").',
  ].join('\n');
}

/** Follows command words through the tree; stops at a command, a flag or an unknown word. */
function resolve(argv: readonly string[]): {
  node: Command | CommandGroup;
  words: string[];
  rest: string[];
} {
  let node: Command | CommandGroup = ROOT;
  const words: string[] = [];
  let i = 0;
  while (node.kind === 'group' && i < argv.length) {
    const word = argv[i]!;
    const child: Command | CommandGroup | undefined = Object.hasOwn(node.children, word)
      ? node.children[word]
      : undefined;
    if (child === undefined) break;
    node = child;
    words.push(word);
    i++;
  }
  return { node, words, rest: argv.slice(i) };
}

/**
 * Runs the CLI with `argv` (without "node" and the script) and returns the exit code:
 * 0 success, 1 API or connection error, 2 usage error, sealed (`status`) or no value found.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const first = argv[0];
  if (first === undefined) {
    io.stderr(`${rootHelp()}\n`);
    return 2;
  }
  if (VERSION_WORDS.has(first)) return runCli(['version', ...argv.slice(1)], io);
  if (HELP_WORDS.has(first)) {
    const target = resolve(argv.slice(1));
    if (target.words.length === 0) io.stdout(`${rootHelp()}\n`);
    else if (target.node.kind === 'group')
      io.stdout(`${groupHelp(target.words.join(' '), target.node)}\n`);
    else io.stdout(`${target.node.help(target.words.join(' '))}\n`);
    return 0;
  }
  const { node, words, rest } = resolve(argv);
  if (node.kind === 'command') return node.execute(io, words.join(' '), rest);
  const name = words.join(' ');
  const next = rest[0];
  if (next !== undefined && HELP_WORDS.has(next)) {
    io.stdout(`${name === '' ? rootHelp() : groupHelp(name, node)}\n`);
    return 0;
  }
  const help = name === '' ? rootHelp() : groupHelp(name, node);
  // The unknown word is echoed only when it cannot be a flag value (it may be a secret).
  const shown = next === undefined || next.startsWith('-') ? '' : ` "${next}"`;
  io.stderr(
    next === undefined
      ? `${help}\n`
      : `Error: unknown command${shown} for "coffer${name === '' ? '' : ` ${name}`}"\n\n${help}\n`,
  );
  return 2;
}

/** Node types `isTTY` as boolean, but it is undefined on pipes and files. */
function isTty(stream: { readonly isTTY?: boolean }): boolean {
  return stream.isTTY === true;
}

/** Standard input: all of it when piped, one hidden line on a terminal. */
async function readProcessStdin(): Promise<string> {
  const stdin = process.stdin;
  if (!isTty(stdin)) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    }
    return Buffer.concat(chunks).toString('utf8');
  }
  return new Promise<string>((resolvePromise, reject) => {
    let text = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error === undefined) resolvePromise(text);
      else reject(error);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          return;
        }
        if (ch === '\u0003') {
          finish(new Error('interrupted'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** The real process as CliIo; bin/coffer.js may call `runCli(argv, processIo())`. */
export function processIo(): CliIo {
  return {
    env: process.env,
    stdout: (s) => {
      process.stdout.write(s);
    },
    stderr: (s) => {
      process.stderr.write(s);
    },
    stdin: readProcessStdin,
    stdoutIsTty: isTty(process.stdout),
    stdinIsTty: isTty(process.stdin),
  };
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  process.exitCode = await runCli(process.argv.slice(2), processIo());
}
