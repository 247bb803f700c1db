import { FrameParser } from "../../src/websocket/frame-parser.js";
import { FrameAssembler, MessageAssembler } from "../../src/websocket/assemble.js";
import { OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT } from "../../src/websocket/opcodes.js";
import {
  KEY,
  Recorder,
  byteByByte,
  concatAll,
  digest,
  feed,
  feedDigests,
  frameFor,
  framesOf,
  prng,
  randomBytes,
  randomChunks,
  rawFrame,
  sameBytes,
  text,
  utf8,
  whole,
} from "./codec-helpers.js";
import type { Chunking } from "./codec-helpers.js";

const roles = ["server", "client"] as const;
const chunkings: Chunking[] = [whole, byteByByte, randomChunks(1), randomChunks(2, 7), randomChunks(3, 5000)];

describe("frame sizes and length encodings, under any chunking", () => {
  const rand = prng(42);
  const sizes = [0, 1, 125, 126, 127, 65535, 65536];
  const payloads = new Map(sizes.map((n) => [n, randomBytes(n, rand)]));

  for (const role of roles) {
    for (const size of sizes) {
      const payload = payloads.get(size)!;
      const bytes = frameFor(role, { opcode: OP_BINARY, payload });
      for (const chunking of chunkings) {
        it(`${role}: a ${size}-byte frame, ${chunking.name}`, () => {
          if (chunking !== whole) {
            // digested as the pieces come (FrameDigester: framesOf's checks), not recorded
            const got = feedDigests(bytes, { role }, chunking);
            expect(got.controls).toEqual([]);
            expect(got.frames).toEqual(digest([{ opcode: OP_BINARY, fin: true, isText: false, data: payload }]));
            expect(got.parser.idle).toBe(true);
            return;
          }
          const { rec, parser } = feed(bytes, { role }, chunking);
          expect(rec.errors()).toEqual([]);
          const frames = framesOf(rec.events);
          expect(frames).toHaveLength(1);
          expect(frames[0].opcode).toBe(OP_BINARY);
          expect(frames[0].fin).toBe(true);
          expect(frames[0].isText).toBe(false);
          expect(sameBytes(frames[0].data, payload)).toBe(true);
          expect(parser.idle).toBe(true);
          expect(rec.events).toHaveLength(1);
        });
      }
    }

    it(`${role}: 64-bit and 16-bit encodings of small lengths are accepted`, () => {
      for (const [size, lengthBits] of [
        [0, 64],
        [4, 64],
        [125, 64],
        [200, 64],
        [0, 16],
        [4, 16],
        [65536, 64],
      ] as const) {
        const payload = payloads.get(size) ?? randomBytes(size, rand);
        const bytes = frameFor(role, { opcode: OP_BINARY, payload, lengthBits });
        const want = digest([{ opcode: OP_BINARY, fin: true, isText: false, data: payload }]);
        for (const chunking of [whole, byteByByte, randomChunks(9, 3)]) {
          const got = feedDigests(bytes, { role }, chunking);
          expect(got.controls).toEqual([]);
          expect(got.frames).toEqual(want);
        }
      }
    });

    it(`${role}: a 65537-byte frame is refused with 1009 before its payload is read`, () => {
      const header = frameFor(role, { opcode: OP_BINARY, declaredLength: 65537 });
      for (const chunking of [whole, byteByByte]) {
        const { rec, parser, errorAt } = feed(header, { role }, chunking);
        expect(rec.events).toEqual([{ type: "error", code: 1009, reason: expect.any(String) }]);
        expect(parser.error?.code).toBe(1009);
        // decided on the last length byte, before the masking key
        expect(errorAt).toBe(chunking === whole ? header.length : 10);
      }
    });
  }

  it("a stream of mixed frames parses the same under every chunking", () => {
    const r = prng(7);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 60; i++) {
      const size = i === 3 ? 65536 : i === 14 ? 65535 : [0, 3, 125, 126, 1000, 3000][Math.floor(r() * 6)];
      parts.push(
        frameFor("server", { opcode: i % 2 ? OP_BINARY : OP_TEXT, payload: i % 2 ? randomBytes(size, r) : utf8("é".repeat(size >> 1)) }),
      );
      if (i % 5 === 0) parts.push(frameFor("server", { opcode: OP_PING, payload: randomBytes(i % 126, r) }));
    }
    const stream = concatAll(parts);
    const reference = feed(stream, { role: "server" }, whole).rec.events;
    expect(reference.filter((e) => e.type === "ping")).toHaveLength(12);
    const refFrames = digest(framesOf(reference));
    expect(refFrames).toHaveLength(60);
    const refControls = reference.filter((e) => e.type !== "data");
    expect(refControls.every((e) => e.type === "ping")).toBe(true); // no error, no close
    // the chunked runs are digested as they go (FrameDigester: the same piece checks as
    // framesOf), not recorded: one byte at a time this stream is ~180 000 pieces
    for (const chunking of [byteByByte, randomChunks(11), randomChunks(12, 3), randomChunks(13, 20000)]) {
      const got = feedDigests(stream, { role: "server" }, chunking);
      expect(got.frames).toEqual(refFrames);
      expect(got.controls).toEqual(refControls);
    }
  });

  it("respects a smaller maxFrame inclusively, and does not apply it to control frames", () => {
    const ok = frameFor("server", { opcode: OP_BINARY, payload: new Uint8Array(100) });
    expect(feed(ok, { role: "server", maxFrame: 100 }).rec.errors()).toEqual([]);
    const big = frameFor("server", { opcode: OP_BINARY, payload: new Uint8Array(101) });
    expect(feed(big, { role: "server", maxFrame: 100 }).rec.errors()).toEqual([{ type: "error", code: 1009, reason: expect.any(String) }]);
    const ping = frameFor("server", { opcode: OP_PING, payload: new Uint8Array(125) });
    expect(feed(ping, { role: "server", maxFrame: 0 }).rec.events.map((e) => e.type)).toEqual(["ping"]);
  });
});

