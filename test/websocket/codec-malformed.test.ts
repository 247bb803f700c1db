/**
 * Every malformed input the parser refuses, with the close code it reports. Each case is fed
 * whole, one byte at a time, and in random chunks: the error is reported exactly once, nothing is
 * delivered after it, and the bytes after the offending one are never needed.
 */
import { FrameParser } from "../../src/websocket/frame-parser.js";
import { OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT } from "../../src/websocket/opcodes.js";
import { Recorder, byteByByte, concatAll, feed, frameFor, randomChunks, rawFrame, utf8, whole, KEY } from "./codec-helpers.js";
import type { RawFrame } from "./codec-helpers.js";
import type { WsProtocolCode } from "../../src/websocket/codes.js";

type Role = "server" | "client";

interface Case {
  name: string;
  role?: Role; // default: both roles (frames masked for a server)
  frames: Omit<RawFrame, "mask">[];
  raw?: (role: Role) => Uint8Array; // instead of frames
  maxFrame?: number;
  code: number;
  /** The failure's stable name (src/websocket/codes.ts). */
  wsCode: WsProtocolCode;
  /** Bytes of the input the parser needs before it reports (default: all of it). */
  decidedAfter?: (role: Role) => number;
}

const closePayload = (code: number, reason: Uint8Array = new Uint8Array(0)) => Uint8Array.of(code >> 8, code & 255, ...reason);
const maskLen = (role: Role) => (role === "server" ? 4 : 0);

