/**
 * The UTF-8 codec the device uses: src/base/utf8.ts without TextEncoder/TextDecoder globals (Moddable
 * has none). Runs under jest and on XS (npm run test:xs) alike: the module is imported here for
 * the first time with the globals hidden, so it picks its fallback; the expected bytes are
 * written out, so no platform codec is needed to check it.
 */
type Utf8 = typeof import("../../src/base/utf8.js");

let codec: Utf8;

beforeAll(async () => {
  const g = globalThis as Record<string, unknown>;
  const names = ["TextEncoder", "TextDecoder"] as const;
  const saved = names.map((n) => Object.getOwnPropertyDescriptor(g, n));
  let looked = 0;
  try {
    for (const n of names)
      Object.defineProperty(g, n, {
        configurable: true,
        get: () => {
          looked++;
          return undefined;
        },
      });
    codec = await import("../../src/base/utf8.js");
  } finally {
    names.forEach((n, i) => {
      const d = saved[i];
      if (d) Object.defineProperty(g, n, d);
      else delete g[n];
    });
  }
  // Proof that the module was evaluated just now, without the platform codec.
  expect(looked).toBeGreaterThanOrEqual(2);
});

const cases: [string, number[]][] = [
  ["", []],
  ["ascii", [0x61, 0x73, 0x63, 0x69, 0x69]],
  ["é", [0xc3, 0xa9]],
  ["€uro", [0xe2, 0x82, 0xac, 0x75, 0x72, 0x6f]],
  ["😀", [0xf0, 0x9f, 0x98, 0x80]],
  ["\u{10FFFF}", [0xf4, 0x8f, 0xbf, 0xbf]],
  ["✓ 你好", [0xe2, 0x9c, 0x93, 0x20, 0xe4, 0xbd, 0xa0, 0xe5, 0xa5, 0xbd]],
];

describe("UTF-8 fallback codec (no TextEncoder/TextDecoder, as on the device)", () => {
  it("encodes and decodes 1- to 4-byte sequences", () => {
    for (const [text, bytes] of cases) {
      expect([...codec.encodeUtf8(text)]).toEqual(bytes);
      expect(codec.decodeUtf8(new Uint8Array(bytes))).toBe(text);
    }
  });

  it("replaces lone surrogates and malformed bytes with U+FFFD", () => {
    expect([...codec.encodeUtf8("\ud800")]).toEqual([0xef, 0xbf, 0xbd]);
    expect([...codec.encodeUtf8("a\udc00b")]).toEqual([0x61, 0xef, 0xbf, 0xbd, 0x62]);
    expect(codec.decodeUtf8(new Uint8Array([0xc0, 0x80]))).toBe("\ufffd\ufffd"); // overlong NUL
    expect(codec.decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80, 0x41]))).toMatch(/^\ufffd+A$/); // encoded surrogate
    expect(codec.decodeUtf8(new Uint8Array([0xe2, 0x82]))).toBe("\ufffd"); // truncated at the end
    expect(codec.decodeUtf8(new Uint8Array([0xff, 0x41]))).toBe("\ufffdA");
  });

  it("round-trips every code point boundary", () => {
    const points = [0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff];
    const text = points.map((p) => String.fromCodePoint(p)).join("");
    const bytes = codec.encodeUtf8(text);
    expect(bytes.length).toBe(1 + 2 + 2 + 3 + 3 + 3 + 3 + 3 + 4 + 4);
    expect(codec.decodeUtf8(bytes)).toBe(text);
  });
});
