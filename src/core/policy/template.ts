// ACL templating: `{{identity.…}}` parameters in policy path patterns, checked when a policy
// is written and filled in from the calling token's entity when its ACL is compiled
// (Vault's sdk/helper/identitytpl in ACL mode). A pattern that cannot be filled in for a
// token matches nothing for that token.

/** What a token's entity offers to templates. */
export interface TemplateIdentity {
  /**
   * Identifies this exact identity state (entity id and identity store version): compiled
   * ACLs with templated rules are cached under it.
   */
  readonly cacheKey: string;
  readonly entity: {
    readonly id: string;
    readonly name: string;
    readonly metadata: Readonly<Record<string, string>>;
  };
  /** Mount accessor → the entity's alias on that mount. */
  readonly aliases: ReadonlyMap<
    string,
    {
      readonly id: string;
      readonly name: string;
      readonly metadata: Readonly<Record<string, string>>;
      readonly customMetadata: Readonly<Record<string, string>>;
    }
  >;
  /** Every group the entity is in, directly or through nested groups. */
  readonly groups: readonly {
    readonly id: string;
    readonly name: string;
    readonly metadata: Readonly<Record<string, string>>;
  }[];
}

const OPEN = '{{';
const CLOSE = '}}';

export function hasTemplate(pattern: string): boolean {
  return pattern.includes(OPEN) || pattern.includes(CLOSE);
}

type Parameter =
  | { readonly kind: 'entity.id' | 'entity.name' }
  | { readonly kind: 'entity.metadata'; readonly key: string }
  | {
      readonly kind: 'alias';
      readonly accessor: string;
      readonly field: 'id' | 'name' | 'metadata' | 'custom_metadata';
      readonly key?: string;
    }
  | {
      readonly kind: 'group.id';
      readonly group: string;
      readonly field: 'name' | 'metadata';
      readonly key?: string;
    }
  | {
      readonly kind: 'group.name';
      readonly group: string;
      readonly field: 'id' | 'metadata';
      readonly key?: string;
    };

/** A parameter as written between the braces (trimmed), or an error message. */
function parseParameter(text: string): Parameter | string {
  const unknown = `unknown template parameter "${text}"`;
  if (text === 'identity.entity.id') return { kind: 'entity.id' };
  if (text === 'identity.entity.name') return { kind: 'entity.name' };
  if (text.startsWith('identity.entity.metadata.')) {
    const key = text.slice('identity.entity.metadata.'.length);
    return key === '' ? unknown : { kind: 'entity.metadata', key };
  }
  if (text.startsWith('identity.entity.aliases.')) {
    const rest = text.slice('identity.entity.aliases.'.length);
    const dot = rest.indexOf('.');
    if (dot <= 0) return unknown;
    const accessor = rest.slice(0, dot);
    const tail = rest.slice(dot + 1);
    if (tail === 'id' || tail === 'name') return { kind: 'alias', accessor, field: tail };
    for (const field of ['metadata', 'custom_metadata'] as const) {
      if (tail.startsWith(`${field}.`) && tail.length > field.length + 1) {
        return { kind: 'alias', accessor, field, key: tail.slice(field.length + 1) };
      }
    }
    return unknown;
  }
  for (const [prefix, kind, plain] of [
    ['identity.groups.ids.', 'group.id', 'name'],
    ['identity.groups.names.', 'group.name', 'id'],
  ] as const) {
    if (!text.startsWith(prefix)) continue;
    const rest = text.slice(prefix.length);
    if (rest.endsWith(`.${plain}`) && rest.length > plain.length + 1) {
      return { kind, group: rest.slice(0, -(plain.length + 1)), field: plain } as Parameter;
    }
    const at = rest.indexOf('.metadata.');
    if (at > 0 && rest.length > at + '.metadata.'.length) {
      return {
        kind,
        group: rest.slice(0, at),
        field: 'metadata',
        key: rest.slice(at + '.metadata.'.length),
      };
    }
    return unknown;
  }
  return unknown;
}

interface Piece {
  readonly literal?: string;
  readonly parameter?: Parameter;
}

/** Splits a pattern into literal text and parameters; a string is the error message. */
function split(pattern: string): Piece[] | string {
  const pieces: Piece[] = [];
  let rest = pattern;
  while (rest !== '') {
    const open = rest.indexOf(OPEN);
    const close = rest.indexOf(CLOSE);
    if (open === -1) {
      if (close !== -1) return 'unbalanced templating characters ("}}" without "{{")';
      pieces.push({ literal: rest });
      break;
    }
    if (close !== -1 && close < open) {
      return 'unbalanced templating characters ("}}" without "{{")';
    }
    if (open > 0) pieces.push({ literal: rest.slice(0, open) });
    const end = rest.indexOf(CLOSE, open + OPEN.length);
    if (end === -1) return 'unbalanced templating characters ("{{" without "}}")';
    const inner = rest.slice(open + OPEN.length, end);
    if (inner.includes(OPEN)) return 'unbalanced templating characters (nested "{{")';
    const parameter = parseParameter(inner.trim());
    if (typeof parameter === 'string') return parameter;
    pieces.push({ parameter });
    rest = rest.slice(end + CLOSE.length);
  }
  return pieces;
}

/** Why a templated pattern is malformed, or undefined when it is fine (checked on write). */
export function templateError(pattern: string): string | undefined {
  const result = split(pattern);
  return typeof result === 'string' ? result : undefined;
}

function valueOf(parameter: Parameter, identity: TemplateIdentity): string | undefined {
  switch (parameter.kind) {
    case 'entity.id':
      return identity.entity.id;
    case 'entity.name':
      return identity.entity.name;
    case 'entity.metadata':
      return identity.entity.metadata[parameter.key];
    case 'alias': {
      const alias = identity.aliases.get(parameter.accessor);
      if (alias === undefined) return undefined;
      if (parameter.field === 'id') return alias.id;
      if (parameter.field === 'name') return alias.name;
      const map = parameter.field === 'metadata' ? alias.metadata : alias.customMetadata;
      return map[parameter.key ?? ''];
    }
    case 'group.id': {
      const group = identity.groups.find((g) => g.id === parameter.group);
      if (group === undefined) return undefined;
      return parameter.field === 'name' ? group.name : group.metadata[parameter.key ?? ''];
    }
    case 'group.name': {
      const group = identity.groups.find((g) => g.name === parameter.group);
      if (group === undefined) return undefined;
      return parameter.field === 'id' ? group.id : group.metadata[parameter.key ?? ''];
    }
  }
}

/**
 * The pattern with every parameter filled in from `identity`, or undefined when it cannot be
 * (no identity, an unknown alias, group or key, an empty value). SECURITY: a value holding a
 * glob character (`*`, `+`) or braces also gives undefined: alias metadata can come from
 * login claims, and must never widen a rule into a glob.
 */
export function resolveTemplate(
  pattern: string,
  identity: TemplateIdentity | undefined,
): string | undefined {
  const pieces = split(pattern);
  if (typeof pieces === 'string' || identity === undefined) return undefined;
  let out = '';
  for (const piece of pieces) {
    if (piece.literal !== undefined) {
      out += piece.literal;
      continue;
    }
    const value = valueOf(piece.parameter!, identity);
    if (value === undefined || value === '' || /[*+{}]|\p{Cc}/u.test(value)) return undefined;
    out += value;
  }
  return out;
}
