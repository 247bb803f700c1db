/** The frame writer, the close payload helpers and the masking XOR. */
import {
  encodeClose,
  encodeFrame,
  encodeFrameBytes,
  encodePing,
  encodePong,
  fragment,
  fragmentCount,
  frameBytes,
  frameHeader,
} from "../../src/websocket/frame-writer.js";
import { encodeClosePayload, isValidCloseCode, parseClosePayload } from "../../src/websocket/close.js";
import { xorMask } from "../../src/websocket/mask.js";
import { OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT } from "../../src/websocket/opcodes.js";
import { SocketError } from "../../src/errors.js";
import {
  KEY,
  concatAll,
  text as decode,
  byteByByte,
  digest,
  feed,
  framesOf,
  prng,
  randomBytes,
  randomChunks,
  sameBytes,
  utf8,
  whole,
} from "./codec-helpers.js";

describe("encodeFrame", () => {
  it("uses the shortest length encoding", () => {
    const cases: [number, number[]][] = [
      [0, [0x82, 0]],
      [125, [0x82, 125]],
      [126, [0x82, 126, 0, 126]],
      [65535, [0x82, 126, 255, 255]],
      [65536, [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]],
      [70000, [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]],
    ];
    for (const [n, header] of cases) {
      const payload = new Uint8Array(n);
      const f = encodeFrame({ opcode: OP_BINARY, payload });
      expect([...f.header]).toEqual(header);
      expect(f.payload).toBe(payload); // unmasked: passed through, no copy
      const m = encodeFrame({ opcode: OP_BINARY, payload, mask: KEY });
      expect([...m.header]).toEqual([header[0], header[1] | 0x80, ...header.slice(2), ...KEY]);
      expect([...frameHeader(OP_BINARY, true, n, KEY)]).toEqual([...m.header]);
    }
    expect(frameHeader(OP_TEXT, false, 5)[0]).toBe(0x01);
    expect(frameHeader(OP_CONTINUATION, true, 5)[0]).toBe(0x80);
  });

  it("encodeFrameBytes makes the same bytes as frameBytes(encodeFrame), in one new array, the payload left alone", () => {
    for (const n of [0, 1, 125, 126, 4096, 65535, 65536]) {
      const payload = randomBytes(n, prng(n + 1));
      const before = payload.slice();
      for (const mask of [undefined, KEY]) {
        for (const fin of [true, false]) {
          const one = encodeFrameBytes(OP_TEXT, fin, payload, mask);
          expect(sameBytes(one, frameBytes(encodeFrame({ opcode: OP_TEXT, fin, payload, mask })))).toBe(true);
          expect(one.buffer).not.toBe(payload.buffer);
        }
      }
      expect(sameBytes(payload, before)).toBe(true);
    }
    expect(() => encodeFrameBytes(OP_PING, true, new Uint8Array(126))).toThrow(SocketError);
  });

  it("masks into one new buffer, leaving the caller's payload alone; frameBytes joins without copying", () => {
    const payload = randomBytes(1000, prng(1));
    const before = payload.slice();
    const f = encodeFrame({ opcode: OP_BINARY, payload, mask: KEY });
    expect(payload).toEqual(before);
    for (let i = 0; i < payload.length; i++) expect(f.payload[i]).toBe(payload[i] ^ KEY[i & 3]);
    const joined = frameBytes(f);
    expect(joined.buffer).toBe(f.header.buffer);
    expect(joined.length).toBe(f.header.length + 1000);
    // unmasked: a copy
    const u = encodeFrame({ opcode: OP_TEXT, payload: utf8("hi") });
    expect([...frameBytes(u)]).toEqual([0x81, 2, 0x68, 0x69]);
    expect(frameBytes(encodePing()).length).toBe(2);
  });

  it("round-trips through the parser for every size, role and chunking", () => {
    const rand = prng(5);
    for (const n of [0, 1, 125, 126, 65535, 65536]) {
      const payload = randomBytes(n, rand);
      for (const role of ["server", "client"] as const) {
        // a server parses client frames (masked), a client parses server frames (unmasked)
        const f = encodeFrame({ opcode: OP_BINARY, payload, mask: role === "server" ? randomBytes(4, rand) : undefined });
        for (const chunking of [whole, byteByByte, randomChunks(n)]) {
          const { rec } = feed(frameBytes(f), { role }, chunking);
          expect(rec.errors()).toEqual([]);
          const frames = framesOf(rec.events);
          expect(frames).toHaveLength(1);
          expect(sameBytes(frames[0].data, payload)).toBe(true);
        }
      }
    }
  });

  it("refuses misuse with incorrectuse", () => {
    const bad = [
      () => encodeFrame({ opcode: 3, payload: new Uint8Array(0) }),
      () => encodeFrame({ opcode: 16, payload: new Uint8Array(0) }),
      () => encodeFrame({ opcode: OP_PING, fin: false, payload: new Uint8Array(0) }),
      () => encodeFrame({ opcode: OP_PONG, payload: new Uint8Array(126) }),
      () => encodeFrame({ opcode: OP_TEXT, payload: new Uint8Array(1), mask: new Uint8Array(3) }),
      () => encodePing(new Uint8Array(126)),
      () => encodePong(new Uint8Array(126)),
    ];
    for (const f of bad) expect(f).toThrow(SocketError);
    expect(encodePing(new Uint8Array(125)).header[1]).toBe(125);
  });
});

