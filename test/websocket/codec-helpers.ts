/** Test helpers for the WebSocket codec: a recording sink, a seeded PRNG, chunkers, raw frames. */
import { FrameParser } from "../../src/websocket/frame-parser.js";
import { decodeUtf8, encodeUtf8 } from "../../src/base/utf8.js";
import { joinAll } from "../support/util.js";
import type { FramePiece, FrameParserOptions, FrameSink } from "../../src/websocket/frame-parser.js";

export type Event =
  | { type: "data"; piece: FramePiece }
  | { type: "ping"; payload: Uint8Array }
  | { type: "pong"; payload: Uint8Array }
  | { type: "close"; code: number; reason: string }
  | { type: "error"; code: number; reason: string };

/** Records everything the parser delivers; pieces' data is copied (views may be reused by callers). */
export class Recorder implements FrameSink {
  events: Event[] = [];
  errorCount = 0;
  onData(piece: FramePiece): void {
    this.events.push({ type: "data", piece: { ...piece, data: piece.data.slice() } });
  }
  onPing(payload: Uint8Array): void {
    this.events.push({ type: "ping", payload });
  }
  onPong(payload: Uint8Array): void {
    this.events.push({ type: "pong", payload });
  }
  onClose(code: number, reason: string): void {
    this.events.push({ type: "close", code, reason });
  }
  onError(code: number, reason: string): void {
    this.errorCount++;
    this.events.push({ type: "error", code, reason });
  }
  errors(): Event[] {
    return this.events.filter((e) => e.type === "error");
  }
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(n: number, rand: () => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 256) | 0;
  return out;
}

/** The codec tests' name for the shared `joinAll` (a new array holding every part in order). */
export const concatAll = joinAll;

/** Cuts positions for `length` bytes: whole, byte by byte, or random sizes 1..maxChunk. */
export type Chunking = { name: string; cuts: (length: number) => number[] };

export const whole: Chunking = { name: "whole", cuts: (n) => [n] };
export const byteByByte: Chunking = { name: "one byte at a time", cuts: (n) => Array.from({ length: n }, () => 1) };
export function randomChunks(seed: number, maxChunk = 300): Chunking {
  return {
    name: `random chunks (seed ${seed}, ≤${maxChunk})`,
    cuts: (n) => {
      const rand = prng(seed);
      const out: number[] = [];
      let left = n;
      while (left > 0) {
        const k = Math.min(left, 1 + Math.floor(rand() * maxChunk));
        out.push(k);
        left -= k;
      }
      return out;
    },
  };
}

/**
 * Feeds a fresh copy of `bytes` (the parser unmasks in place) to a new parser in the given chunks;
 * returns the recorder, the parser, and after how many input bytes the first error came.
 */
export function feed(
  bytes: Uint8Array,
  options: FrameParserOptions,
  chunking: Chunking = whole,
): { rec: Recorder; parser: FrameParser; errorAt: number } {
  const rec = new Recorder();
  const parser = new FrameParser(rec, options);
  const copy = bytes.slice();
  let at = 0;
  let errorAt = -1;
  for (const k of chunking.cuts(copy.length)) {
    parser.push(copy.subarray(at, at + k));
    at += k;
    if (errorAt < 0 && rec.errorCount > 0) errorAt = at;
  }
  return { rec, parser, errorAt };
}

/** Frames rebuilt from recorded pieces (checking the piece invariants on the way). */
export function framesOf(events: Event[]): { opcode: number; fin: boolean; isText: boolean; data: Uint8Array }[] {
  const frames: { opcode: number; fin: boolean; isText: boolean; data: Uint8Array }[] = [];
  let parts: Uint8Array[] = [];
  let read = 0;
  for (const e of events) {
    if (e.type !== "data") continue;
    const p = e.piece;
    if (p.first !== (read === 0)) throw new Error(`first=${p.first} after ${read} bytes`);
    read += p.data.length;
    if (p.bytesRead !== read) throw new Error(`bytesRead ${p.bytesRead} != ${read}`);
    if (p.bytesRead > p.frameLen) throw new Error("bytesRead over frameLen");
    if (p.data.length === 0 && p.frameLen !== 0) throw new Error("empty piece of a non-empty frame");
    parts.push(p.data);
    if (p.bytesRead === p.frameLen) {
      frames.push({ opcode: p.opcode, fin: p.fin, isText: p.isText, data: concatAll(parts) });
      parts = [];
      read = 0;
    }
  }
  if (read !== 0) throw new Error("unfinished frame");
  return frames;
}

export interface RawFrame {
  fin?: boolean;
  rsv?: number; // 3 bits: RSV1 = 4, RSV2 = 2, RSV3 = 1
  opcode: number;
  payload?: Uint8Array;
  mask?: Uint8Array | null; // null: unmasked
  /** Force a length encoding: 7, 16 or 64 bits; or give a declared length different from the payload. */
  lengthBits?: 7 | 16 | 64;
  declaredLength?: number;
  /** Raw 8 bytes of a 64-bit length (overrides declaredLength). */
  length64?: number[];
}

