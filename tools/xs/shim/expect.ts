/**
 * `expect` for the XS test shim: the jest matchers our suites use, with jest's semantics where
 * they matter (recursive equality that ignores undefined properties, `toMatchObject` subsets,
 * `toThrow` forms, `.not`, `.resolves`, `.rejects`, a few asymmetric matchers, mock matchers).
 * ES2022 only: it runs under XS.
 */
import { format } from "./format.js";

export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
  }

  /** On the prototype, not per instance: the device freezes Error.prototype, where `this.name = …` throws. */
  override get name(): string {
    return "AssertionError";
  }
}

// ------------------------------------------------------------------ asymmetric matchers

export abstract class Asymmetric {
  abstract asymmetricMatch(other: unknown): boolean;
  abstract toString(): string;
}

class Anything extends Asymmetric {
  asymmetricMatch(other: unknown): boolean {
    return other !== null && other !== undefined;
  }
  toString(): string {
    return "Anything";
  }
}

class Any extends Asymmetric {
  constructor(private readonly type: unknown) {
    super();
  }
  asymmetricMatch(other: unknown): boolean {
    const t = this.type;
    if (t === String) return typeof other === "string" || other instanceof String;
    if (t === Number) return typeof other === "number" || other instanceof Number;
    if (t === Boolean) return typeof other === "boolean" || other instanceof Boolean;
    if (t === BigInt) return typeof other === "bigint";
    if (t === Symbol) return typeof other === "symbol";
    if (t === Function) return typeof other === "function";
    if (t === Object) return typeof other === "object" && other !== null;
    return typeof t === "function" && other instanceof (t as new () => unknown);
  }
  toString(): string {
    return `Any<${(this.type as { name?: string })?.name ?? String(this.type)}>`;
  }
}

class ObjectContaining extends Asymmetric {
  constructor(private readonly sample: Record<string, unknown>) {
    super();
  }
  asymmetricMatch(other: unknown): boolean {
    return matchesObject(other, this.sample);
  }
  toString(): string {
    return `ObjectContaining ${format(this.sample)}`;
  }
}

class ArrayContaining extends Asymmetric {
  constructor(private readonly sample: unknown[]) {
    super();
  }
  asymmetricMatch(other: unknown): boolean {
    return Array.isArray(other) && this.sample.every((s) => other.some((o) => equals(o, s)));
  }
  toString(): string {
    return `ArrayContaining ${format(this.sample)}`;
  }
}

class StringMatching extends Asymmetric {
  constructor(private readonly pattern: RegExp | string) {
    super();
  }
  asymmetricMatch(other: unknown): boolean {
    return typeof other === "string" && (typeof this.pattern === "string" ? other.includes(this.pattern) : this.pattern.test(other));
  }
  toString(): string {
    return `StringMatching ${String(this.pattern)}`;
  }
}

// ------------------------------------------------------------------ equality

const tag = (v: unknown) => Object.prototype.toString.call(v);

function isAsymmetric(v: unknown): v is Asymmetric {
  return typeof v === "object" && v !== null && typeof (v as Asymmetric).asymmetricMatch === "function";
}

function definedKeys(o: object, strict: boolean): string[] {
  const keys = Object.keys(o);
  return strict ? keys : keys.filter((k) => (o as Record<string, unknown>)[k] !== undefined);
}

/**
 * jest's `equals`: Object.is for primitives, the same `Object.prototype.toString` tag for objects,
 * element-wise arrays and typed arrays, Maps and Sets by content, Errors by name and message,
 * plain objects by their enumerable own keys (undefined-valued keys ignored unless `strict`,
 * where constructors must match too).
 *
 * Iterative, not recursive: the pairs still to compare are on a list of our own, so a deep
 * structure costs heap, not JavaScript stack. The strict XS run gives a test the device's 384
 * stack slots, and a recursive comparison spent about 37 of them per level of nesting (a packet's
 * will, its properties, a user property pair: past the limit), which the code under test never
 * does. A pair met again (a cycle, or a shared object) counts as equal: any difference found
 * elsewhere ends the comparison at once, so every pair already met is equal or still being compared.
 */
export function equals(a: unknown, b: unknown, strict = false): boolean {
  const todo: unknown[] = [a, b];
  const met = new Map<object, object[]>();
  while (todo.length) {
    const y = todo.pop();
    const x = todo.pop();
    if (!shallowEquals(x, y, strict, todo, met)) return false;
  }
  return true;
}

/**
 * Compares `x` and `y` but for their members, which it pushes on `todo` as (x', y') pairs;
 * false at a difference.
 */
