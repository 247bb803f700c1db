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

/** Formats the members of an object once they are strings (in order), and forgets it as seen. */
interface Assemble {
  o: object;
  n: number;
  make(parts: string[]): string;
}

/** ", "-joined items, and how many were left out. */
function items(parts: string[], total: number): string {
  if (total > MAX_ITEMS) parts.push(`… ${total - MAX_ITEMS} more`);
  return parts.join(", ");
}

/**
 * A one-line, bounded description of `v`. Iterative, not recursive: the values still to format
 * and the objects still to assemble are on lists of our own, so that a failure message about a
 * nested value does not overflow the strict XS run's 384-slot stack (recursion cost about 60
 * slots a level), which would turn the failure into an abort with no message.
 */
export function format(v: unknown): string {
  const seen = new Set<object>(); // the objects being formatted around the current value (cycles)
  const todo: ({ v: unknown; depth: number } | Assemble)[] = [{ v, depth: 0 }];
  const done: string[] = [];
  while (todo.length) {
    const job = todo.pop()!;
    if ("make" in job) {
      seen.delete(job.o);
      done.push(job.make(done.splice(done.length - job.n, job.n)));
      continue;
    }
    const r = one(job.v, job.depth, seen);
    if (typeof r === "string") {
      done.push(r);
      continue;
    }
    seen.add(r.job.o);
    todo.push(r.job);
    for (let i = r.members.length - 1; i >= 0; i--) todo.push({ v: r.members[i], depth: job.depth + 1 });
  }
  return done[0];
}

/** `v` as a string, or an object's members to format first and how to assemble them. */
function one(v: unknown, depth: number, seen: Set<object>): string | { members: unknown[]; job: Assemble } {
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
  if (o instanceof Date) return `Date(${Number.isNaN(o.getTime()) ? "Invalid" : o.toISOString()})`;
  if (o instanceof RegExp) return String(o);
  if (depth >= MAX_DEPTH) return Array.isArray(o) ? "[Array]" : `[${o.constructor?.name ?? "Object"}]`;
  if (o instanceof ArrayBuffer) return `ArrayBuffer(${o.byteLength})`;
  const typed = typedArrayName(o);
  if (typed) {
    const a = o as unknown as ArrayLike<number | bigint>;
    const members = Array.prototype.slice.call(a, 0, MAX_ITEMS);
    return { members, job: { o, n: members.length, make: (p) => `${typed}(${a.length}) [${items(p, a.length)}]` } };
  }
  if (Array.isArray(o)) {
    const members = o.slice(0, MAX_ITEMS);
    return { members, job: { o, n: members.length, make: (p) => `[${items(p, o.length)}]` } };
  }
  if (o instanceof Map) {
    const members = [...o].slice(0, MAX_ITEMS).flat();
    const make = (p: string[]) => {
      const entries: string[] = [];
      for (let i = 0; i < p.length; i += 2) entries.push(`${p[i]} => ${p[i + 1]}`);
      return `Map(${o.size}) {${items(entries, o.size)}}`;
    };
    return { members, job: { o, n: members.length, make } };
  }
  if (o instanceof Set) {
    const members = [...o].slice(0, MAX_ITEMS);
    return { members, job: { o, n: members.length, make: (p) => `Set(${o.size}) {${items(p, o.size)}}` } };
  }
  const name = o.constructor && o.constructor !== Object ? `${o.constructor.name} ` : "";
  const keys = Object.keys(o);
  const shown = keys.slice(0, MAX_ITEMS);
  const members = shown.map((k) => (o as Record<string, unknown>)[k]);
  const make = (p: string[]) => {
    const body = p.map((s, i) => `${/^[A-Za-z_$][\w$]*$/.test(shown[i]) ? shown[i] : str(shown[i])}: ${s}`);
    return `${name}{${items(body, keys.length)}}`;
  };
  return { members, job: { o, n: members.length, make } };
}
