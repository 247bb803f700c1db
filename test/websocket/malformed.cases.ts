/**
 * Malformed frames a client sends a server, with the close code the server must send and the
 * failure's stable name: shared by malformed.node.test.ts (the close frames on the wire) and
 * codes.node.test.ts (what the server's handler sees).
 */
import { encodeUtf8 } from "../../src/index.js";
import type { WsProtocolCode } from "../../src/websocket/codes.js";
import { KEY, rawFrame, type RawFrame } from "./codec-helpers.js";

export const OP_CONT = 0;
export const OP_TEXT = 1;
export const OP_BIN = 2;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

/** A client frame (masked unless `mask: null`). */
export const cf = (f: Omit<RawFrame, "mask"> & { mask?: Uint8Array | null }): Uint8Array => rawFrame({ mask: KEY, ...f });
export const bytes = (...b: number[]) => Uint8Array.from(b);
export const closePayload = (code: number, reason: Uint8Array = new Uint8Array(0)) => {
  const out = new Uint8Array(2 + reason.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(reason, 2);
  return out;
};
export const fill = (n: number, v = 0x61) => new Uint8Array(n).fill(v);
/** 1000 bytes of "a" with a stray continuation byte at index 5. */
const strayAt5 = fill(1000);
strayAt5[5] = 0x9e;

export interface Case {
  name: string;
  /** What the client sends, in order (each element one write, 20 ms apart). */
  send: Uint8Array[];
  /** The code of the server's close frame. */
  code: number;
  /** The failure's stable name, as the server's handler sees it (src/websocket/codes.ts). */
  wsCode: WsProtocolCode;
  /** Data frames the server echoes before its close (default none). */
  echoes?: number;
}

export const invalidCloseCodes = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535];