function shallowEquals(x: unknown, y: unknown, strict: boolean, todo: unknown[], met: Map<object, object[]>): boolean {
  if (isAsymmetric(y)) return y.asymmetricMatch(x);
  if (isAsymmetric(x)) return x.asymmetricMatch(y);
  if (Object.is(x, y)) return true;
  if (typeof x !== "object" || typeof y !== "object" || x === null || y === null) return false;
  if (tag(x) !== tag(y)) return false;
  if (strict && Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false;
  const partners = met.get(x);
  if (partners?.includes(y)) return true;
  if (partners) partners.push(y);
  else met.set(x, [y]);
  if (x instanceof Error && y instanceof Error) return x.name === y.name && x.message === y.message;
  if (x instanceof Date && y instanceof Date) return Object.is(x.getTime(), y.getTime());
  if (x instanceof RegExp && y instanceof RegExp) return x.source === y.source && x.flags === y.flags;
  const bytes = x instanceof ArrayBuffer && y instanceof ArrayBuffer;
  if (bytes || (ArrayBuffer.isView(x) && ArrayBuffer.isView(y) && !(x instanceof DataView))) {
    const p = (bytes ? new Uint8Array(x) : x) as unknown as ArrayLike<unknown>;
    const q = (bytes ? new Uint8Array(y) : y) as unknown as ArrayLike<unknown>;
    if (p.length !== q.length) return false;
    for (let i = 0; i < p.length; i++) if (!Object.is(p[i], q[i])) return false;
    return true;
  }
  if (x instanceof Map && y instanceof Map) {
    if (x.size !== y.size) return false;
    for (const [k, v] of x) {
      if (y.has(k)) todo.push(v, y.get(k));
      // a key that is not the same value: a search among y's entries, each a comparison of its own
      else if (![...y].some(([k2, v2]) => equals(k, k2, strict) && equals(v, v2, strict))) return false;
    }
    return true;
  }
  if (x instanceof Set && y instanceof Set) {
    if (x.size !== y.size) return false;
    for (const v of x) if (!y.has(v) && ![...y].some((w) => equals(v, w, strict))) return false;
    return true;
  }
  if (Array.isArray(x) && Array.isArray(y)) {
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) todo.push(x[i], y[i]);
    if (!strict) return true;
  }
  const kx = definedKeys(x, strict);
  const ky = definedKeys(y, strict);
  if (kx.length !== ky.length) return false;
  for (const k of kx) {
    if (!Object.hasOwn(y, k)) return false;
    todo.push((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]);
  }
  return true;
}

/** jest's `toMatchObject`: every property of `expected` matches in `actual`, recursively. */
function matchesObject(actual: unknown, expected: unknown): boolean {
  if (isAsymmetric(expected)) return expected.asymmetricMatch(actual);
  if (typeof expected !== "object" || expected === null) return equals(actual, expected);
  if (typeof actual !== "object" || actual === null) return false;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matchesObject(actual[i], e));
  }
  if (
    expected instanceof Date ||
    expected instanceof RegExp ||
    expected instanceof Map ||
    expected instanceof Set ||
    ArrayBuffer.isView(expected)
  )
    return equals(actual, expected);
  for (const k of Object.keys(expected)) {
    if (!(k in actual)) return false;
    if (!matchesObject((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k])) return false;
  }
  return true;
}

// ------------------------------------------------------------------ mocks

export interface MockState {
  calls: unknown[][];
  results: { type: "return" | "throw"; value: unknown }[];
}

export interface Mock {
  (...args: unknown[]): unknown;
  mock: MockState;
  mockImplementation(fn: (...args: unknown[]) => unknown): Mock;
  mockReturnValue(v: unknown): Mock;
  mockClear(): Mock;
  _isMockFunction: true;
}

export function fn(impl?: (...args: unknown[]) => unknown): Mock {
  let implementation = impl;
  const state: MockState = { calls: [], results: [] };
  const mock = function (this: unknown, ...args: unknown[]) {
    state.calls.push(args);
    try {
      const value = implementation ? implementation.apply(this, args) : undefined;
      state.results.push({ type: "return", value });
      return value;
    } catch (e) {
      state.results.push({ type: "throw", value: e });
      throw e;
    }
  } as Mock;
  mock.mock = state;
  mock._isMockFunction = true;
  mock.mockImplementation = (f) => ((implementation = f), mock);
  mock.mockReturnValue = (v) => ((implementation = () => v), mock);
  mock.mockClear = () => ((state.calls.length = 0), (state.results.length = 0), mock);
  return mock;
}

function asMock(v: unknown): Mock {
  if (typeof v !== "function" || !(v as Mock)._isMockFunction) throw new AssertionError(`${format(v)} is not a mock function (jest.fn())`);
  return v as Mock;
}

