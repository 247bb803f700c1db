/** Incremental UTF-8 validation, alone and inside the parser across chunk and fragment boundaries. */
import { Utf8Validator, isValidUtf8 } from "../../src/websocket/utf8-validator.js";
import { OP_CONTINUATION, OP_TEXT } from "../../src/websocket/opcodes.js";
import { MessageAssembler } from "../../src/websocket/assemble.js";
import { text as decode, byteByByte, concatAll, feed, frameFor, prng, randomChunks, utf8, whole } from "./codec-helpers.js";

const VALID = [
  "",
  "plain ASCII",
  "é",
  "€",
  "𝄞",
  "😀",
  "aé€𝄞😀中文 mixed",
  "\u0080\u07ff\u0800\uffff\ud7ff\ue000",
  String.fromCodePoint(0x10000, 0x10ffff),
];

/**
 * An independent oracle: decode code point by code point, then check the ranges (the validator
 * under test instead narrows the allowed range of each next byte). Where the engine has a fatal
 * TextDecoder it is checked too.
 */
function referenceValid(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let n: number;
    let cp: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) === 0xc0) (n = 1), (cp = c & 0x1f), (min = 0x80);
    else if ((c & 0xf0) === 0xe0) (n = 2), (cp = c & 0x0f), (min = 0x800);
    else if ((c & 0xf8) === 0xf0) (n = 3), (cp = c & 0x07), (min = 0x10000);
    else return false;
    for (let k = 1; k <= n; k++) {
      if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (b[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

type Fatal = { decode(b: Uint8Array): string };
const FatalDecoder = (globalThis as { TextDecoder?: new (label: string, o: { fatal: boolean }) => Fatal }).TextDecoder;
/** The engine's fatal decoder, if it refuses bad input (XS 13.3's decodes ED 7F BF 7F as "\udfff"). */
const platformDecoder = (() => {
  if (!FatalDecoder) return undefined;
  const d = new FatalDecoder("utf-8", { fatal: true });
  for (const bad of [[0xed, 0x7f, 0xbf, 0x7f], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xff]]) {
    try {
      d.decode(Uint8Array.from(bad));
      return undefined;
    } catch {
      // refused, as it should
    }
  }
  return d;
})();

/** The oracles' verdict (they must agree with each other too). */
function oracle(b: Uint8Array): boolean {
  const ref = referenceValid(b);
  if (platformDecoder) {
    let ok = true;
    try {
      platformDecoder.decode(b);
    } catch {
      ok = false;
    }
    if (ok !== ref) throw new Error(`oracles disagree on ${[...b]}`);
  }
  return ref;
}

/** Invalid sequences with the index of the first byte that must be refused. */
const INVALID: [string, number[], number][] = [
  ["C0 overlong", [0xc0, 0x80], 0],
  ["C1 overlong", [0xc1, 0xbf], 0],
  ["E0 overlong", [0xe0, 0x80, 0x80], 1],
  ["E0 9F overlong", [0xe0, 0x9f, 0xbf], 1],
  ["F0 overlong", [0xf0, 0x80, 0x80, 0x80], 1],
  ["F0 8F overlong", [0xf0, 0x8f, 0xbf, 0xbf], 1],
  ["surrogate U+D800", [0xed, 0xa0, 0x80], 1],
  ["surrogate U+DBFF", [0xed, 0xaf, 0xbf], 1],
  ["surrogate U+DC00", [0xed, 0xb0, 0x80], 1],
  ["surrogate U+DFFF", [0xed, 0xbf, 0xbf], 1],
  ["surrogate pair as CESU-8", [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80], 1],
  ["U+110000", [0xf4, 0x90, 0x80, 0x80], 1],
  ["F5 lead", [0xf5, 0x80, 0x80, 0x80], 0],
  ["F8 lead", [0xf8, 0x88, 0x80, 0x80, 0x80], 0],
  ["FE", [0xfe], 0],
  ["FF", [0xff], 0],
  ["stray continuation", [0x80], 0],
  ["stray continuation after ASCII", [0x61, 0x62, 0xbf], 2],
  ["2-byte with ASCII continuation", [0xc3, 0x41], 1],
  ["3-byte with ASCII at 3rd", [0xe2, 0x82, 0x41], 2],
  ["4-byte with space at 4th", [0xf0, 0x9f, 0x98, 0x20], 3],
  ["lead where continuation expected", [0xe2, 0xc3, 0xa9], 1],
  ["valid then bad", [0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f, 0xe2, 0x28, 0xa1], 7],
];

/** Incomplete at the end: accepted byte by byte but not complete. */
const TRUNCATED: number[][] = [[0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0x61, 0xf4, 0x8f, 0xbf]];

describe("Utf8Validator", () => {
  it("accepts valid text split at every offset, in two and in single-byte pieces", () => {
    for (const s of VALID) {
      const b = utf8(s);
      expect(isValidUtf8(b)).toBe(true);
      expect(oracle(b)).toBe(true);
      for (let k = 0; k <= b.length; k++) {
        const v = new Utf8Validator();
        expect(v.push(b.subarray(0, k))).toBe(-1);
        expect(v.push(b, k)).toBe(-1);
        expect(v.complete).toBe(true);
      }
      const v = new Utf8Validator();
      for (let i = 0; i < b.length; i++) expect(v.push(b, i, i + 1)).toBe(-1);
      expect(v.complete).toBe(true);
    }
  });

  it.each(INVALID)("refuses %s at the first bad byte", (_name, bytes, at) => {
    const b = Uint8Array.from(bytes);
    expect(isValidUtf8(b)).toBe(false);
    expect(oracle(b)).toBe(false);
    expect(new Utf8Validator().push(b)).toBe(at);
    // byte by byte: nothing before `at` is refused, `at` is
    const v = new Utf8Validator();
    for (let i = 0; i < at; i++) expect(v.push(b.subarray(i, i + 1))).toBe(-1);
    expect(v.push(b.subarray(at, at + 1))).toBe(0);
  });

  it("reports truncated sequences as incomplete, not as bad bytes", () => {
    for (const t of TRUNCATED) {
      const v = new Utf8Validator();
      expect(v.push(Uint8Array.from(t))).toBe(-1);
      expect(v.complete).toBe(false);
      expect(isValidUtf8(Uint8Array.from(t))).toBe(false);
    }
  });

  it("agrees with the oracles on random and near-UTF-8 bytes (seeded)", () => {
    const rand = prng(99);
    const pool = [
      0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3,
      0xf4, 0xf5, 0xff,
    ];
    let valid = 0;
    const mismatches: number[][] = [];
    for (let n = 0; n < 20000; n++) {
      const len = 1 + Math.floor(rand() * 8);
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) b[i] = pool[Math.floor(rand() * pool.length)];
      const ok = oracle(b);
      if (ok) valid++;
      if (isValidUtf8(b) !== ok) mismatches.push([...b]);
    }
    expect(mismatches).toEqual([]);
    expect(valid).toBeGreaterThan(100);
  });

  it("long inputs (word-at-a-time ASCII path) agree with byte-at-a-time and the oracles, at every alignment", () => {
    const rand = prng(100);
    const samples = ["é", "€", "😀", "\u07ff", "\u{10ffff}"].map((c) => utf8(c));
    const bad = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80], [0xe2, 0x28]];
    const backing = new Uint8Array(400);
    const mismatches: unknown[] = [];
    for (let n = 0; n < 3000; n++) {
      const parts: number[] = [];
      const len = 30 + Math.floor(rand() * 200);
      while (parts.length < len) {
        const r = rand();
        if (r < 0.9) parts.push(0x20 + Math.floor(rand() * 95));
        else if (r < 0.98) parts.push(...samples[Math.floor(rand() * samples.length)]);
        else parts.push(...bad[Math.floor(rand() * bad.length)]);
      }
      const offset = n & 7;
      backing.set(parts, offset);
      const b = backing.subarray(offset, offset + parts.length);
      const slow = new Utf8Validator();
      let slowAt = -1;
      for (let i = 0; i < b.length && slowAt < 0; i++) if (slow.push(b, i, i + 1) !== -1) slowAt = i;
      const fastAt = new Utf8Validator().push(b);
      if (fastAt !== slowAt) mismatches.push({ n, fastAt, slowAt });
      const ok = oracle(b);
      if (isValidUtf8(b) !== ok) mismatches.push({ n, ok });
    }
    expect(mismatches).toEqual([]);
  });
});

