/**
 * The XS test shim: jest's `describe`/`it`/hooks/`expect`/`jest.fn` as globals, and a runner that
 * runs the registered tests one by one and reports them in a line protocol that
 * tools/xs/test-xs.ts reads:
 *
 *   @@start <name>               a test begins
 *   @@pass <ms> <name>           it passed
 *   @@fail <name>                it failed; the following "@@| <text>" lines say why
 *   @@na <name> @@ <reason>      not applicable on XS (listed in tools/xs/suites.ts)
 *   @@skip <name>                it.skip / it.todo
 *   @@done <passed> <failed> <na> <skipped>
 *
 * ES2022 only, no Node APIs: it runs under xsnap (XS 13.3). It also runs under Node for debugging.
 */
import { expect, fn, AssertionError } from "./expect.js";
import { format } from "./format.js";

type Fn = (...args: unknown[]) => unknown;

interface Test {
  kind: "test";
  name: string;
  fn: Fn | undefined;
  mode: "run" | "skip" | "only";
  parent: Block;
}

interface Block {
  kind: "block";
  name: string;
  parent: Block | undefined;
  children: (Block | Test)[];
  beforeAll: Fn[];
  afterAll: Fn[];
  beforeEach: Fn[];
  afterEach: Fn[];
  skip: boolean;
}

const g = globalThis as unknown as Record<string, unknown>;
const out: (line: string) => void =
  typeof g.print === "function" ? (g.print as (s: string) => void) : (line) => (g.console as { log(s: string): void }).log(line);

function newBlock(name: string, parent: Block | undefined, skip = false): Block {
  return { kind: "block", name, parent, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [], skip };
}

const root = newBlock("", undefined);
let current = root;
let anyOnly = false;

function fullName(b: Block | undefined, name: string): string {
  const parts = [name];
  for (let p = b; p && p !== root; p = p.parent) parts.unshift(p.name);
  return parts.join(" > ");
}

// ------------------------------------------------------------------ registration

function describe(name: string, body: () => void, skip = false): void {
  const b = newBlock(String(name), current, skip || current.skip);
  current.children.push(b);
  const saved = current;
  current = b;
  try {
    const r = body() as unknown;
    if (r && typeof (r as Promise<unknown>).then === "function") throw new Error(`describe("${name}") must not return a promise`);
  } finally {
    current = saved;
  }
}

function addTest(name: string, body: Fn | undefined, mode: Test["mode"]): void {
  if (mode === "only") anyOnly = true;
  current.children.push({ kind: "test", name: String(name), fn: body, mode: current.skip ? "skip" : mode, parent: current });
}