describe("close payloads", () => {
  it("validates codes: 1000–1003, 1007–1014, 3000–4999", () => {
    const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
    const invalid = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1999, 2000, 2999, 5000, 65535, 1000.5, NaN];
    for (const c of valid) expect(isValidCloseCode(c)).toBe(true);
    for (const c of invalid) expect(isValidCloseCode(c)).toBe(false);
    for (const c of invalid) expect(() => encodeClose(c)).toThrow(SocketError);
  });

  it("encodes code and reason, up to 123 bytes of reason", () => {
    expect([...encodeClose().header]).toEqual([0x88, 0]);
    const f = encodeClose(1001, "bye ✓");
    expect(f.header[0]).toBe(0x88);
    expect(parseClosePayload(f.payload)).toEqual({ ok: true, code: 1001, reason: "bye ✓" });
    expect(encodeClose(4000, "x".repeat(123)).header[1]).toBe(125);
    expect(() => encodeClose(4000, "x".repeat(124))).toThrow(SocketError);
    expect(() => encodeClose(4000, "é".repeat(62))).toThrow(SocketError); // 124 bytes
    expect(() => encodeClose(undefined, "reason without a code")).toThrow(SocketError);
    expect(() => encodeClosePayload(1000, Uint8Array.of(0xff))).toThrow(SocketError);
    const masked = encodeClose(1000, "", KEY);
    expect(masked.header[1]).toBe(0x82);
  });

  it("parses what the parser gets", () => {
    expect(parseClosePayload(new Uint8Array(0))).toEqual({ ok: true, code: 1005, reason: "" });
    expect(parseClosePayload(Uint8Array.of(3))).toMatchObject({ ok: false, code: 1002 });
    expect(parseClosePayload(Uint8Array.of(3, 0xed))).toMatchObject({ ok: false, code: 1002 });
    expect(parseClosePayload(Uint8Array.of(3, 0xe8, 0xc3))).toMatchObject({ ok: false, code: 1007 });
  });
});

describe("fragment", () => {
  const cut = (n: number, max: number, isText = false) =>
    [...fragment(new Uint8Array(n), isText, max)].map((s) => [s.opcode, s.fin, s.payload.length]);

  it("cuts a message into frames of at most maxFrame bytes", () => {
    expect(cut(0, 10)).toEqual([[OP_BINARY, true, 0]]);
    expect(cut(10, 10, true)).toEqual([[OP_TEXT, true, 10]]);
    expect(cut(11, 10)).toEqual([
      [OP_BINARY, false, 10],
      [OP_CONTINUATION, true, 1],
    ]);
    expect(cut(30, 10, true)).toEqual([
      [OP_TEXT, false, 10],
      [OP_CONTINUATION, false, 10],
      [OP_CONTINUATION, true, 10],
    ]);
    expect(cut(65536 * 2 + 1, 65536).map((f) => f[2])).toEqual([65536, 65536, 1]);
    for (const n of [0, 1, 10, 11, 30, 31]) expect(fragmentCount(n, 10)).toBe(cut(n, 10).length);
    expect(() => fragment(new Uint8Array(1), false, 0)).toThrow(SocketError);
  });

  it("hands out views, not copies, and the whole payload when it fits", () => {
    const p = new Uint8Array(25);
    const specs = [...fragment(p, false, 10)];
    for (const s of specs) expect(s.payload.buffer).toBe(p.buffer);
    expect([...fragment(p, false, 25)][0].payload).toBe(p);
  });

  it("fragments of a text message (cut inside characters) parse back to the message", () => {
    const text = "€𝄞".repeat(50);
    const bytes = utf8(text);
    const rand = prng(8);
    const parts = [...fragment(bytes, true, 7)].map((s) => frameBytes(encodeFrame({ ...s, mask: randomBytes(4, rand) })));
    const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (stream.set(p, at), at + p.length), 0);
    const { rec } = feed(stream, { role: "server" }, randomChunks(2, 5));
    expect(rec.errors()).toEqual([]);
    const frames = framesOf(rec.events);
    expect(frames.length).toBe(fragmentCount(bytes.length, 7));
    expect(decode(concatAll(frames.map((f) => f.data)))).toBe(text);
    expect(digest(frames).every((d) => d.includes("/t/"))).toBe(true);
  });
});

describe("xorMask", () => {
  it("matches a naive XOR for every length, phase and alignment", () => {
    const rand = prng(77);
    const key = randomBytes(4, rand);
    const big = randomBytes(300, rand);
    for (let offset = 0; offset < 4; offset++) {
      for (const len of [0, 1, 2, 3, 4, 5, 7, 31, 32, 33, 63, 64, 65, 100, 255]) {
        for (let phase = 0; phase < 4; phase++) {
          const buf = big.slice();
          const view = buf.subarray(offset, offset + len);
          xorMask(view, key, phase + 8);
          for (let i = 0; i < 300; i++) {
            const inside = i >= offset && i < offset + len;
            const want = inside ? big[i] ^ key[(phase + i - offset) & 3] : big[i];
            if (buf[i] !== want) throw new Error(`offset ${offset} len ${len} phase ${phase} byte ${i}`);
          }
        }
      }
    }
  });

  it("unmasking a payload in pieces with the carried phase equals unmasking it whole", () => {
    const rand = prng(78);
    const key = randomBytes(4, rand);
    const data = randomBytes(5000, rand);
    const whole = data.slice();
    xorMask(whole, key, 0);
    const pieces = data.slice();
    let at = 0;
    while (at < pieces.length) {
      const n = Math.min(pieces.length - at, 1 + Math.floor(rand() * 200));
      xorMask(pieces.subarray(at, at + n), key, at);
      at += n;
    }
    expect(sameBytes(pieces, whole)).toBe(true);
    // an all-zero key changes nothing
    const z = data.slice();
    xorMask(z, new Uint8Array(4), 1);
    expect(sameBytes(z, data)).toBe(true);
  });
});

describe("opcodes", () => {
  it("close frames are control frames", () => {
    expect(encodeClose(1000).header[0] & 0x0f).toBe(OP_CLOSE);
  });
});