describe("UTF-8 in the parser", () => {
  const text = "aé€𝄞😀中文 — split me anywhere 𐍈";
  const bytes = utf8(text);

  it("accepts a text message split across two fragments at every offset, under any chunking", () => {
    for (let k = 0; k <= bytes.length; k++) {
      for (const role of ["server", "client"] as const) {
        const stream = concatAll([
          frameFor(role, { opcode: OP_TEXT, fin: false, payload: bytes.subarray(0, k) }),
          frameFor(role, { opcode: OP_CONTINUATION, payload: bytes.subarray(k) }),
        ]);
        for (const chunking of [whole, byteByByte, randomChunks(k + 1, 4)]) {
          const { rec } = feed(stream, { role }, chunking);
          expect(rec.errors()).toEqual([]);
          const m = new MessageAssembler();
          const out = rec.events.map((e) => (e.type === "data" ? m.push(e.piece) : undefined)).filter((r) => r !== undefined);
          expect(out).toHaveLength(1);
          expect(out[0]!.ok && decode(out[0]!.data)).toBe(text);
        }
      }
    }
  });

  it("accepts a message split into one-byte fragments", () => {
    const frames = Array.from(bytes, (_, i) =>
      frameFor("server", { opcode: i === 0 ? OP_TEXT : OP_CONTINUATION, fin: i === bytes.length - 1, payload: bytes.subarray(i, i + 1) }),
    );
    const { rec } = feed(concatAll(frames), { role: "server" }, randomChunks(3, 9));
    expect(rec.errors()).toEqual([]);
    expect(rec.events.filter((e) => e.type === "data")).toHaveLength(bytes.length);
  });

  it.each(INVALID)("refuses %s with 1007 as soon as the bad byte arrives, across fragments", (_name, bad, at) => {
    const prefix = utf8("ok ✓ ");
    const msg = concatAll([prefix, Uint8Array.from(bad), utf8(" tail")]);
    const badAt = prefix.length + at;
    // every split point of the message into two fragments; fed byte by byte
    for (let k = 0; k <= msg.length; k++) {
      const first = frameFor("server", { opcode: OP_TEXT, fin: false, payload: msg.subarray(0, k) });
      const second = frameFor("server", { opcode: OP_CONTINUATION, payload: msg.subarray(k) });
      const { rec, errorAt } = feed(concatAll([first, second]), { role: "server" }, byteByByte);
      expect(rec.errors()).toEqual([{ type: "error", code: 1007, reason: expect.any(String) }]);
      // the error comes with the bad byte: header(s) + payload bytes up to and including it
      const expected = badAt < k ? 6 + badAt + 1 : first.length + 6 + (badAt - k) + 1;
      expect(errorAt).toBe(expected);
      // no delivered piece contains the bad byte
      const delivered = rec.events.reduce((n, e) => n + (e.type === "data" ? e.piece.data.length : 0), 0);
      expect(delivered).toBeLessThanOrEqual(badAt);
    }
  });

  it("refuses a message that ends inside a sequence with 1007, at the final fragment's end", () => {
    for (const t of TRUNCATED) {
      const b = Uint8Array.from(t);
      for (let k = 0; k <= b.length; k++) {
        const stream = concatAll([
          frameFor("client", { opcode: OP_TEXT, fin: false, payload: b.subarray(0, k) }),
          frameFor("client", { opcode: OP_CONTINUATION, payload: b.subarray(k) }),
        ]);
        const { rec, errorAt } = feed(stream, { role: "client" }, byteByByte);
        expect(rec.errors()).toEqual([{ type: "error", code: 1007, reason: expect.any(String) }]);
        expect(errorAt).toBe(stream.length);
      }
    }
  });

  it("does not validate binary messages", () => {
    const { rec } = feed(frameFor("server", { opcode: 2, payload: Uint8Array.of(0xff, 0xc0, 0xed, 0xa0) }), { role: "server" });
    expect(rec.errors()).toEqual([]);
  });
});
