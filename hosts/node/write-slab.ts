/**
 * Where the node host copies the bytes of a TCP write (ECMA-419: the caller may change its buffer
 * as soon as `write()` returns, so the host must copy what Node may still hold).
 *
 * A fresh `Buffer.allocUnsafe(n)` per write — what the host did before — costs, for every write of
 * 4 KiB or more, a new ArrayBuffer: a malloc of fresh memory (whose first touch page-faults when
 * the allocator has given it back to the system), an external-memory report to V8, and a
 * collection later; with writes of 16–64 KiB that was a GC and allocator load proportional to the
 * bytes moved (bench/analysis.md, issue 15). Here copies are carved one after another out of a
 * shared slab, the way Node's own Buffer pool works for small buffers: one allocation per
 * `SLAB` bytes written. A slab lives as long as any copy in it is still referenced (by a write
 * Node has not finished); the host keeps only the current one. Copies larger than `MAX_CARVED`
 * get their own buffer.
 */
const SLAB = 1 << 20;
const MAX_CARVED = SLAB >>> 2;

let slab: Buffer | undefined;
let used = 0;

/** A copy of `data` that nothing else writes to. */
export function copyForWrite(data: Uint8Array): Buffer {
  const n = data.byteLength;
  if (n > MAX_CARVED) {
    const own = Buffer.allocUnsafe(n);
    own.set(data);
    return own;
  }
  if (slab === undefined || used + n > SLAB) {
    slab = Buffer.allocUnsafeSlow(SLAB);
    used = 0;
  }
  const copy = slab.subarray(used, used + n);
  copy.set(data);
  // keep each copy 8-byte aligned, as Node's pool does
  used = (used + n + 7) & ~7;
  return copy;
}