export const cases: Case[] = [
  {
    name: "RSV1 set without an extension",
    send: [cf({ opcode: OP_TEXT, rsv: 4, payload: encodeUtf8("hi") })],
    code: 1002,
    wsCode: "rsvbits",
  },
  { name: "RSV2 set", send: [cf({ opcode: OP_BIN, rsv: 2, payload: bytes(1) })], code: 1002, wsCode: "rsvbits" },
  { name: "RSV3 set on a ping", send: [cf({ opcode: OP_PING, rsv: 1 })], code: 1002, wsCode: "rsvbits" },
  { name: "unknown data opcode 3", send: [cf({ opcode: 3, payload: bytes(1, 2) })], code: 1002, wsCode: "badopcode" },
  { name: "unknown control opcode 0xB", send: [cf({ opcode: 0xb })], code: 1002, wsCode: "badopcode" },
  {
    name: "unmasked client frame",
    send: [cf({ opcode: OP_TEXT, payload: encodeUtf8("hi"), mask: null })],
    code: 1002,
    wsCode: "unmaskedframe",
  },
  {
    name: "fragmented ping (FIN=0)",
    send: [cf({ opcode: OP_PING, fin: false, payload: bytes(1) })],
    code: 1002,
    wsCode: "fragmentedcontrol",
  },
  {
    name: "fragmented close (FIN=0)",
    send: [cf({ opcode: OP_CLOSE, fin: false, payload: closePayload(1000) })],
    code: 1002,
    wsCode: "fragmentedcontrol",
  },
  { name: "ping with a 126-byte payload", send: [cf({ opcode: OP_PING, payload: fill(126) })], code: 1002, wsCode: "controltoolong" },
  {
    name: "pong with a 200-byte payload (16-bit length)",
    send: [cf({ opcode: OP_PONG, payload: fill(200) })],
    code: 1002,
    wsCode: "controltoolong",
  },
  {
    name: "continuation without a start",
    send: [cf({ opcode: OP_CONT, payload: encodeUtf8("x") })],
    code: 1002,
    wsCode: "unexpectedcontinuation",
  },
  {
    name: "new text frame inside a fragmented message",
    send: [cf({ opcode: OP_TEXT, fin: false, payload: encodeUtf8("a") }), cf({ opcode: OP_TEXT, payload: encodeUtf8("b") })],
    code: 1002,
    wsCode: "expectedcontinuation",
  },
  {
    name: "new binary frame inside a fragmented message",
    send: [cf({ opcode: OP_BIN, fin: false, payload: bytes(1) }), cf({ opcode: OP_BIN, payload: bytes(2) })],
    code: 1002,
    wsCode: "expectedcontinuation",
  },
  {
    // only the header: the refusal comes from the length, before any payload
    name: "a 65537-byte frame (header only; 64-bit length)",
    send: [cf({ opcode: OP_BIN, declaredLength: 65537, lengthBits: 64 })],
    code: 1009,
    wsCode: "frametoobig",
  },
  {
    name: "a 64-bit length with the top bit set",
    send: [cf({ opcode: OP_BIN, length64: [0x80, 0, 0, 0, 0, 0, 0, 4] })],
    code: 1009,
    wsCode: "frametoobig",
  },
  {
    name: "a 64-bit length of 2^32",
    send: [cf({ opcode: OP_BIN, length64: [0, 0, 0, 1, 0, 0, 0, 0] })],
    code: 1009,
    wsCode: "frametoobig",
  },
  {
    name: "invalid UTF-8: overlong C0 80",
    send: [cf({ opcode: OP_TEXT, payload: bytes(0x61, 0xc0, 0x80) })],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    name: "invalid UTF-8: surrogate ED A0 80",
    send: [cf({ opcode: OP_TEXT, payload: bytes(0xed, 0xa0, 0x80) })],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    name: "invalid UTF-8: F5 (above U+10FFFF)",
    send: [cf({ opcode: OP_TEXT, payload: bytes(0xf5, 0x80, 0x80, 0x80) })],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    name: "text message ending inside a character",
    send: [cf({ opcode: OP_TEXT, payload: bytes(0x61, 0xe2, 0x82) })],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    // fail fast: the message never ends (no FIN), the close must come anyway
    name: "invalid UTF-8 split across fragments (E2 | 28), message left unfinished",
    send: [
      cf({ opcode: OP_TEXT, fin: false, payload: bytes(0x61, 0x62, 0xe2) }),
      cf({ opcode: OP_CONT, fin: false, payload: bytes(0x28, 0x61) }),
    ],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    // fail fast inside a frame: 1000 bytes declared, the bad byte comes in the first 10
    name: "invalid UTF-8 early in a frame whose rest never comes",
    send: [cf({ opcode: OP_TEXT, payload: strayAt5 }).subarray(0, 8 + 6)],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    name: "close frame with a 1-byte payload",
    send: [cf({ opcode: OP_CLOSE, payload: bytes(0x03) })],
    code: 1002,
    wsCode: "badclosepayload",
  },
  ...invalidCloseCodes.map(
    (code): Case => ({
      name: `close frame with invalid code ${code}`,
      send: [cf({ opcode: OP_CLOSE, payload: closePayload(code) })],
      code: 1002,
      wsCode: "badclosecode",
    }),
  ),
  {
    name: "close reason that is not UTF-8",
    send: [cf({ opcode: OP_CLOSE, payload: closePayload(1000, bytes(0x6f, 0x6b, 0xff)) })],
    code: 1007,
    wsCode: "invalidutf8",
  },
  {
    // each frame is under the frame cap; the message is over maxMessage (65536)
    name: "a message of 40000 + 40000 bytes (over maxMessage)",
    send: [cf({ opcode: OP_BIN, fin: false, payload: fill(40000) }), cf({ opcode: OP_CONT, payload: fill(40000) })],
    code: 1009,
    wsCode: "messagetoobig",
  },
  {
    name: "garbage after a valid echo",
    send: [cf({ opcode: OP_TEXT, payload: encodeUtf8("ok") }), bytes(0xff, 0xff, 0xff, 0xff)],
    code: 1002,
    wsCode: "rsvbits",
    echoes: 1,
  },
];
