/**
 * Packets with their bytes as hex strings: jest compares big typed arrays slowly. Loops rather
 * than `Object.fromEntries(Object.entries(x).map(…))`: on XS's device stack (384 slots) each
 * level of a packet (its will, their properties, a user property pair) cost 53 slots that way.
 */
export function hex(x: unknown): unknown {
  if (x instanceof Uint8Array) {
    let s = "bytes:";
    for (let i = 0; i < x.length; i++) s += (x[i] < 16 ? "0" : "") + x[i].toString(16);
    return s;
  }
  if (Array.isArray(x)) {
    const out: unknown[] = [];
    for (let i = 0; i < x.length; i++) out.push(hex(x[i]));
    return out;
  }
  if (x && typeof x === "object") {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(x);
    for (let i = 0; i < keys.length; i++) out[keys[i]] = hex((x as Record<string, unknown>)[keys[i]]);
    return out;
  }
  return x;
}