// ------------------------------------------------------------------ matchers

type Check = { pass: boolean; message: () => string };

function thrownMatches(thrown: unknown, expected: unknown): Check {
  const message = (thrown as Error)?.message ?? String(thrown);
  if (expected === undefined) return { pass: true, message: () => `threw ${format(thrown)}` };
  if (typeof expected === "string")
    return {
      pass: String(message).includes(expected),
      message: () => `thrown message ${format(message)} should include ${format(expected)}`,
    };
  if (expected instanceof RegExp)
    return { pass: expected.test(String(message)), message: () => `thrown message ${format(message)} should match ${expected}` };
  if (typeof expected === "function")
    return {
      pass: thrown instanceof (expected as new () => unknown),
      message: () => `thrown ${format(thrown)} should be an instance of ${(expected as { name: string }).name}`,
    };
  if (expected instanceof Error)
    return { pass: message === expected.message, message: () => `thrown message ${format(message)} should be ${format(expected.message)}` };
  if (isAsymmetric(expected))
    return { pass: expected.asymmetricMatch(thrown), message: () => `thrown ${format(thrown)} should match ${expected}` };
  return { pass: false, message: () => `toThrow takes a string, RegExp, class or Error, got ${format(expected)}` };
}

/** Each matcher: (received, ...expected) → Check. `thrown` marks matchers over a thrown value. */
const matchers: Record<string, (received: unknown, ...args: any[]) => Check> = {
  toBe: (r, e) => ({ pass: Object.is(r, e), message: () => `expected ${format(r)} to be ${format(e)}` }),
  toEqual: (r, e) => ({ pass: equals(r, e), message: () => `expected ${format(r)} to equal ${format(e)}` }),
  toStrictEqual: (r, e) => ({ pass: equals(r, e, true), message: () => `expected ${format(r)} to strictly equal ${format(e)}` }),
  toMatchObject: (r, e) => ({ pass: matchesObject(r, e), message: () => `expected ${format(r)} to match object ${format(e)}` }),
  toBeNull: (r) => ({ pass: r === null, message: () => `expected ${format(r)} to be null` }),
  toBeUndefined: (r) => ({ pass: r === undefined, message: () => `expected ${format(r)} to be undefined` }),
  toBeDefined: (r) => ({ pass: r !== undefined, message: () => `expected ${format(r)} to be defined` }),
  toBeTruthy: (r) => ({ pass: !!r, message: () => `expected ${format(r)} to be truthy` }),
  toBeFalsy: (r) => ({ pass: !r, message: () => `expected ${format(r)} to be falsy` }),
  toBeNaN: (r) => ({ pass: typeof r === "number" && Number.isNaN(r), message: () => `expected ${format(r)} to be NaN` }),
  toBeGreaterThan: (r, e) => ({ pass: (r as number) > e, message: () => `expected ${format(r)} > ${format(e)}` }),
  toBeGreaterThanOrEqual: (r, e) => ({ pass: (r as number) >= e, message: () => `expected ${format(r)} >= ${format(e)}` }),
  toBeLessThan: (r, e) => ({ pass: (r as number) < e, message: () => `expected ${format(r)} < ${format(e)}` }),
  toBeLessThanOrEqual: (r, e) => ({ pass: (r as number) <= e, message: () => `expected ${format(r)} <= ${format(e)}` }),
  toBeCloseTo: (r, e, digits = 2) => ({
    pass: Math.abs((r as number) - e) < 10 ** -digits / 2,
    message: () => `expected ${format(r)} to be close to ${format(e)} (${digits} digits)`,
  }),
  toBeInstanceOf: (r, e) => ({ pass: r instanceof e, message: () => `expected ${format(r)} to be an instance of ${e?.name}` }),
  toHaveLength: (r, e) => ({
    pass: (r as { length?: number })?.length === e,
    message: () => `expected length ${format((r as { length?: number })?.length)} to be ${e}`,
  }),
  toContain: (r, e) => ({
    pass: typeof r === "string" ? r.includes(e) : Array.from(r as Iterable<unknown>).some((x) => Object.is(x, e)),
    message: () => `expected ${format(r)} to contain ${format(e)}`,
  }),
  toContainEqual: (r, e) => ({
    pass: Array.from(r as Iterable<unknown>).some((x) => equals(x, e)),
    message: () => `expected ${format(r)} to contain an element equal to ${format(e)}`,
  }),
  toMatch: (r, e) => ({
    pass: typeof r === "string" && (typeof e === "string" ? r.includes(e) : (e as RegExp).test(r)),
    message: () => `expected ${format(r)} to match ${String(e)}`,
  }),
  toHaveProperty: (r, path, ...value) => {
    const parts = Array.isArray(path) ? path : String(path).split(".");
    let o: unknown = r;
    let found = true;
    for (const p of parts) {
      if (o === null || o === undefined || !(p in Object(o))) {
        found = false;
        break;
      }
      o = (o as Record<string, unknown>)[p];
    }
    const pass = found && (value.length === 0 || equals(o, value[0]));
    return { pass, message: () => `expected ${format(r)} to have property ${String(path)}${value.length ? ` = ${format(value[0])}` : ""}` };
  },
  toHaveBeenCalled: (r) => {
    const m = asMock(r);
    return { pass: m.mock.calls.length > 0, message: () => `expected the mock to have been called (calls: ${m.mock.calls.length})` };
  },
  toHaveBeenCalledTimes: (r, n) => {
    const m = asMock(r);
    return { pass: m.mock.calls.length === n, message: () => `expected ${n} calls, got ${m.mock.calls.length}` };
  },
  toHaveBeenCalledWith: (r, ...args) => {
    const m = asMock(r);
    return {
      pass: m.mock.calls.some((c) => equals(c, args)),
      message: () => `expected a call with ${format(args)}; calls: ${format(m.mock.calls)}`,
    };
  },
  toHaveBeenLastCalledWith: (r, ...args) => {
    const m = asMock(r);
    const last = m.mock.calls[m.mock.calls.length - 1];
    return {
      pass: last !== undefined && equals(last, args),
      message: () => `expected the last call with ${format(args)}, got ${format(last)}`,
    };
  },
};