/** Builds a frame byte by byte, independently of the writer, allowing malformed frames. */
export function rawFrame(f: RawFrame): Uint8Array {
  const payload = f.payload ?? new Uint8Array(0);
  const len = f.declaredLength ?? payload.length;
  const bits = f.lengthBits ?? (f.length64 ? 64 : len < 126 ? 7 : len < 65536 ? 16 : 64);
  const out: number[] = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode];
  const m = f.mask ? 0x80 : 0;
  if (bits === 7) out.push(m | len);
  else if (bits === 16) out.push(m | 126, len >> 8, len & 255);
  else {
    out.push(m | 127);
    if (f.length64) out.push(...f.length64);
    else {
      const hi = Math.floor(len / 2 ** 32);
      const lo = len >>> 0;
      out.push(hi >>> 24, (hi >> 16) & 255, (hi >> 8) & 255, hi & 255, lo >>> 24, (lo >> 16) & 255, (lo >> 8) & 255, lo & 255);
    }
  }
  if (f.mask) out.push(...f.mask);
  const head = Uint8Array.from(out);
  const body = payload.slice();
  if (f.mask) for (let i = 0; i < body.length; i++) body[i] ^= f.mask[i & 3];
  return concatAll([head, body]);
}

export const KEY = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

/** A frame as a client sends it (masked) when `role` is "server", as a server sends it otherwise. */
export function frameFor(role: "server" | "client", f: Omit<RawFrame, "mask">): Uint8Array {
  return rawFrame({ ...f, mask: role === "server" ? KEY : null });
}

export const utf8 = (s: string): Uint8Array => encodeUtf8(s);
export const text = (b: Uint8Array): string => decodeUtf8(b);

/** Byte equality without jest's element-by-element deep compare (slow on 64 KiB arrays). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A short, comparable summary of frames: opcode, fin, isText, length and an FNV-1a hash of the bytes. */
/**
 * A sink that digests frames as their pieces come (the same checks as `framesOf`, the same
 * strings as `digest`) and keeps only the digests and the other events: feeding a long stream
 * in tiny chunks then holds no piece, where a `Recorder` holds a copy of each (one byte at a
 * time, hundreds of thousands of small objects: on the XS engine, whose heap grows in small
 * steps, a garbage collection per step over all of them).
 */
export class FrameDigester implements FrameSink {
  readonly frames: string[] = [];
  /** Everything but data pieces, as a Recorder has them. */
  readonly controls: Event[] = [];
  private read = 0;
  private hash = 0x811c9dc5;
  onData(p: FramePiece): void {
    if (p.first !== (this.read === 0)) throw new Error(`first=${p.first} after ${this.read} bytes`);
    this.read += p.data.length;
    if (p.bytesRead !== this.read) throw new Error(`bytesRead ${p.bytesRead} != ${this.read}`);
    if (p.bytesRead > p.frameLen) throw new Error("bytesRead over frameLen");
    if (p.data.length === 0 && p.frameLen !== 0) throw new Error("empty piece of a non-empty frame");
    let h = this.hash;
    for (let i = 0; i < p.data.length; i++) h = Math.imul(h ^ p.data[i], 0x01000193);
    this.hash = h;
    if (p.bytesRead === p.frameLen) {
      this.frames.push(`${p.opcode}/${p.fin ? 1 : 0}/${p.isText ? "t" : "b"}/${p.frameLen}/${(h >>> 0).toString(16)}`);
      this.read = 0;
      this.hash = 0x811c9dc5;
    }
  }
  onPing(payload: Uint8Array): void {
    this.controls.push({ type: "ping", payload });
  }
  onPong(payload: Uint8Array): void {
    this.controls.push({ type: "pong", payload });
  }
  onClose(code: number, reason: string): void {
    this.controls.push({ type: "close", code, reason });
  }
  onError(code: number, reason: string): void {
    this.controls.push({ type: "error", code, reason });
  }
  /** After the stream: a frame left unfinished is an error, as in `framesOf`. */
  end(): this {
    if (this.read !== 0) throw new Error("unfinished frame");
    return this;
  }
}

/** `feed` into a `FrameDigester`: a fresh copy of `bytes`, pushed in the given chunks. */
export function feedDigests(
  bytes: Uint8Array,
  options: FrameParserOptions,
  chunking: Chunking,
): { frames: string[]; controls: Event[]; parser: FrameParser } {
  const sink = new FrameDigester();
  const parser = new FrameParser(sink, options);
  const copy = bytes.slice();
  let at = 0;
  for (const k of chunking.cuts(copy.length)) {
    parser.push(copy.subarray(at, at + k));
    at += k;
  }
  sink.end();
  return { frames: sink.frames, controls: sink.controls, parser };
}

export function digest(frames: { opcode: number; fin: boolean; isText: boolean; data: Uint8Array }[]): string[] {
  return frames.map((f) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < f.data.length; i++) h = Math.imul(h ^ f.data[i], 0x01000193);
    return `${f.opcode}/${f.fin ? 1 : 0}/${f.isText ? "t" : "b"}/${f.data.length}/${(h >>> 0).toString(16)}`;
  });
}
