// The JSON guard: every limit refuses a body before JSON.parse, with a 400 naming the body.
import { describe, expect, it } from 'vitest';
import { isCofferError } from '../sdk/errors.js';
import { DEFAULT_BODY_LIMITS, checkJsonLimits, parseBody } from './body.js';

const small = { maxDepth: 4, maxStrings: 5, maxNumbers: 5, maxElements: 8 };

function refusal(text: string): string {
  try {
    checkJsonLimits(text, small);
  } catch (err) {
    if (isCofferError(err) && err.code === 'invalid_request') return err.message;
    throw err;
  }
  return 'accepted';
}

describe('JSON guard', () => {
  it('accepts bodies within every limit', () => {
    expect(refusal('{"a":[1,2,-3.5e+2],"b":{"c":true}}')).toBe('accepted');
  });

  it('counts numbers, not digits: a long number is one number', () => {
    expect(refusal(`{"a":${'9'.repeat(1000)}}`)).toBe('accepted');
    expect(refusal('[1,2,3,4,5,6]')).toBe('body: more than 5 JSON numbers');
  });

  it('numbers inside strings are not numbers', () => {
    expect(refusal('["1,2,3,4,5,6,7,8"]')).toBe('accepted');
  });

  it('limits array elements and object members', () => {
    expect(refusal('[true,true,true,true,true,true,true,true,true,true]')).toBe(
      'body: more than 8 array elements and object members',
    );
    expect(refusal('[null,null,null,null,null,null,null,null,null]')).toMatch(/elements/);
  });

  it('limits strings and depth as before', () => {
    expect(refusal('["a","b","c","d","e","f"]')).toBe('body: more than 5 JSON strings');
    expect(refusal('[[[[[1]]]]]')).toBe('body: JSON nested deeper than 4');
  });

  it('the defaults refuse a 31 MiB array of ones without parsing it', () => {
    const text = `{"a":[${'1,'.repeat(200_001)}1]}`;
    expect(() => parseBody(text, 'application/json', DEFAULT_BODY_LIMITS)).toThrow(
      /more than 100000 JSON numbers/,
    );
  });
});