const cases: Case[] = [
  { name: "RSV1 set", frames: [{ opcode: OP_TEXT, rsv: 4, payload: utf8("x") }], code: 1002, wsCode: "rsvbits", decidedAfter: () => 1 },
  { name: "RSV2 set", frames: [{ opcode: OP_BINARY, rsv: 2 }], code: 1002, wsCode: "rsvbits", decidedAfter: () => 1 },
  { name: "RSV3 set", frames: [{ opcode: OP_BINARY, rsv: 1 }], code: 1002, wsCode: "rsvbits", decidedAfter: () => 1 },
  { name: "RSV1 on a control frame", frames: [{ opcode: OP_PING, rsv: 4 }], code: 1002, wsCode: "rsvbits", decidedAfter: () => 1 },
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map(
    (op): Case => ({ name: `unknown opcode ${op}`, frames: [{ opcode: op }], code: 1002, wsCode: "badopcode", decidedAfter: () => 1 }),
  ),
  {
    name: "server receives an unmasked frame",
    role: "server",
    frames: [],
    raw: () => rawFrame({ opcode: OP_TEXT, payload: utf8("hi"), mask: null }),
    code: 1002,
    wsCode: "unmaskedframe",
    decidedAfter: () => 2,
  },
  {
    name: "client receives a masked frame",
    role: "client",
    frames: [],
    raw: () => rawFrame({ opcode: OP_TEXT, payload: utf8("hi"), mask: KEY }),
    code: 1002,
    wsCode: "maskedframe",
    decidedAfter: () => 2,
  },
  { name: "ping with fin=0", frames: [{ opcode: OP_PING, fin: false }], code: 1002, wsCode: "fragmentedcontrol", decidedAfter: () => 1 },
  { name: "pong with fin=0", frames: [{ opcode: OP_PONG, fin: false }], code: 1002, wsCode: "fragmentedcontrol", decidedAfter: () => 1 },
  {
    name: "close with fin=0",
    frames: [{ opcode: OP_CLOSE, fin: false, payload: closePayload(1000) }],
    code: 1002,
    wsCode: "fragmentedcontrol",
    decidedAfter: () => 1,
  },
  {
    name: "ping payload of 126 bytes",
    frames: [{ opcode: OP_PING, payload: new Uint8Array(126) }],
    code: 1002,
    wsCode: "controltoolong",
    decidedAfter: () => 2,
  },
  {
    name: "pong payload of 126 bytes",
    frames: [{ opcode: OP_PONG, payload: new Uint8Array(126) }],
    code: 1002,
    wsCode: "controltoolong",
    decidedAfter: () => 2,
  },
  {
    name: "control frame with a 16-bit length under 126",
    frames: [{ opcode: OP_PING, payload: new Uint8Array(4), lengthBits: 16 }],
    code: 1002,
    wsCode: "controltoolong",
    decidedAfter: () => 2,
  },
  {
    name: "close payload of 200 bytes (64-bit length)",
    frames: [{ opcode: OP_CLOSE, payload: closePayload(1000, new Uint8Array(198).fill(97)), lengthBits: 64 }],
    code: 1002,
    wsCode: "controltoolong",
    decidedAfter: () => 2,
  },
  {
    name: "continuation with no message in progress",
    frames: [{ opcode: OP_CONTINUATION, payload: utf8("x") }],
    code: 1002,
    wsCode: "unexpectedcontinuation",
    decidedAfter: () => 1,
  },
  {
    name: "continuation after a finished message",
    frames: [{ opcode: OP_TEXT, payload: utf8("done") }, { opcode: OP_CONTINUATION }],
    code: 1002,
    wsCode: "unexpectedcontinuation",
    decidedAfter: (r) => 6 + maskLen(r) + 1,
  },
  {
    name: "text frame while a fragmented message is in progress",
    frames: [
      { opcode: OP_TEXT, fin: false, payload: utf8("a") },
      { opcode: OP_TEXT, payload: utf8("b") },
    ],
    code: 1002,
    wsCode: "expectedcontinuation",
    decidedAfter: (r) => 3 + maskLen(r) + 1,
  },
  {
    name: "binary frame while a fragmented message is in progress (after a ping)",
    frames: [{ opcode: OP_TEXT, fin: false, payload: utf8("a") }, { opcode: OP_PING }, { opcode: OP_BINARY }],
    code: 1002,
    wsCode: "expectedcontinuation",
    decidedAfter: (r) => 3 + maskLen(r) + 2 + maskLen(r) + 1,
  },
  {
    name: "frame of 65537 bytes (64-bit length)",
    frames: [{ opcode: OP_BINARY, declaredLength: 65537 }],
    code: 1009,
    wsCode: "frametoobig",
    decidedAfter: () => 10,
  },
  {
    name: "64-bit length with the top bit set",
    frames: [{ opcode: OP_BINARY, length64: [0x80, 0, 0, 0, 0, 0, 0, 4] }],
    code: 1009,
    wsCode: "frametoobig",
    decidedAfter: () => 3,
  },
  {
    name: "64-bit length of 2^53",
    frames: [{ opcode: OP_BINARY, length64: [0, 0x20, 0, 0, 0, 0, 0, 0] }],
    code: 1009,
    wsCode: "frametoobig",
    decidedAfter: () => 10,
  },
  {
    name: "64-bit length of 2^63 - 1",
    frames: [{ opcode: OP_BINARY, length64: [0x7f, 255, 255, 255, 255, 255, 255, 255] }],
    code: 1009,
    wsCode: "frametoobig",
    decidedAfter: () => 10,
  },
  {
    name: "16-bit length over a smaller cap",
    frames: [{ opcode: OP_BINARY, declaredLength: 1001 }],
    maxFrame: 1000,
    code: 1009,
    wsCode: "frametoobig",
    decidedAfter: () => 4,
  },
  {
    name: "7-bit length over a smaller cap",
    frames: [{ opcode: OP_TEXT, declaredLength: 101 }],
    maxFrame: 100,
    code: 1009,
    wsCode: "frametoobig",
    decidedAfter: () => 2,
  },
  {
    name: "continuation frame over the cap",
    frames: [
      { opcode: OP_BINARY, fin: false, payload: utf8("a") },
      { opcode: OP_CONTINUATION, declaredLength: 65537 },
    ],
    code: 1009,
    wsCode: "frametoobig",
    decidedAfter: (r) => 3 + maskLen(r) + 10,
  },
  {
    name: "invalid UTF-8 in a text frame",
    frames: [{ opcode: OP_TEXT, payload: Uint8Array.of(0x61, 0x62, 0xff, 0x63) }],
    code: 1007,
    wsCode: "invalidutf8",
    decidedAfter: (r) => 2 + maskLen(r) + 3,
  },
  {
    name: "invalid UTF-8 in a continuation frame",
    frames: [
      { opcode: OP_TEXT, fin: false, payload: utf8("ok") },
      { opcode: OP_CONTINUATION, payload: Uint8Array.of(0xc3, 0x28) },
    ],
    code: 1007,
    wsCode: "invalidutf8",
    decidedAfter: (r) => 4 + maskLen(r) + 2 + maskLen(r) + 2,
  },
  {
    name: "UTF-8 sequence broken across fragments",
    frames: [
      { opcode: OP_TEXT, fin: false, payload: Uint8Array.of(0xe2, 0x82) },
      { opcode: OP_CONTINUATION, payload: Uint8Array.of(0x41) },
    ],
    code: 1007,
    wsCode: "invalidutf8",
    decidedAfter: (r) => 4 + maskLen(r) + 2 + maskLen(r) + 1,
  },
  {
    name: "text message ending inside a UTF-8 sequence",
    frames: [{ opcode: OP_TEXT, payload: Uint8Array.of(0x61, 0xf0, 0x9f, 0x98) }],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    name: "fragmented text message ending inside a UTF-8 sequence (empty last fragment)",
    frames: [{ opcode: OP_TEXT, fin: false, payload: Uint8Array.of(0xc3) }, { opcode: OP_CONTINUATION }],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    name: "surrogate in a text frame",
    frames: [{ opcode: OP_TEXT, payload: Uint8Array.of(0xed, 0xa0, 0x80) }],
    code: 1007,
    wsCode: "invalidutf8",
    decidedAfter: (r) => 2 + maskLen(r) + 2,
  },
  {
    name: "overlong in a text frame",
    frames: [{ opcode: OP_TEXT, payload: Uint8Array.of(0xc0, 0xaf) }],
    code: 1007,
    wsCode: "invalidutf8",
    decidedAfter: (r) => 2 + maskLen(r) + 1,
  },
  {
    name: "above U+10FFFF in a text frame",
    frames: [{ opcode: OP_TEXT, payload: Uint8Array.of(0xf4, 0x90, 0x80, 0x80) }],
    code: 1007,
    wsCode: "invalidutf8",
    decidedAfter: (r) => 2 + maskLen(r) + 2,
  },
  {
    name: "close frame with a 1-byte payload",
    frames: [{ opcode: OP_CLOSE, payload: Uint8Array.of(3) }],
    code: 1002,
    wsCode: "badclosepayload",
    decidedAfter: () => 2,
  },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].map(
    (c): Case => ({
      name: `close code ${c}`,
      frames: [{ opcode: OP_CLOSE, payload: closePayload(c, utf8("r")) }],
      code: 1002,
      wsCode: "badclosecode",
    }),
  ),
  {
    name: "close reason not UTF-8",
    frames: [{ opcode: OP_CLOSE, payload: closePayload(1000, Uint8Array.of(0x61, 0xc0, 0x80)) }],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    name: "close reason ending inside a UTF-8 sequence",
    frames: [{ opcode: OP_CLOSE, payload: closePayload(1001, Uint8Array.of(0xe2, 0x82)) }],
    code: 1007,
    wsCode: "invalidutf8",
  },
];