/** printf-style titles of `each`: %s %d %i %f %j %o %p %#, and $key for object rows. */
function eachTitle(title: string, row: unknown, index: number): string {
  const args = Array.isArray(row) ? [...row] : [row];
  let t = title.replace(/%([sdifjop#%])/g, (m, c: string) => {
    if (c === "%") return "%";
    if (c === "#") return String(index);
    if (args.length === 0) return m;
    const v = args.shift();
    if (c === "d" || c === "i") return String(Math.trunc(Number(v)));
    if (c === "f") return String(Number(v));
    if (c === "s") return typeof v === "string" ? v : format(v);
    if (c === "j") return JSON.stringify(v);
    return format(v);
  });
  if (!Array.isArray(row) && typeof row === "object" && row !== null)
    t = t.replace(/\$([A-Za-z_][\w.]*)/g, (m, path: string) => {
      let v: unknown = row;
      for (const p of path.split(".")) v = (v as Record<string, unknown> | undefined)?.[p];
      return v === undefined && !(path in row) ? m : format(v);
    });
  return t;
}

function each(register: (name: string, body: Fn) => void) {
  return (table: unknown[]) => (title: string, body: Fn) => {
    table.forEach((row, i) => {
      const args = Array.isArray(row) ? row : [row];
      register(eachTitle(title, row, i), () => body(...args));
    });
  };
}

const it = Object.assign((name: string, body?: Fn) => addTest(name, body, "run"), {
  skip: (name: string, body?: Fn) => addTest(name, body, "skip"),
  only: (name: string, body?: Fn) => addTest(name, body, "only"),
  todo: (name: string) => addTest(name, undefined, "skip"),
  each: each((name, body) => addTest(name, body, "run")),
});

const describeApi = Object.assign((name: string, body: () => void) => describe(name, body), {
  skip: (name: string, body: () => void) => describe(name, body, true),
  only: (name: string, body: () => void) => describe(name, body),
  each: (table: unknown[]) => (title: string, body: Fn) =>
    table.forEach((row, i) => describe(eachTitle(title, row, i), () => void body(...(Array.isArray(row) ? row : [row])))),
});

const unsupported = (what: string) => () => {
  throw new Error(`jest.${what} is not supported by the XS shim (one bundle, one module instance each)`);
};

const jestApi = {
  fn,
  resetModules: unsupported("resetModules"),
  isolateModules: unsupported("isolateModules"),
  mock: unsupported("mock"),
  useFakeTimers: unsupported("useFakeTimers"),
  setTimeout: () => undefined,
  spyOn(object: Record<string, unknown>, method: string) {
    const original = object[method] as Fn;
    const spy = fn((...args: unknown[]) => original.apply(object, args));
    Object.assign(spy, { mockRestore: () => (object[method] = original) });
    object[method] = spy;
    return spy;
  },
};

/** Installs the jest-like globals. Call before the test module is evaluated. */
export function installGlobals(): void {
  g.describe = describeApi;
  g.it = it;
  g.test = it;
  g.expect = expect;
  g.jest = jestApi;
  g.beforeEach = (f: Fn) => current.beforeEach.push(f);
  g.afterEach = (f: Fn) => current.afterEach.push(f);
  g.beforeAll = (f: Fn) => current.beforeAll.push(f);
  g.afterAll = (f: Fn) => current.afterAll.push(f);
  // The device has `trace`, not `console`: give the runtime's default log the device's path.
  if (typeof g.trace !== "function" && typeof g.console === "undefined") g.trace = (s: string) => out(String(s).replace(/\n$/, ""));
  // An exception thrown from a macrotask fails the running test, as jest does with Node's
  // uncaught exceptions (xsnap would abort the whole run).
  const setImmediate = g.setImmediate as ((f: () => void) => unknown) | undefined;
  if (typeof setImmediate === "function") {
    g.setImmediate = (f: Fn, ...args: unknown[]) =>
      setImmediate(() => {
        try {
          f(...args);
        } catch (e) {
          uncaught(e);
        }
      });
  }
}

// ------------------------------------------------------------------ running

let uncaughtErrors: unknown[] = [];

function uncaught(e: unknown): void {
  uncaughtErrors.push(e);
}

/**
 * Runs a hook or test body; like jest-circus, a test body may return only a promise or undefined.
 * The body starts from a promise job of its own, so that its synchronous part runs at the bottom
 * of the JavaScript stack (with the device's 384 slots, the runner's frames would count).
 */
function call(f: Fn, isTest = false): Promise<unknown> {
  return Promise.resolve().then(() => callNow(f, isTest));
}

function callNow(f: Fn, isTest: boolean): Promise<unknown> {
  if (f.length > 0) {
    // a `done` callback
    return new Promise((resolve, reject) => {
      const done = (err?: unknown) => (err ? reject(err) : resolve(undefined));
      try {
        f(done);
      } catch (e) {
        reject(e);
      }
    });
  }
  let r: unknown;
  try {
    r = f();
  } catch (e) {
    return Promise.reject(e);
  }
  if (isTest && r !== undefined && typeof (r as Promise<unknown> | null)?.then !== "function")
    return Promise.reject(new Error(`test functions can only return Promise or undefined. Returned value: ${format(r)}`));
  return Promise.resolve(r);
}

function describeError(e: unknown): string[] {
  if (e instanceof AssertionError) return [e.message];
  if (e instanceof Error) {
    const lines = [`${e.name}: ${e.message}`];
    const stack =
      typeof e.stack === "string"
        ? e.stack
            .split("\n")
            .slice(1)
            .filter((l) => l.trim() && l.trim() !== "at ()")
        : [];
    return lines.concat(stack.slice(0, 8));
  }
  return [`thrown: ${format(e)}`];
}

export interface RunOptions {
  /** Full test names ("describe > it") not applicable on XS, with the reason. */
  notApplicable?: Record<string, string>;
  /** Loads the test module (a dynamic import, so that the globals exist before it runs). */
  load: () => Promise<unknown>;
  /**
   * The device's limits, set once the module is loaded (needs the `device` build of xsnap,
   * tools/xs/build-xsnap.ts): the JavaScript stack in slots, and the bytes the heap may still
   * grow by. 0: that limit is not set.
   */
  limits?: { stack: number; heap: number };
  /**
   * Runs only the tests whose own name (not the describe blocks') starts with this text; the others are neither run nor
   * reported (the XS app test runs each device app in an xsnap of its own this way).
   */
  select?: string;
}

export interface Summary {
  passed: number;
  failed: number;
  na: number;
  skipped: number;
}

/** Loads the suite, runs every test in order, prints the protocol; resolves with the counts. */
export async function run(options: RunOptions): Promise<Summary> {
  const summary: Summary = { passed: 0, failed: 0, na: 0, skipped: 0 };
  const na = new Map(Object.entries(options.notApplicable ?? {}));
  const used = new Set<string>();
  const fail = (name: string, lines: string[]) => {
    summary.failed++;
    out(`@@fail ${name}`);
    for (const l of lines) for (const part of l.split("\n")) out(`@@| ${part}`);
  };
  try {
    await options.load();
  } catch (e) {
    fail("(loading the test module)", describeError(e));
    out(`@@done ${summary.passed} ${summary.failed} ${summary.na} ${summary.skipped}`);
    return summary;
  }
  if (options.limits) {
    const limit = g.cosockLimits as ((stack: number, heap: number) => number) | undefined;
    if (typeof limit !== "function") {
      fail("(setting the device's limits)", ["this xsnap has no cosockLimits(): it is not the device build"]);
      out(`@@done ${summary.passed} ${summary.failed} ${summary.na} ${summary.skipped}`);
      return summary;
    }
    await null; // from a promise job: only this frame is on the stack
    (g.gc as () => void)(); // what loading left behind is not the suite's
    limit(options.limits.stack, options.limits.heap);
  }

  const select = options.select;
  const selected = (_b: Block, t: Test) => select === undefined || t.name.startsWith(select);
  const hasRunnable = (b: Block): boolean =>
    b.children.some((c) =>
      c.kind === "block"
        ? hasRunnable(c)
        : c.mode !== "skip" && (!anyOnly || c.mode === "only") && !na.has(fullName(b, c.name)) && selected(b, c),
    );

  // runBlock and runTest begin with `await null`: a nested block or test then goes on from a
  // promise job instead of from its caller's frame, so the runner's frames never pile up.
  async function runBlock(b: Block): Promise<void> {
    await null;
    const runnable = hasRunnable(b);
    let setupFailed: unknown[] | undefined;
    if (runnable)
      for (const f of b.beforeAll) {
        try {
          await call(f);
        } catch (e) {
          setupFailed = describeError(e);
          break;
        }
      }
    for (const child of b.children) {
      if (child.kind === "block") {
        await runBlock(child);
        continue;
      }
      const name = fullName(b, child.name);
      if (!selected(b, child)) continue;
      const reason = na.get(name);
      if (reason !== undefined) {
        used.add(name);
        summary.na++;
        out(`@@na ${name} @@ ${reason}`);
        continue;
      }
      if (child.mode === "skip" || !child.fn || (anyOnly && child.mode !== "only")) {
        summary.skipped++;
        out(`@@skip ${name}`);
        continue;
      }
      if (setupFailed) {
        fail(name, ["beforeAll failed:", ...(setupFailed as string[])]);
        continue;
      }
      await runTest(child, name);
    }
    if (runnable)
      for (const f of b.afterAll) {
        try {
          await call(f);
        } catch (e) {
          fail(`${fullName(b.parent, b.name)} (afterAll)`, describeError(e));
        }
      }
  }

  async function runTest(t: Test, name: string): Promise<void> {
    await null;
    const chain: Block[] = [];
    for (let p: Block | undefined = t.parent; p; p = p.parent) chain.unshift(p);
    const errors: string[] = [];
    uncaughtErrors = [];
    out(`@@start ${name}`);
    const t0 = now();
    let ok = true;
    try {
      for (const b of chain) for (const f of b.beforeEach) await call(f);
      await call(t.fn as Fn, true);
    } catch (e) {
      ok = false;
      errors.push(...describeError(e));
    }
    for (const b of [...chain].reverse())
      for (const f of b.afterEach) {
        try {
          await call(f);
        } catch (e) {
          ok = false;
          errors.push("afterEach failed:", ...describeError(e));
        }
      }
    if (uncaughtErrors.length) {
      ok = false;
      for (const e of uncaughtErrors) errors.push("uncaught exception in a macrotask:", ...describeError(e));
      uncaughtErrors = [];
    }
    if (ok) {
      summary.passed++;
      out(`@@pass ${Math.round(now() - t0)} ${name}`);
    } else fail(name, errors);
  }

  await runBlock(root);
  for (const name of na.keys())
    if (!used.has(name)) fail(name, ["listed as not applicable on XS in tools/xs/suites.ts, but no test has this name"]);
  out(`@@done ${summary.passed} ${summary.failed} ${summary.na} ${summary.skipped}`);
  return summary;
}

function now(): number {
  const p = g.performance as { now(): number } | undefined;
  return p ? p.now() : Date.now();
}
