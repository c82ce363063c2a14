// The contract between the audit broker and one audit device (a file, a socket): write a batch
// of whole lines, reopen for rotation, close.

export interface AuditDevice {
  /**
   * Writes one batch (whole lines, each ending in "\n") in one write. Resolves once the bytes
   * are handed to the OS (and synced, where the device does that); rejects on failure or after
   * the device's write timeout. After a rejection none of the batch counts as recorded.
   */
  write(payload: Buffer): Promise<void>;
  /** Reopens the file or connection (log rotation: the old file was moved away). */
  reopen(): Promise<void>;
  close(): Promise<void>;
  /**
   * The last complete line already recorded, to resume the hash chain at startup; undefined
   * when the device cannot read back (a socket) or holds nothing.
   */
  lastLine(): Promise<string | undefined>;
}

/** What a device error is reported as in logs: an errno-like code, never content. */
export function failureCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}

/** Rejects with an error whose code is ETIMEDOUT when `promise` takes longer than `ms`. */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(Object.assign(new Error('audit device write timed out'), { code: 'ETIMEDOUT' }));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error('audit device failed'));
      },
    );
  });
}
