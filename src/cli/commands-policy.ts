// `coffer policy write|read|list|delete|fmt|explain`: ACL policies through sys/policies/acl, a
// local formatter, and the explainer that shows which rule of which policy decides a path.
import {
  chmodSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { POLICY_OPERATIONS } from '../client/index.js';
import type { PolicyExplanation, PolicyOperation } from '../client/index.js';
import { UsageError } from './args.js';
import { defineCommand, defineGroup } from './command.js';
import type { RunContext } from './command.js';
import { formatColumns, formatKeyValueTable, formatQuotedList } from './format.js';
import { checkPolicyText, formatPolicy, PolicyTextError } from './policy-format.js';

function policyName(raw: string): string {
  const name = raw.trim();
  if (name === '') throw new UsageError('NAME must not be empty');
  if (name.includes('/')) throw new UsageError('NAME must not contain "/"');
  return name;
}

function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}

/** Reads a policy file; errors name the file and the errno, never content. */
function readPolicyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read policy file ${file} (${errnoOf(error)})`);
  }
}

/** Prints "Error: <source>: <line:col: message>" and returns exit code 1. */
function reportPolicyError(ctx: RunContext, source: string, error: unknown): number {
  if (!(error instanceof PolicyTextError)) throw error;
  ctx.err(`Error: ${source}: ${error.message}`);
  return 1;
}

const write = defineCommand({
  summary: 'Upload a policy from a file (or standard input with "-")',
  usage: '[options] NAME FILE|-',
  description:
    '  The file holds HCL or its JSON form. It is checked locally first, so a syntax error\n' +
    '  is reported with its line and column without a round trip. Names are lower-cased by\n' +
    '  the server; "root" cannot be changed.',
  flags: {},
  args: { min: 2, max: 2 },
  async run(ctx, _flags, args) {
    const name = policyName(args[0]!);
    const file = args[1]!;
    const text = file === '-' ? await ctx.readStdin('policy') : readPolicyFile(file);
    const source = file === '-' ? 'standard input' : file;
    try {
      checkPolicyText(text);
    } catch (error) {
      return reportPolicyError(ctx, source, error);
    }
    const response = await ctx.client().writePolicy(name, text);
    ctx.warn(response);
    ctx.out(`Success! Uploaded policy: ${name}`);
    return 0;
  },
});

const read = defineCommand({
  summary: 'Print the text of a policy',
  usage: '[options] NAME',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const name = policyName(args[0]!);
    const found = await ctx.client().readPolicy(name);
    if (found === undefined) {
      ctx.err(`Error: no policy named: ${name}`);
      return 2;
    }
    if (ctx.format === 'json') ctx.json({ name: found.name, policy: found.policy });
    else ctx.out(found.policy.trim());
    return 0;
  },
});

const list = defineCommand({
  summary: 'List the policy names, one per line',
  usage: '[options]',
  flags: {},
  args: { min: 0, max: 0 },
  async run(ctx) {
    const names = await ctx.client().listPolicies();
    if (ctx.format === 'json') ctx.json(names);
    else if (names.length > 0) ctx.out(names.join('\n'));
    return 0;
  },
});

const del = defineCommand({
  summary: 'Delete a policy (tokens that name it lose what it granted)',
  usage: '[options] NAME',
  flags: {},
  args: { min: 1, max: 1 },
  async run(ctx, _flags, args) {
    const name = policyName(args[0]!);
    await ctx.client().deletePolicy(name);
    ctx.out(`Success! Deleted policy: ${name}`);
    return 0;
  },
});

/**
 * Replaces `file` with `text` in one step, keeping its permission bits: a temporary file next to
 * the real file (a symlink is followed, so the link stays a link) is written, given the old
 * mode, and renamed over it.
 */
function replaceFile(file: string, text: string): void {
  let target: string;
  let mode: number;
  try {
    target = realpathSync(file);
    mode = statSync(target).mode & 0o777;
  } catch (error) {
    throw new UsageError(`cannot rewrite ${file} (${errnoOf(error)})`);
  }
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, text, { mode, flag: 'wx' });
    chmodSync(temp, mode);
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new UsageError(`cannot rewrite ${file} (${errnoOf(error)})`);
  }
}

const fmt = defineCommand({
  summary: 'Rewrite a policy file in the canonical HCL layout',
  usage: '[options] FILE',
  description:
    '  Rewrites FILE in place: two-space indentation, one blank line between path blocks,\n' +
    '  aligned "=", lists of values on one line, keys in the order written. A JSON policy\n' +
    '  comes out as HCL. Comments are NOT kept (the parser drops them); keep the file under\n' +
    '  version control or review the result. An invalid file is left untouched.',
  flags: {},
  args: { min: 1, max: 1 },
  run(ctx, _flags, args) {
    const file = args[0]!;
    if (file === '-') throw new UsageError('fmt rewrites a file in place; give a FILE, not "-"');
    const text = readPolicyFile(file);
    let formatted: string;
    try {
      formatted = formatPolicy(text);
    } catch (error) {
      return Promise.resolve(reportPolicyError(ctx, file, error));
    }
    if (formatted !== text) replaceFile(file, formatted);
    ctx.out(`Success! Formatted policy: ${file}`);
    return Promise.resolve(0);
  },
});

function operationFlag(value: string | undefined): PolicyOperation | undefined {
  if (value === undefined) return undefined;
  const op = value.trim().toLowerCase();
  if (!(POLICY_OPERATIONS as readonly string[]).includes(op)) {
    throw new UsageError(
      `invalid value for flag -operation: must be ${POLICY_OPERATIONS.join(', ')}`,
    );
  }
  return op as PolicyOperation;
}

/** The explainer's answer as the CLI prints it: facts, then the matching rules. */
export function formatExplanation(result: PolicyExplanation): string {
  const rows: [string, string][] = [['Path', result.path]];
  if (result.operation !== undefined) rows.push(['Operation', result.operation]);
  if (result.allowed !== undefined) rows.push(['Verdict', result.allowed ? 'allowed' : 'denied']);
  rows.push(['Capabilities', formatQuotedList(result.capabilities)]);
  if (result.policies !== undefined) rows.push(['Policies', formatQuotedList(result.policies)]);
  if (result.isRoot) rows.push(['Root', 'true']);
  rows.push(['Reason', result.reason]);
  const parts = [formatKeyValueTable(rows), ''];
  if (result.matches.length === 0) {
    parts.push(
      result.isRoot
        ? 'No rule was needed: the root policy allows everything.'
        : 'No rule matches this path.',
    );
    return parts.join('\n');
  }
  parts.push('Matching rules (* = the rule that decided):');
  parts.push(
    formatColumns(
      result.matches.map((m) => [
        m.used ? '*' : ' ',
        m.policy,
        String(m.line),
        m.pattern,
        m.kind,
        m.capabilities.join(', '),
      ]),
      ['', 'Policy', 'Line', 'Pattern', 'Kind', 'Capabilities'],
    ),
  );
  return parts.join('\n');
}

const explain = defineCommand({
  summary: 'Explain which rule of which policy allows or denies a path for the calling token',
  usage: '[options] PATH',
  description:
    "  Lists every rule of the token's policies that matches PATH, marks the one that decides\n" +
    '  (exact rules beat globs; among globs the most specific wins), and with -operation says\n' +
    '  whether that operation is allowed.',
  flags: {
    operation: {
      kind: 'string',
      placeholder: '<op>',
      help: `The operation to judge: ${POLICY_OPERATIONS.join(', ')}.`,
    },
  },
  args: { min: 1, max: 1 },
  async run(ctx, flags, args) {
    const path = args[0]!.trim().replace(/^\/+/, '');
    if (path === '') throw new UsageError('PATH must not be empty');
    const result = await ctx.client().explainPolicy(path, operationFlag(flags.operation));
    if (ctx.format === 'json') ctx.json(result.response.data ?? {});
    else ctx.out(formatExplanation(result));
    return 0;
  },
});

export const policyGroup = defineGroup(
  'Write, read, list, delete, format and explain ACL policies',
  {
    write,
    read,
    list,
    delete: del,
    fmt,
    explain,
  },
);
