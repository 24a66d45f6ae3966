/**
 * Memory-bounded admission of scans in one process: the sum of the running scans' memory limits never exceeds
 * the budget (MODELVET_MAX_SCAN_MEMORY_MB); a scan that does not fit waits, first come first served.
 */
export class MemoryBudget {
  private used = 0;
  private readonly waiting: Array<{ megabytes: number; start: () => void }> = [];

  constructor(readonly maxMegabytes: number) {}

  /** Waits until `megabytes` fit, then holds them until the returned release is called (once). */
  async acquire(megabytes: number, signal: AbortSignal): Promise<() => void> {
    if (megabytes > this.maxMegabytes)
      throw new RangeError(`${megabytes} MB is more than MODELVET_MAX_SCAN_MEMORY_MB (${this.maxMegabytes})`);
    if (this.waiting.length > 0 || this.used + megabytes > this.maxMegabytes)
      await new Promise<void>((resolve, reject) => {
        const entry = { megabytes, start: resolve };
        this.waiting.push(entry);
        signal.addEventListener(
          "abort",
          () => {
            const at = this.waiting.indexOf(entry);
            if (at >= 0) this.waiting.splice(at, 1);
            reject(signal.reason as Error);
            this.admit();
          },
          { once: true },
        );
      });
    else this.used += megabytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= megabytes;
      this.admit();
    };
  }

  get inUseMegabytes(): number {
    return this.used;
  }

  private admit(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.megabytes <= this.maxMegabytes) {
      const next = this.waiting.shift()!;
      this.used += next.megabytes;
      next.start();
    }
  }
}
