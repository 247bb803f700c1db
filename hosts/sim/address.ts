/** Numeric IPv4 addresses, as the simulator understands them. */

/** Loopback: a host talking to itself through this address uses `link(a, a)`. */
export const LOOPBACK = "127.0.0.1";
/** The wildcard address listeners and UDP sockets bind by default. */
export const ANY = "0.0.0.0";

/** True for a dotted quad such as "10.0.0.1". */
export function isIPv4(text: string): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return false;
  }
  return true;
}

/** Throws unless `port` is an integer in 0..65535 (0 only when `allowZero`). */
export function checkPort(port: number, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new RangeError(`invalid port ${String(port)}`);
  }
}
