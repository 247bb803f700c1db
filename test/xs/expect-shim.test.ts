/**
 * The matchers the shared suites use behave the same under jest and under the XS test shim
 * (tools/xs/shim/expect.ts): this file runs in both (npm test, npm run test:xs), so a matcher
 * that passes or fails differently in one of them shows up here.
 */
function fails(f: () => unknown): void {
  let threw = false;
  try {
    f();
  } catch {
    threw = true;
  }
  if (!threw) throw new Error("the assertion should have failed");
}

async function failsAsync(f: () => Promise<unknown>): Promise<void> {
  let threw = false;
  try {
    await f();
  } catch {
    threw = true;
  }
  if (!threw) throw new Error("the assertion should have failed");
}

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}

describe("expect semantics shared by jest and the XS shim", () => {
  it("toBe is Object.is", () => {
    expect(NaN).toBe(NaN);
    fails(() => expect(0).toBe(-0));
    fails(() => expect({}).toBe({}));
    expect(1).not.toBe(2);
  });

  it("toEqual: deep, ignores undefined properties, checks array length and typed-array kind", () => {
    expect({ a: 1, b: undefined }).toEqual({ a: 1 });
    expect([1, [2, { c: "x" }]]).toEqual([1, [2, { c: "x" }]]);
    fails(() => expect([1, 2]).toEqual([1, 2, 3]));
    expect(new Uint8Array([1, 2])).toEqual(new Uint8Array([1, 2]));
    fails(() => expect(new Uint8Array([1, 2])).toEqual(new Uint8Array([1, 3])));
    fails(() => expect(new Uint8Array([1])).toEqual(new Int8Array([1])));
    expect(new Point(1, 2)).toEqual({ x: 1, y: 2 });
    fails(() => expect(new Point(1, 2)).toStrictEqual({ x: 1, y: 2 }));
    expect(new Map([["k", [1]]])).toEqual(new Map([["k", [1]]]));
    expect(new Set([1, 2])).toEqual(new Set([2, 1]));
    expect([new Error("boom")]).toEqual([new Error("boom")]);
    fails(() => expect(new Error("a")).toEqual(new Error("b")));
    expect({ a: 1 }).not.toEqual({ a: 2 });
    fails(() => expect({ a: 1 }).not.toEqual({ a: 1 }));
  });

  it("toEqual: as deep as a structure goes, with shared and cyclic parts (the shim's comparison takes no stack per level)", () => {
    // 300 levels: far past what a recursive comparison could do in the strict XS run's 384 stack slots
    const nest = (leaf: unknown) => {
      let v: unknown = leaf;
      for (let i = 0; i < 300; i++) v = i % 2 ? { v } : [v];
      return v;
    };
    expect(nest("x")).toEqual(nest("x"));
    fails(() => expect(nest("x")).toEqual(nest("y")));
    const shared = { s: [1, 2] };
    expect([shared, shared]).toEqual([{ s: [1, 2] }, { s: [1, 2] }]);
    fails(() => expect([shared, shared]).toEqual([{ s: [1, 2] }, { s: [1, 3] }]));
    type Cyclic = { name: string; self?: Cyclic };
    const a: Cyclic = { name: "a" };
    a.self = a;
    const b: Cyclic = { name: "a" };
    b.self = b;
    expect(a).toEqual(b);
    const c: Cyclic = { name: "c" };
    c.self = c;
    fails(() => expect(a).toEqual(c));
    expect(new Map([[{ k: 1 }, [1]]])).toEqual(new Map([[{ k: 1 }, [1]]]));
    fails(() => expect(new Map([[{ k: 1 }, [1]]])).toEqual(new Map([[{ k: 1 }, [2]]])));
  });

  it("toMatchObject matches a subset, recursively", () => {
    const err = Object.assign(new Error("x"), { code: "timeout", extra: 1 });
    expect(err).toMatchObject({ code: "timeout" });
    expect({ a: { b: 1, c: 2 }, d: 3 }).toMatchObject({ a: { b: 1 } });
    fails(() => expect({ a: { b: 1 } }).toMatchObject({ a: { b: 2 } }));
    fails(() => expect({ a: [1, 2] }).toMatchObject({ a: [1] }));
  });

  it("toThrow: any, by message substring, by RegExp, by class", () => {
    const boom = () => {
      throw new RangeError("would block here");
    };
    expect(boom).toThrow();
    expect(boom).toThrow("would block");
    expect(boom).toThrow(/block/);
    expect(boom).toThrow(RangeError);
    fails(() => expect(boom).toThrow(TypeError));
    fails(() => expect(boom).toThrow("nope"));
    fails(() => expect(() => undefined).toThrow());
    expect(() => undefined).not.toThrow();
  });

  it("order and containment matchers", () => {
    expect(2).toBeGreaterThan(1);
    expect(2).toBeGreaterThanOrEqual(2);
    expect(1).toBeLessThan(2);
    fails(() => expect(2).toBeLessThan(2));
    expect("a ✓ b").toContain("✓");
    expect([1, 2, 3]).toContain(2);
    fails(() => expect([{ a: 1 }]).toContain({ a: 1 }));
    expect([{ a: 1 }]).toContainEqual({ a: 1 });
    expect("cosock: boom").toMatch(/boom/);
    expect([1, 2]).toHaveLength(2);
    expect(null).toBeNull();
    expect(undefined).toBeUndefined();
    expect(0).toBeDefined();
    expect(new Point(0, 0)).toBeInstanceOf(Point);
    expect(0.1 + 0.2).toBeCloseTo(0.3);
  });

  it("resolves and rejects", async () => {
    await expect(Promise.resolve(5)).resolves.toBe(5);
    await expect(Promise.reject(Object.assign(new Error("t"), { code: "timeout" }))).rejects.toMatchObject({ code: "timeout" });
    await expect(Promise.reject(new TypeError("bad"))).rejects.toThrow(TypeError);
    await expect(Promise.reject(new Error("bad thing"))).rejects.toThrow("bad");
    await failsAsync(() => expect(Promise.resolve(1)).rejects.toBe(1));
    await failsAsync(() => expect(Promise.reject(new Error("x"))).resolves.toBe(1));
  });

  it("asymmetric matchers and mocks", () => {
    expect({ id: 7, name: "n" }).toEqual({ id: expect.any(Number), name: expect.anything() });
    expect({ a: 1, b: 2 }).toEqual(expect.objectContaining({ a: 1 }));
    expect([3, 1, 2]).toEqual(expect.arrayContaining([1, 2]));
    expect("hello world").toEqual(expect.stringMatching(/wor/));
    const f = jest.fn((x: number) => x * 2);
    expect(f(2)).toBe(4);
    expect(f).toHaveBeenCalledTimes(1);
    expect(f).toHaveBeenCalledWith(2);
    expect(f.mock.calls).toEqual([[2]]);
  });
});

describe("hooks run in jest's order", () => {
  const log: string[] = [];
  beforeAll(() => log.push("beforeAll"));
  beforeEach(() => log.push("outer before"));
  afterEach(() => log.push("outer after"));
  describe("inner", () => {
    beforeEach(() => log.push("inner before"));
    afterEach(() => log.push("inner after"));
    it("first", () => {
      log.push("test 1");
    });
    it("second", () => {
      expect(log).toEqual([
        "beforeAll",
        "outer before",
        "inner before",
        "test 1",
        "inner after",
        "outer after",
        "outer before",
        "inner before",
      ]);
    });
  });
  it.each([
    [1, 2, 3],
    [2, 3, 5],
  ])("each: %i + %i = %i", (a, b, sum) => {
    expect(a + b).toBe(sum);
  });
});