describe("delivery", () => {
  it("hands out views of the pushed chunk, unmasked in place; copy: true leaves the chunk alone", () => {
    const payload = utf8("hello world, this is long enough for the word loop");
    const bytes = frameFor("server", { opcode: OP_TEXT, payload });
    const chunk = bytes.slice();
    let got: Uint8Array | undefined;
    const sink = new Recorder();
    sink.onData = (p) => {
      got = p.data;
    };
    new FrameParser(sink, { role: "server" }).push(chunk);
    expect(got!.buffer).toBe(chunk.buffer);
    expect(got).toEqual(payload);
    expect(chunk.subarray(chunk.length - payload.length)).toEqual(payload);

    const chunk2 = bytes.slice();
    new FrameParser(sink, { role: "server", copy: true }).push(chunk2);
    expect(got!.buffer).not.toBe(chunk2.buffer);
    expect(got).toEqual(payload);
    expect(chunk2).toEqual(bytes);
  });

  it("delivers empty frames as one empty piece, including empty fragments", () => {
    const bytes = concatAll([
      frameFor("server", { opcode: OP_TEXT, fin: false }),
      frameFor("server", { opcode: OP_CONTINUATION, fin: false, payload: utf8("x") }),
      frameFor("server", { opcode: OP_CONTINUATION }),
      frameFor("server", { opcode: OP_BINARY }),
    ]);
    const { rec } = feed(bytes, { role: "server" });
    expect(
      rec.events.map((e) =>
        e.type === "data" ? [e.piece.opcode, e.piece.fin, e.piece.isText, e.piece.data.length, e.piece.frameLen, e.piece.first] : e,
      ),
    ).toEqual([
      [OP_TEXT, false, true, 0, 0, true],
      [OP_CONTINUATION, false, true, 1, 1, true],
      [OP_CONTINUATION, true, true, 0, 0, true],
      [OP_BINARY, true, false, 0, 0, true],
    ]);
  });

  it("fragmented messages with interleaved control frames", () => {
    const bytes = concatAll([
      frameFor("server", { opcode: OP_TEXT, fin: false, payload: utf8("Hello, ") }),
      frameFor("server", { opcode: OP_PING, payload: utf8("p1") }),
      frameFor("server", { opcode: OP_CONTINUATION, fin: false, payload: utf8("wor") }),
      frameFor("server", { opcode: OP_PONG, payload: utf8("p2") }),
      frameFor("server", { opcode: OP_PING }),
      frameFor("server", { opcode: OP_CONTINUATION, payload: utf8("ld") }),
      frameFor("server", { opcode: OP_BINARY, fin: false, payload: Uint8Array.of(1, 2) }),
      frameFor("server", { opcode: OP_PING, payload: utf8("p3") }),
      frameFor("server", { opcode: OP_CONTINUATION, payload: Uint8Array.of(3) }),
      frameFor("server", { opcode: OP_CLOSE, payload: Uint8Array.of(0x03, 0xe8, ...utf8("bye")) }),
      frameFor("server", { opcode: OP_TEXT, payload: utf8("after close: ignored") }),
    ]);
    for (const chunking of [whole, byteByByte, randomChunks(5, 4)]) {
      const { rec, parser } = feed(bytes, { role: "server" }, chunking);
      const messages = new MessageAssembler();
      const frames = new FrameAssembler();
      const summary: unknown[] = [];
      for (const e of rec.events) {
        if (e.type === "data") {
          const f = frames.push(e.piece);
          if (f) summary.push(["frame", f.opcode, f.fin, text(f.data)]);
          const m = messages.push(e.piece);
          if (m) summary.push(m.ok ? ["message", m.isText, [...m.data]] : m);
        } else if (e.type === "ping" || e.type === "pong") summary.push([e.type, text(e.payload)]);
        else summary.push(e);
      }
      expect(summary).toEqual([
        ["frame", OP_TEXT, false, "Hello, "],
        ["ping", "p1"],
        ["frame", OP_CONTINUATION, false, "wor"],
        ["pong", "p2"],
        ["ping", ""],
        ["frame", OP_CONTINUATION, true, "ld"],
        ["message", true, [...utf8("Hello, world")]],
        ["frame", OP_BINARY, false, "\x01\x02"],
        ["ping", "p3"],
        ["frame", OP_CONTINUATION, true, "\x03"],
        ["message", false, [1, 2, 3]],
        { type: "close", code: 1000, reason: "bye" },
      ]);
      expect(parser.done).toBe(true);
      expect(parser.closed).toEqual({ code: 1000, reason: "bye" });
    }
  });

  it("a close frame without a payload reads as 1005; valid codes pass", () => {
    expect(feed(frameFor("client", { opcode: OP_CLOSE }), { role: "client" }).rec.events).toEqual([
      { type: "close", code: 1005, reason: "" },
    ]);
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]) {
      const bytes = frameFor("server", { opcode: OP_CLOSE, payload: Uint8Array.of(code >> 8, code & 255, ...utf8("ok ✓")) });
      expect(feed(bytes, { role: "server" }, byteByByte).rec.events).toEqual([{ type: "close", code, reason: "ok ✓" }]);
    }
  });

  it("ping payloads are delivered whole and unmasked, for the owner to answer", () => {
    const payload = randomBytes(125, prng(3));
    const bytes = rawFrame({ opcode: OP_PING, payload, mask: KEY });
    const { rec } = feed(bytes, { role: "server" }, randomChunks(4, 10));
    expect(rec.events).toEqual([{ type: "ping", payload }]);
  });

  it("reports idle only between messages", () => {
    const rec = new Recorder();
    const p = new FrameParser(rec, { role: "client" });
    expect(p.idle).toBe(true);
    p.push(rawFrame({ opcode: OP_TEXT, fin: false, payload: utf8("a") }));
    expect(p.idle).toBe(false);
    const last = rawFrame({ opcode: OP_CONTINUATION, payload: utf8("bc") });
    p.push(last.subarray(0, 3));
    expect(p.idle).toBe(false);
    p.push(last.subarray(3));
    expect(p.idle).toBe(true);
  });

  it("refuses bad options", () => {
    const rec = new Recorder();
    expect(() => new FrameParser(rec, { role: "peer" as "server" })).toThrow(/role/);
    expect(() => new FrameParser(rec, { role: "server", maxFrame: -1 })).toThrow(/maxFrame/);
    expect(() => new FrameParser(rec, { role: "server", maxFrame: 1.5 })).toThrow(/maxFrame/);
  });
});
