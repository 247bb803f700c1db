/**
 * A small value printer for failure messages of the XS test shim (a pretty-format in miniature).
 * ES2022 only: it runs under XS.
 */

const MAX_ITEMS = 24;
const MAX_DEPTH = 4;
const MAX_STRING = 200;

function typedArrayName(v: object): string | undefined {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return v.constructor?.name ?? "TypedArray";
  return undefined;
}

function str(s: string): string {
  const json = JSON.stringify(s);
  return json.length > MAX_STRING ? json.slice(0, MAX_STRING) + `…" (${s.length} chars)` : json;
}

function list(items: Iterable<unknown>, depth: number, seen: Set<object>, total: number): string {
  const out: string[] = [];
  for (const item of items) {
    if (out.length === MAX_ITEMS) break;
    out.push(format(item, depth + 1, seen));
  }
  if (total > MAX_ITEMS) out.push(`… ${total - MAX_ITEMS} more`);
  return out.join(", ");
}

/** A one-line, bounded description of `v`. */
export function format(v: unknown, depth = 0, seen: Set<object> = new Set()): string {
  switch (typeof v) {
    case "string":
      return str(v);
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n`;
    case "undefined":
      return "undefined";
    case "boolean":
      return String(v);
    case "symbol":
      return v.toString();
    case "function":
      return `[Function ${v.name || "anonymous"}]`;
  }
  if (v === null) return "null";
  const o = v as object;
  if (seen.has(o)) return "[Circular]";
  const asymmetric = o as { asymmetricMatch?: unknown; toString(): string };
  if (typeof asymmetric.asymmetricMatch === "function") return asymmetric.toString();
  if (o instanceof Error) return `[${o.name}: ${o.message}]`;
  if (o instanceof Date) return `Date(${isNaN(o.getTime()) ? "Invalid" : o.toISOString()})`;
  if (o instanceof RegExp) return String(o);
  if (depth >= MAX_DEPTH) return Array.isArray(o) ? "[Array]" : `[${o.constructor?.name ?? "Object"}]`;
  seen.add(o);
  try {
    const typed = typedArrayName(o);
    if (typed) {
      const a = o as unknown as ArrayLike<number | bigint>;
      return `${typed}(${a.length}) [${list(Array.prototype.slice.call(a, 0, MAX_ITEMS + 1), depth, seen, a.length)}]`;
    }
    if (o instanceof ArrayBuffer) return `ArrayBuffer(${o.byteLength})`;
    if (Array.isArray(o)) return `[${list(o, depth, seen, o.length)}]`;
    if (o instanceof Map) {
      const entries = [...o].slice(0, MAX_ITEMS).map(([k, val]) => `${format(k, depth + 1, seen)} => ${format(val, depth + 1, seen)}`);
      if (o.size > MAX_ITEMS) entries.push(`… ${o.size - MAX_ITEMS} more`);
      return `Map(${o.size}) {${entries.join(", ")}}`;
    }
    if (o instanceof Set) return `Set(${o.size}) {${list(o, depth, seen, o.size)}}`;
    const name = o.constructor && o.constructor !== Object ? `${o.constructor.name} ` : "";
    const keys = Object.keys(o);
    const body = keys
      .slice(0, MAX_ITEMS)
      .map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : str(k)}: ${format((o as Record<string, unknown>)[k], depth + 1, seen)}`);
    if (keys.length > MAX_ITEMS) body.push(`… ${keys.length - MAX_ITEMS} more`);
    return `${name}{${body.join(", ")}}`;
  } finally {
    seen.delete(o);
  }
}
