import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exitCodeOf, parseSignal, SpawnError, Supervisor } from './supervisor.js';

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { stream, text: () => text };
}

/** Polls `check` every 10 ms for up to 10 s. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

function node(script: string, options: Partial<ConstructorParameters<typeof Supervisor>[0]> = {}) {
  const out = sink();
  const err = sink();
  const supervisor = new Supervisor({
    command: process.execPath,
    args: ['-e', script],
    stdout: out.stream,
    stderr: err.stream,
    maskValues: () => [],
    ...options,
  });
  return { supervisor, out, err };
}

describe('exit codes and signal names', () => {
  it('passes a code through and maps death by signal n to 128+n', () => {
    expect(exitCodeOf({ code: 7, signal: null })).toBe(7);
    expect(exitCodeOf({ code: null, signal: 'SIGTERM' })).toBe(143);
    expect(exitCodeOf({ code: null, signal: 'SIGKILL' })).toBe(137);
  });

  it('accepts signal names with or without SIG, in any case', () => {
    expect(parseSignal('SIGHUP')).toBe('SIGHUP');
    expect(parseSignal('hup')).toBe('SIGHUP');
    expect(parseSignal('usr1')).toBe('SIGUSR1');
    expect(parseSignal('SIGNOPE')).toBeUndefined();
  });
});

describe('the supervisor', () => {
  it('reports the exit status of the program', async () => {
    const { supervisor } = node('process.exit(7)');
    await supervisor.start({ PATH: process.env['PATH'] ?? '' });
    expect(await supervisor.finished).toEqual({ code: 7, signal: null });
  });

  it('refuses to start a program that does not exist (127, as a shell)', async () => {
    const supervisor = new Supervisor({
      command: 'coffer-no-such-program',
      args: [],
      stdout: sink().stream,
      stderr: sink().stream,
    });
    const error = await supervisor.start({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpawnError);
    expect((error as SpawnError).exitCode).toBe(127);
  });

  it('restarts with the new environment and finishes only when the program exits by itself', async () => {
    const { supervisor, out } = node(
      `console.log('start ' + process.env.V);
       if (process.env.V === 'last') setTimeout(() => process.exit(3), 50);
       else setInterval(() => {}, 1000);`,
    );
    await supervisor.start({ V: 'one' });
    let finished = false;
    void supervisor.finished.then(() => (finished = true));
    await until(() => out.text().includes('start one'));
    await supervisor.restart({ V: 'two' });
    await until(() => out.text().includes('start two'));
    expect(finished).toBe(false);
    await supervisor.restart({ V: 'last' });
    expect(await supervisor.finished).toEqual({ code: 3, signal: null });
    expect(out.text()).toBe('start one\nstart two\nstart last\n');
    expect(supervisor.starts).toBe(3);
  });

  it('masks values across the restart and in both streams', async () => {
    let value = 'first-secret';
    const { supervisor, out, err } = node(
      `process.stdout.write('o:' + process.env.S + '\\n'); process.stderr.write('e:' + process.env.S + '\\n');
       if (process.env.S === 'second-secret') process.exit(0); else setInterval(() => {}, 1000);`,
      { maskValues: () => [value] },
    );
    await supervisor.start({ S: value });
    await until(() => out.text().includes('o:') && err.text().includes('e:'));
    value = 'second-secret';
    await supervisor.restart({ S: value });
    await supervisor.finished;
    expect(out.text()).toBe('o:*****\no:*****\n');
    expect(err.text()).toBe('e:*****\ne:*****\n');
  });

  it('kills a program that ignores the stop signal once the stop timeout passes', async () => {
    const { supervisor, out } = node(
      `process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);`,
      { stopTimeoutMs: 300 },
    );
    await supervisor.start({});
    await until(() => out.text().includes('ready'));
    const started = Date.now();
    expect(await supervisor.stop()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('forwards a terminating signal and reports the death by it', async () => {
    const { supervisor, out } = node(`console.log('ready'); setInterval(() => {}, 1000);`);
    await supervisor.start({});
    await until(() => out.text().includes('ready'));
    supervisor.terminate('SIGTERM');
    const status = await supervisor.finished;
    expect(exitCodeOf(status)).toBe(143);
  });
});
