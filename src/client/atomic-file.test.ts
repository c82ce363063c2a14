import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-file.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-atomic-test-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Content whose every byte depends on `n`, so a mix of two versions is recognisable. */
function content(n: number): string {
  return `BEGIN ${n}\n${String(n % 10).repeat(200_000)}\nEND ${n}\n`;
}

describe('atomic file replacement', () => {
  it('sets the mode exactly, whatever the umask and the old file', async () => {
    const file = join(dir, 'modes');
    writeFileSync(file, 'old', { mode: 0o666 });
    await writeFileAtomic(file, 'new', 0o640);
    expect(statSync(file).mode & 0o7777).toBe(0o640);
    await writeFileAtomic(file, 'newer', 0o600);
    expect(statSync(file).mode & 0o7777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('newer');
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('never shows a reader in another process a partial or mixed file over 150 rewrites', async () => {
    const file = join(dir, 'polled');
    await writeFileAtomic(file, content(0), 0o600);
    // The reader polls the file as fast as it can and reports any content that is not whole.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `
        const fs = require('node:fs');
        let reads = 0, bad = 0;
        const check = () => {
          let text;
          try { text = fs.readFileSync(process.argv[1], 'utf8'); } catch { return; }
          reads++;
          const m = /^BEGIN (\\d+)\\n/.exec(text);
          const n = m ? Number(m[1]) : -1;
          const ok = n >= 0 && text === 'BEGIN ' + n + '\\n' + String(n % 10).repeat(200000) + '\\nEND ' + n + '\\n';
          if (!ok) bad++;
        };
        process.stdin.on('data', () => { process.stdout.write(JSON.stringify({ reads, bad })); process.exit(0); });
        (function loop() { for (let i = 0; i < 20; i++) check(); setImmediate(loop); })();
        `,
        file,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const closed = new Promise<void>((resolve) =>
      reader.once('close', () => {
        resolve();
      }),
    );
    for (let n = 1; n <= 150; n++) await writeFileAtomic(file, content(n), 0o600);
    reader.stdin.write('done\n');
    await closed;
    const result = JSON.parse(out) as { reads: number; bad: number };
    expect(result.reads).toBeGreaterThan(50);
    expect(result.bad).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(content(150));
  }, 60_000);
});
