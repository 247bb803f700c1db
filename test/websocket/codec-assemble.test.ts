/** Frame and message assembly from the parser's pieces. */
import { FrameAssembler, MessageAssembler } from "../../src/websocket/assemble.js";
import type { Frame, MessageResult } from "../../src/websocket/assemble.js";
import { FrameParser } from "../../src/websocket/frame-parser.js";
import type { FramePiece } from "../../src/websocket/frame-parser.js";
import { OP_BINARY, OP_CONTINUATION, OP_PING, OP_TEXT } from "../../src/websocket/opcodes.js";
import {
  Recorder,
  byteByByte,
  concatAll,
  feed,
  frameFor,
  prng,
  randomBytes,
  randomChunks,
  sameBytes,
  utf8,
  whole,
} from "./codec-helpers.js";
import type { Chunking } from "./codec-helpers.js";

function pieces(stream: Uint8Array, chunking: Chunking): FramePiece[] {
  // (no flatMap: XS's overflows its stack on long arrays)
  const out: FramePiece[] = [];
  for (const e of feed(stream, { role: "server" }, chunking).rec.events) if (e.type === "data") out.push(e.piece);
  return out;
}

/**
 * The messages of `stream` pushed in `chunking`'s chunks: each piece goes to the assembler as the
 * parser hands it out (as in the connection), none is recorded first (one byte at a time that is
 * tens of thousands of pieces held at once, which on XS, whose heap grows in small steps with a
 * collection per step, took minutes).
 */
function assemble<T>(stream: Uint8Array, chunking: Chunking, push: (p: FramePiece) => T | undefined): T[] {
  const out: T[] = [];
  const sink = new Recorder();
  sink.onData = (p) => {
    const r = push(p);
    if (r !== undefined) out.push(r);
  };
  const parser = new FrameParser(sink, { role: "server" });
  const copy = stream.slice();
  let at = 0;
  for (const k of chunking.cuts(copy.length)) {
    parser.push(copy.subarray(at, at + k));
    at += k;
  }
  return out;
}

function messages(stream: Uint8Array, chunking: Chunking, maxMessage?: number): MessageResult[] {
  const m = new MessageAssembler(maxMessage);
  return assemble(stream, chunking, (p) => m.push(p));
}

describe("FrameAssembler", () => {
  it("returns each frame once complete, the same under any chunking", () => {
    const rand = prng(21);
    const payloads = [0, 1, 126, 65536, 3000].map((n) => randomBytes(n, rand));
    const stream = concatAll(payloads.map((payload, i) => frameFor("server", { opcode: i === 0 ? OP_BINARY : OP_BINARY, payload })));
    for (const chunking of [whole, byteByByte, randomChunks(1, 1000)]) {
      const a = new FrameAssembler();
      const frames: Frame[] = assemble(stream, chunking, (p) => a.push(p));
      expect(frames.map((f) => f.data.length)).toEqual(payloads.map((p) => p.length));
      frames.forEach((f, i) => expect(sameBytes(f.data, payloads[i])).toBe(true));
    }
  });

  it("hands a frame that came in one piece through without copying", () => {
    const rec = new Recorder();
    const a = new FrameAssembler();
    let got: Uint8Array | undefined;
    rec.onData = (p) => {
      got = a.push(p)?.data;
    };
    const chunk = frameFor("client", { opcode: OP_BINARY, payload: new Uint8Array(500) });
    new FrameParser(rec, { role: "client" }).push(chunk);
    expect(got!.buffer).toBe(chunk.buffer);
  });

  it("refuses pieces out of order", () => {
    const ps = pieces(frameFor("server", { opcode: OP_BINARY, payload: new Uint8Array(10) }), byteByByte);
    expect(() => new FrameAssembler().push(ps[3])).toThrow(/out of order/);
  });
});

