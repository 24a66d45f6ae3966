import type { Anomaly } from "./types.js";

/** Messages kept per anomaly id; the rest are counted in one summary. */
export const MAX_MESSAGES_PER_ID = 20;

/**
 * Anomalies held until the container is known to be one (a stray signature must leave no trace), with a cap per
 * id so that an archive of 100 000 odd entries yields the first few messages and a count, not 100 000 lines.
 */
export class AnomalyLog {
  private readonly counts = new Map<string, number>();
  private readonly held: Anomaly[] = [];

  /** @param base the member path of the container itself, under which the summaries are recorded */
  constructor(
    private readonly base: string,
    private readonly cap = MAX_MESSAGES_PER_ID,
  ) {}

  add(member: string, id: string, message: string, offset?: number): void {
    const count = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, count);
    if (count <= this.cap) this.held.push({ member, id, message, offset });
  }

  /** Hands over what was held, plus one summary per id whose messages were cut, and forgets it. */
  flush(record: (anomaly: Anomaly) => void): void {
    for (const anomaly of this.held) record(anomaly);
    for (const [id, count] of this.counts)
      if (count > this.cap)
        record({
          member: this.base,
          id,
          message: `${count - this.cap} more ${id} findings not listed`,
          offset: undefined,
        });
    this.held.length = 0;
    this.counts.clear();
  }
}

/** `../` anywhere, a leading `/` or `\`, or a drive letter: extraction would write outside its folder. */
export function isUnsafePath(name: string): boolean {
  if (/^([/\\]|[A-Za-z]:)/.test(name)) return true;
  return name.split(/[/\\]/).includes("..");
}
