/**
 * Readers in the spirit of OpenResty's cosocket API, over any byte source with `read` and
 * `unread` (a TCP socket now; a TLS socket later). Timeouts cover the whole call. When a reader
 * times out, the bytes it had gathered are put back (nothing is lost, a retry sees them) and are
 * also shown as `error.partial`.
 */
import { SocketError } from "./errors.js";
import { concat, indexOf, join } from "./bytes.js";
import { decodeUtf8, encodeUtf8 } from "./base/utf8.js";
import type { Host } from "./host.js";

export interface ByteSource {
  read(timeout?: number): Promise<Uint8Array | null>;
  unread(bytes: Uint8Array): void;
  readonly rt: { host: Host };
}

export interface ReadOptions {
  /** ms for the whole call; throws `timeout` (socket stays usable). */
  timeout?: number;
  /** Most bytes before the delimiter; beyond it the call throws `toolong` (bytes stay readable). */
  max?: number;
}

const LF = 10;
const CR = 13;

/** Reads until `found(buffer, scannedUpTo)` returns an index ≥ 0, or end-of-stream. */
async function gather(
  src: ByteSource,
  options: ReadOptions,
  found: (buf: Uint8Array, from: number) => number,
  limit: number,
): Promise<{ buf: Uint8Array; at: number }> {
  const deadline = options.timeout === undefined ? undefined : src.rt.host.now() + options.timeout;
  let buf: Uint8Array = new Uint8Array(0);
  let scanned = 0;
  for (;;) {
    const at = found(buf, scanned);
    if (at >= 0) return { buf, at };
    scanned = buf.length;
    if (buf.length > limit) {
      src.unread(buf);
      throw new SocketError("toolong", `more than ${limit} bytes without the delimiter`);
    }
    let data: Uint8Array | null;
    try {
      data = await src.read(deadline === undefined ? undefined : Math.max(0, deadline - src.rt.host.now()));
    } catch (e) {
      src.unread(buf);
      if (e instanceof SocketError && e.code === "timeout") e.partial = buf;
      throw e;
    }
    if (data === null) return { buf, at: -1 };
    buf = concat(buf, data);
  }
}

/*
 * readLine and readUntil are plain functions over `gather` (the one async layer between the caller
 * and `src.read`): on XS an async function called from another holds its frames until it first
 * waits, and the device's stack is 384 slots (docs/device.md, "As strict as the device").
 */

export function readLine(src: ByteSource, options: ReadOptions = {}): Promise<string | null> {
  const max = options.max ?? Infinity;
  return gather(src, options, (b, from) => b.indexOf(LF, from), max + 1).then(({ buf, at }) => {
    if (at < 0) return buf.length ? decodeUtf8(buf) : null;
    src.unread(buf.subarray(at + 1));
    const end = at > 0 && buf[at - 1] === CR ? at - 1 : at;
    if (end > max) {
      src.unread(buf.subarray(0, at + 1));
      throw new SocketError("toolong", `line longer than ${max} bytes`);
    }
    return decodeUtf8(buf.subarray(0, end));
  });
}

export async function readExactly(src: ByteSource, n: number, options: ReadOptions = {}): Promise<Uint8Array | null> {
  if (!(n >= 0)) throw new SocketError("incorrectuse", "readExactly needs a count >= 0");
  const deadline = options.timeout === undefined ? undefined : src.rt.host.now() + options.timeout;
  const parts: Uint8Array[] = [];
  let total = 0;
  while (total < n) {
    let data: Uint8Array | null;
    try {
      data = await src.read(deadline === undefined ? undefined : Math.max(0, deadline - src.rt.host.now()));
    } catch (e) {
      const got = join(parts, total);
      src.unread(got);
      if (e instanceof SocketError && e.code === "timeout") e.partial = got;
      throw e;
    }
    if (data === null) {
      src.unread(join(parts, total));
      return null;
    }
    parts.push(data);
    total += data.length;
  }
  const all = join(parts, total);
  src.unread(all.subarray(n));
  return all.subarray(0, n);
}

export function readUntil(src: ByteSource, pattern: Uint8Array | string, options: ReadOptions = {}): Promise<Uint8Array | null> {
  const p = typeof pattern === "string" ? encodeUtf8(pattern) : pattern;
  if (p.length === 0) return Promise.reject(new SocketError("incorrectuse", "readUntil needs a non-empty pattern"));
  const max = options.max ?? Infinity;
  return gather(src, options, (b, from) => indexOf(b, p, Math.max(0, from - p.length + 1)), max + p.length).then(({ buf, at }) => {
    if (at < 0) {
      src.unread(buf);
      return null;
    }
    if (at > max) {
      src.unread(buf);
      throw new SocketError("toolong", `more than ${max} bytes before the pattern`);
    }
    src.unread(buf.subarray(at + p.length));
    return buf.subarray(0, at);
  });
}
