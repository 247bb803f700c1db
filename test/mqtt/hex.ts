/** Packets with their bytes as hex strings: jest compares big typed arrays slowly. */
export function hex(x: unknown): unknown {
  if (x instanceof Uint8Array) {
    let s = "bytes:";
    for (const b of x) s += (b < 16 ? "0" : "") + b.toString(16);
    return s;
  }
  if (Array.isArray(x)) return x.map(hex);
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, hex(v)]));
  return x;
}
