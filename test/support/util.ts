/** Helpers shared by the tests: waiting on a runtime's clock, and test payloads. */
import { SocketError, type Runtime, type Socket } from "../../src/index.js";

/** Waits (on `rt`'s clock) until `cond()` holds; fails after `limit` ms. */
export async function until(rt: Runtime, cond: () => boolean, limit = 10000, what = "condition"): Promise<void> {
  const end = rt.host.now() + limit;
  while (!cond()) {
    if (rt.host.now() > end) throw new Error(`timed out waiting for ${what}`);
    await rt.sleep(1);
  }
}

/** Deterministic pseudo-random bytes (xorshift32) for payloads. */
export function randomBytes(n: number, seed = 12345): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Joins chunks. */
export function joinAll(chunks: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Sends `payload` through `sock` in pieces of `piece` bytes while reading what comes back (an
 * echo), until as many bytes came back or the stream ended; returns what came back.
 */
export async function echoRoundTrip(sock: Socket, payload: Uint8Array, piece: number): Promise<Uint8Array> {
  const got: Uint8Array[] = [];
  let n = 0;
  const reader = (async () => {
    while (n < payload.length) {
      const d = await sock.read();
      if (!d) break;
      got.push(d);
      n += d.length;
    }
  })();
  for (let off = 0; off < payload.length; off += piece) await sock.write(payload.subarray(off, off + piece));
  await reader;
  return joinAll(got);
}

/** The `SocketError` that `p` rejects with (a test fails if it resolves or rejects with anything else). */
export async function socketFailure(p: Promise<unknown>): Promise<SocketError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SocketError);
  return e as SocketError;
}
