// Generated passwords follow Vault's default policy and do not repeat.
import { expect, it } from 'vitest';
import { generatePassword, PASSWORD_LENGTH } from './password.js';

it('makes 20-character passwords with an uppercase, a lowercase, a digit and a dash', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const pw = generatePassword();
    expect(pw).toHaveLength(PASSWORD_LENGTH);
    expect(pw).toMatch(/^[A-Za-z0-9-]+$/);
    expect(pw).toMatch(/[A-Z]/);
    expect(pw).toMatch(/[a-z]/);
    expect(pw).toMatch(/[0-9]/);
    expect(pw).toContain('-');
    seen.add(pw);
  }
  expect(seen.size).toBe(500);
});
