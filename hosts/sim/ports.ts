/** First ephemeral port, as on most systems. */
export const EPHEMERAL_FIRST = 49152;

/** The ports bound on one host for one protocol (TCP or UDP). */
export class PortTable {
  private readonly used = new Set<number>();
  private nextEphemeral = EPHEMERAL_FIRST;

  has(port: number): boolean {
    return this.used.has(port);
  }

  take(port: number): void {
    this.used.add(port);
  }

  release(port: number): void {
    this.used.delete(port);
  }

  /** Takes the next free ephemeral port, counting upward from 49152 and wrapping. */
  ephemeral(): number {
    for (let tries = 0; tries <= 65535 - EPHEMERAL_FIRST; tries++) {
      const port = this.nextEphemeral;
      this.nextEphemeral = port === 65535 ? EPHEMERAL_FIRST : port + 1;
      if (!this.used.has(port)) {
        this.used.add(port);
        return port;
      }
    }
    throw new Error("no free ephemeral port");
  }
}
