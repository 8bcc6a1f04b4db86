/**
 * A counting semaphore with a bounded wait queue: at most `concurrency` holders, at most
 * `queue` waiters; anyone past that is refused at once, so memory stays bounded under overload
 * and callers answer 503 instead of timing out.
 */
export class Limiter {
  private active = 0;
  private readonly waiters: { grant: () => void; reject: (err: Error) => void }[] = [];
  readonly concurrency: number;
  readonly queue: number;

  constructor(concurrency: number, queue: number) {
    if (concurrency < 1) throw new RangeError('concurrency must be at least 1');
    this.concurrency = concurrency;
    this.queue = Math.max(0, queue);
  }

  get inUse(): number {
    return this.active;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves with a release function; returns undefined when the queue is full. */
  acquire(signal?: AbortSignal): Promise<() => void> | undefined {
    if (this.active < this.concurrency) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiters.length >= this.queue) return undefined;
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => resolve(this.releaser()),
        reject,
      };
      this.waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) {
            this.waiters.splice(i, 1);
            reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          }
        },
        { once: true },
      );
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.grant();
      else this.active--;
    };
  }
}