describe("malformed input → close code", () => {
  for (const c of cases) {
    const roles: Role[] = c.role ? [c.role] : ["server", "client"];
    for (const role of roles) {
      it(`${c.name} (${role}) → ${c.code}`, () => {
        const frames = c.raw ? c.raw(role) : concatAll(c.frames.map((f) => frameFor(role, f)));
        // trailing good frame: must never be delivered
        const bytes = concatAll([frames, frameFor(role, { opcode: OP_BINARY, payload: utf8("never") })]);
        for (const chunking of [whole, byteByByte, randomChunks(17, 3)]) {
          const { rec, parser, errorAt } = feed(bytes, { role, maxFrame: c.maxFrame }, chunking);
          const errors = rec.errors();
          expect(errors).toEqual([{ type: "error", code: c.code, reason: expect.any(String) }]);
          expect(rec.events[rec.events.length - 1]).toBe(errors[0]);
          expect(parser.done).toBe(true);
          expect(parser.error).toEqual({ code: c.code, reason: (errors[0] as { reason: string }).reason, wsCode: c.wsCode });
          expect(utf8(parser.error!.reason).length).toBeLessThanOrEqual(123);
          if (chunking === byteByByte) expect(errorAt).toBe(c.decidedAfter ? c.decidedAfter(role) : frames.length);
        }
      });
    }
  }

  it("ignores input after an error and after a close frame", () => {
    const rec = new Recorder();
    const p = new FrameParser(rec, { role: "client" });
    p.push(rawFrame({ opcode: 3 }));
    p.push(rawFrame({ opcode: OP_TEXT, payload: utf8("x") }));
    p.push(rawFrame({ opcode: 4 }));
    expect(rec.events.map((e) => e.type)).toEqual(["error"]);

    const rec2 = new Recorder();
    const p2 = new FrameParser(rec2, { role: "client" });
    p2.push(concatAll([rawFrame({ opcode: OP_CLOSE, payload: closePayload(1000) }), rawFrame({ opcode: 3 })]));
    p2.push(rawFrame({ opcode: OP_TEXT, payload: utf8("x") }));
    expect(rec2.events).toEqual([{ type: "close", code: 1000, reason: "" }]);
    expect(p2.done).toBe(true);
    expect(p2.error).toBeUndefined();
  });
});
