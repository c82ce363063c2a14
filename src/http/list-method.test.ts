import { describe, expect, it } from 'vitest';
import { ListMethodRewriter, METHOD_HEADER } from './list-method.js';

function run(input: string, chunkSize = input.length): string {
  const rewriter = new ListMethodRewriter();
  const out: Buffer[] = [];
  const bytes = Buffer.from(input, 'latin1');
  for (let i = 0; i < bytes.length; i += chunkSize) {
    out.push(...rewriter.push(bytes.subarray(i, i + chunkSize)));
  }
  out.push(...rewriter.flush());
  return Buffer.concat(out).toString('latin1');
}

describe('LIST method rewriting', () => {
  it('rewrites a LIST request line into GET plus the marker header', () => {
    const out = run('LIST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(out).toBe(
      `GET /v1/secret/metadata/ HTTP/1.1\r\n${METHOD_HEADER}: LIST\r\nHost: x\r\n\r\n`,
    );
  });

  it('leaves every other request byte-for-byte alone', () => {
    const input = 'POST /v1/a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET /v1/b HTTP/1.1\r\n\r\n';
    expect(run(input)).toBe(input);
  });

  it('does not rewrite "LIST " inside a body', () => {
    const body = 'LIST /v1/x HTTP/1.1\r\n\r\n';
    const input = `POST /v1/a HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    expect(run(input)).toBe(input);
  });

  it('does not rewrite "LIST " inside a chunked body, and finds the next request', () => {
    const chunk = 'LIST /v1/x HTTP/1.1\r\n\r\n';
    const input =
      'POST /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' +
      `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n` +
      'LIST /v1/b HTTP/1.1\r\n\r\n';
    const out = run(input);
    expect(out).toContain(chunk);
    expect(out.endsWith(`GET /v1/b HTTP/1.1\r\n${METHOD_HEADER}: LIST\r\n\r\n`)).toBe(true);
  });

  it('handles pipelined requests split at every byte', () => {
    const input =
      'LIST /v1/a HTTP/1.1\r\n\r\nPUT /v1/b HTTP/1.1\r\nContent-Length: 5\r\n\r\nLIST LIST /v1/c HTTP/1.1\r\n\r\n';
    const expected =
      `GET /v1/a HTTP/1.1\r\n${METHOD_HEADER}: LIST\r\n\r\n` +
      'PUT /v1/b HTTP/1.1\r\nContent-Length: 5\r\n\r\nLIST ' +
      `GET /v1/c HTTP/1.1\r\n${METHOD_HEADER}: LIST\r\n\r\n`;
    expect(run(input, 1)).toBe(expected);
    expect(run(input, 7)).toBe(expected);
  });

  it('passes malformed framing through untouched for the HTTP parser to reject', () => {
    const input = 'POST /v1/a HTTP/1.1\r\nContent-Length: nope\r\n\r\nLIST /v1/x HTTP/1.1\r\n\r\n';
    expect(run(input)).toBe(input);
  });
});