describe("MessageAssembler", () => {
  it("joins fragments (with empty ones and interleaved pings) into messages", () => {
    const rand = prng(22);
    const frags = [0, 10, 0, 65536, 1, 0].map((n) => randomBytes(n, rand));
    const parts: Uint8Array[] = [];
    frags.forEach((payload, i) => {
      parts.push(
        frameFor("server", { opcode: i === 0 ? OP_BINARY : OP_CONTINUATION, fin: i === frags.length - 1, payload, lengthBits: undefined }),
      );
      if (i % 2) parts.push(frameFor("server", { opcode: OP_PING }));
    });
    parts.push(frameFor("server", { opcode: OP_TEXT, payload: utf8("next") }));
    const stream = concatAll(parts);
    const expected = concatAll(frags);
    for (const chunking of [whole, byteByByte, randomChunks(2, 5000)]) {
      const out = messages(stream, chunking, 1 << 20);
      expect(out).toHaveLength(2);
      expect(out[0].ok && out[0].isText).toBe(false);
      expect(out[0].ok && out[0].data.length).toBe(expected.length);
      expect(out[0].ok && sameBytes(out[0].data, expected)).toBe(true);
      expect(out[1]).toEqual({ ok: true, isText: true, data: utf8("next") });
    }
  });

  it("grows its buffer for many small fragments and returns an exact-size array", () => {
    const rand = prng(23);
    const frags = Array.from({ length: 500 }, () => randomBytes(Math.floor(rand() * 60), rand));
    const stream = concatAll(
      frags.map((payload, i) =>
        frameFor("server", { opcode: i ? OP_CONTINUATION : OP_TEXT, fin: i === 499, payload: payload.map((b) => b & 0x7f) }),
      ),
    );
    const out = messages(stream, randomChunks(5, 97), 1 << 20);
    const want = concatAll(frags.map((f) => f.map((b) => b & 0x7f)));
    expect(out).toHaveLength(1);
    expect(out[0].ok && out[0].data.length).toBe(want.length);
    expect(out[0].ok && out[0].data.buffer.byteLength).toBe(want.length);
    expect(out[0].ok && sameBytes(out[0].data, want)).toBe(true);
  });

  it("accepts a message of exactly maxMessage bytes and refuses one more with 1009, before storing it", () => {
    const max = 1000;
    const exact = concatAll([
      frameFor("server", { opcode: OP_BINARY, fin: false, payload: new Uint8Array(600) }),
      frameFor("server", { opcode: OP_CONTINUATION, payload: new Uint8Array(400) }),
    ]);
    expect(messages(exact, byteByByte, max)).toEqual([{ ok: true, isText: false, data: new Uint8Array(1000) }]);

    const over = concatAll([
      frameFor("server", { opcode: OP_BINARY, fin: false, payload: new Uint8Array(600) }),
      frameFor("server", { opcode: OP_CONTINUATION, fin: false, payload: new Uint8Array(401) }),
      frameFor("server", { opcode: OP_CONTINUATION, payload: new Uint8Array(5) }),
      frameFor("server", { opcode: OP_TEXT, payload: utf8("still works") }),
    ]);
    for (const chunking of [whole, byteByByte, randomChunks(3, 50)]) {
      const m = new MessageAssembler(max);
      const results: [boolean, number, MessageResult][] = [];
      for (const p of pieces(over, chunking)) {
        const r = m.push(p);
        if (r) results.push([p.first, p.frameLen, r]);
      }
      expect(results).toEqual([
        // reported with the first piece of the frame that crosses the cap
        [true, 401, { ok: false, code: 1009, reason: expect.any(String), wsCode: "messagetoobig" }],
        [expect.any(Boolean), 11, { ok: true, isText: true, data: utf8("still works") }],
      ]);
    }
    expect(messages(frameFor("server", { opcode: OP_BINARY, payload: new Uint8Array(1001) }), whole, max)[0]).toMatchObject({
      ok: false,
      code: 1009,
    });
  });

  it("returns a single-piece message without copying, and empty messages", () => {
    const rec = new Recorder();
    const m = new MessageAssembler();
    const got: MessageResult[] = [];
    rec.onData = (p) => {
      const r = m.push(p);
      if (r) got.push(r);
    };
    const chunk = concatAll([
      frameFor("client", { opcode: OP_BINARY, payload: new Uint8Array(300) }),
      frameFor("client", { opcode: OP_TEXT }),
    ]);
    new FrameParser(rec, { role: "client" }).push(chunk);
    expect(got).toHaveLength(2);
    expect(got[0].ok && got[0].data.buffer).toBe(chunk.buffer);
    expect(got[1]).toEqual({ ok: true, isText: true, data: new Uint8Array(0) });
    expect(() => new MessageAssembler(-1)).toThrow();
  });

  it("default cap is 65536 bytes", () => {
    const ok = frameFor("server", { opcode: OP_BINARY, payload: new Uint8Array(65536) });
    expect(messages(ok, randomChunks(4, 9000))[0].ok).toBe(true);
    const over = concatAll([
      frameFor("server", { opcode: OP_BINARY, fin: false, payload: new Uint8Array(65536) }),
      frameFor("server", { opcode: OP_CONTINUATION, payload: new Uint8Array(1) }),
    ]);
    expect(messages(over, whole)[0]).toMatchObject({ ok: false, code: 1009 });
  });
});

it("uses the ping opcode constant (sanity)", () => {
  expect(OP_PING).toBe(9);
});
