// Turning a raw request URL into a logical path and query data, refusing path tricks before
// anything is routed: percent-encoded slashes, "." and ".." segments, empty segments, control
// characters and malformed escapes.
import { CofferError } from '../sdk/errors.js';

export interface ParsedUrl {
  /** Logical path without the /v1/ prefix; keeps a trailing '/' if the client sent one. */
  readonly path: string;
  readonly query: URLSearchParams;
}

function bad(why: string): CofferError {
  return new CofferError('invalid_request', `path: ${why}`, { field: 'path' });
}

export function parseVaultUrl(rawUrl: string): ParsedUrl {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
  if (!rawPath.startsWith('/v1/')) throw new CofferError('unsupported_path', 'unsupported path');
  const rest = rawPath.slice(4);
  const segments = rest.split('/');
  const decoded: string[] = [];
  segments.forEach((segment, i) => {
    const isLast = i === segments.length - 1;
    if (segment === '' && !isLast) throw bad('empty segments ("//") are not allowed');
    let text: string;
    try {
      text = decodeURIComponent(segment);
    } catch {
      throw bad('malformed percent-encoding');
    }
    if (text.includes('/')) throw bad('encoded slashes (%2F) are not allowed');
    if (text === '.' || text === '..') throw bad('"." and ".." segments are not allowed');
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(text)) throw bad('control characters are not allowed');
    decoded.push(text);
  });
  return { path: decoded.join('/'), query };
}
