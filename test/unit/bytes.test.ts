import { n2h, h2n, concat, SocketError } from "../../src/index.js";
import { indexOf } from "../../src/bytes.js";
import { encodeUtf8, decodeUtf8 } from "../../src/base/utf8.js";

describe("n2h / h2n", () => {
  it("round-trips every size and matches the seed's example", () => {
    expect(n2h(2, h2n(2, 0x1234))).toBe(4660);
    for (let size = 1; size <= 6; size++) {
      const max = 2 ** (8 * size) - 1;
      for (const n of [0, 1, 255, Math.floor(max / 3), max]) expect(n2h(size, h2n(size, n))).toBe(n);
    }
    expect([...h2n(4, 0x01020304)]).toEqual([1, 2, 3, 4]);
    expect([...h2n(2, -1)]).toEqual([255, 255]);
    expect(n2h(8, h2n(8, 2 ** 40 + 5))).toBe(2 ** 40 + 5);
  });
  it("reads at a 0-based offset and refuses to read past the end or odd sizes", () => {
    const d = new Uint8Array([9, 9, 0, 0, 1, 0]);
    expect(n2h(4, d, 2)).toBe(256);
    expect(() => n2h(4, d, 3)).toThrow(SocketError);
    expect(() => n2h(9, d)).toThrow(SocketError);
    expect(() => h2n(0, 1)).toThrow(SocketError);
  });
});

describe("byte helpers", () => {
  it("finds patterns, including at the edges and after partial matches", () => {
    const hay = encodeUtf8("aab--b--boundary--end");
    expect(indexOf(hay, encodeUtf8("--boundary--"))).toBe(6);
    expect(indexOf(hay, encodeUtf8("aab"))).toBe(0);
    expect(indexOf(hay, encodeUtf8("end"))).toBe(18);
    expect(indexOf(hay, encodeUtf8("ends"))).toBe(-1);
    expect(indexOf(hay, encodeUtf8("b"), 3)).toBe(5);
  });
  it("joins without copying an empty side", () => {
    const a = new Uint8Array([1]);
    expect(concat(a, new Uint8Array(0))).toBe(a);
    expect([...concat(a, new Uint8Array([2, 3]))]).toEqual([1, 2, 3]);
  });
});

describe("UTF-8 without the platform's TextEncoder", () => {
  it("the fallback codec matches the platform's on tricky text", async () => {
    const g = globalThis as { TextEncoder?: unknown; TextDecoder?: unknown };
    const saved = [g.TextEncoder, g.TextDecoder];
    let fallback: typeof import("../../src/base/utf8.js");
    try {
      g.TextEncoder = undefined;
      g.TextDecoder = undefined;
      jest.resetModules();
      fallback = await import("../../src/base/utf8.js");
    } finally {
      [g.TextEncoder, g.TextDecoder] = saved;
    }
    for (const s of ["", "ascii", "é", "€uro", "😀 emoji", "\u{10FFFF}", "mixed ✓ text 你好"]) {
      expect([...fallback.encodeUtf8(s)]).toEqual([...encodeUtf8(s)]);
      expect(fallback.decodeUtf8(encodeUtf8(s))).toBe(s);
    }
    // lone surrogates and malformed bytes become U+FFFD, as the platform does
    expect(fallback.decodeUtf8(new Uint8Array([0xc0, 0x80]))).toBe(decodeUtf8(new Uint8Array([0xc0, 0x80])));
    expect(fallback.decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80, 0x41]))).toContain("A");
    expect([...fallback.encodeUtf8("\ud800")]).toEqual([0xef, 0xbf, 0xbd]);
  });
});
