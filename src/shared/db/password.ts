// Generated passwords: Vault's default database password policy (20 characters from
// [A-Za-z0-9-], at least one uppercase letter, lowercase letter, digit and dash).
import { randomInt } from 'node:crypto';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALL = `${UPPER}${LOWER}${DIGITS}-`;

export const PASSWORD_LENGTH = 20;

function pick(charset: string): string {
  return charset[randomInt(charset.length)]!;
}

/**
 * A new random password from the CSPRNG. One character of each required class is placed,
 * the rest drawn from the whole set, then the order is shuffled (Fisher-Yates).
 */
export function generatePassword(): string {
  const chars = [pick(UPPER), pick(LOWER), pick(DIGITS), '-'];
  while (chars.length < PASSWORD_LENGTH) chars.push(pick(ALL));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlphanumeric(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)]!;
  return out;
}