/** Matchers whose received value is a function to call (or, after `.rejects`, the rejection). */
const throwMatchers = new Set(["toThrow", "toThrowError"]);

function check(name: string, received: unknown, args: unknown[], negate: boolean, isThrown: boolean): void {
  let result: Check;
  if (throwMatchers.has(name)) {
    if (isThrown) result = thrownMatches(received, args[0]);
    else {
      if (typeof received !== "function") throw new AssertionError(`${name} needs a function, got ${format(received)}`);
      let threw = false;
      let thrown: unknown;
      try {
        (received as () => unknown)();
      } catch (e) {
        threw = true;
        thrown = e;
      }
      result = threw ? thrownMatches(thrown, args[0]) : { pass: false, message: () => "expected the function to throw" };
      if (negate && threw && args[0] === undefined)
        result = { pass: true, message: () => `expected no throw, but it threw ${format(thrown)}` };
    }
  } else {
    const m = matchers[name];
    if (!m) throw new AssertionError(`expect(...).${name} is not supported by the XS shim (tools/xs/shim/expect.ts)`);
    result = m(received, ...args);
  }
  if (result.pass === negate) throw new AssertionError((negate ? "not: " : "") + result.message());
}

type Matchers = Record<string, (...args: unknown[]) => unknown>;

function matcherObject(received: unknown, negate: boolean, mode: "sync" | "resolves" | "rejects"): Matchers {
  const out: Matchers = {};
  for (const name of [...Object.keys(matchers), ...throwMatchers]) {
    out[name] = (...args: unknown[]) => {
      if (mode === "sync") {
        check(name, received, args, negate, false);
        return undefined;
      }
      return Promise.resolve(received).then(
        (value) => {
          if (mode === "rejects") throw new AssertionError(`expected a rejection, but it resolved with ${format(value)}`);
          check(name, value, args, negate, false);
        },
        (error) => {
          if (mode === "resolves") throw new AssertionError(`expected a resolution, but it rejected with ${format(error)}`);
          check(name, error, args, negate, true);
        },
      );
    };
  }
  return out;
}

export type Expectation = Matchers & {
  not: Matchers;
  resolves: Matchers & { not: Matchers };
  rejects: Matchers & { not: Matchers };
};

export function expect(received: unknown): Expectation {
  return Object.assign(matcherObject(received, false, "sync"), {
    not: matcherObject(received, true, "sync"),
    resolves: Object.assign(matcherObject(received, false, "resolves"), { not: matcherObject(received, true, "resolves") }),
    rejects: Object.assign(matcherObject(received, false, "rejects"), { not: matcherObject(received, true, "rejects") }),
  }) as Expectation;
}

expect.anything = () => new Anything();
expect.any = (type: unknown) => new Any(type);
expect.objectContaining = (sample: Record<string, unknown>) => new ObjectContaining(sample);
expect.arrayContaining = (sample: unknown[]) => new ArrayContaining(sample);
expect.stringContaining = (s: string) => new StringMatching(s);
expect.stringMatching = (p: RegExp | string) => new StringMatching(p);
