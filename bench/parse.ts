/**
 * The frame-parsing row's process: feeds masked binary frames, in 64 KiB pieces as a socket would
 * deliver them, to a parser (ours through ws-hooks.ts, or the `ws` Receiver) for a while and
 * reports MB/s of frame bytes parsed. No sockets: this measures the codec alone.
 */
import { serve } from "./ipc.js";
import { oursWs, type WsParser } from "./ws-hooks.js";
import { createWsReceiver } from "./ws-baseline.js";

const PIECE = 65536;

/** `count` masked binary frames of `size` payload bytes each, back to back. */
function maskedFrames(size: number, count: number): Uint8Array {
  const header = 2 + (size < 126 ? 0 : size < 65536 ? 2 : 8) + 4;
  const out = new Uint8Array((header + size) * count);
  let o = 0;
  for (let i = 0; i < count; i++) {
    out[o++] = 0x82; // FIN, binary
    if (size < 126) out[o++] = 0x80 | size;
    else if (size < 65536) {
      out[o++] = 0x80 | 126;
      out[o++] = size >> 8;
      out[o++] = size & 0xff;
    } else {
      out[o++] = 0x80 | 127;
      for (let k = 7; k >= 0; k--) out[o++] = k > 3 ? 0 : (size >>> (k * 8)) & 0xff;
    }
    const key = [0x12, 0x34, 0x56, (i * 7) & 0xff];
    for (const b of key) out[o++] = b;
    for (let k = 0; k < size; k++) out[o++] = (k & 0xff) ^ key[k & 3];
  }
  return out;
}

function run(a: { side: "ours" | "base"; frameSize: number; warmupMs: number; durationMs: number }): { rate: number } {
  const factory = a.side === "ours" ? oursWs.createParser : createWsReceiver;
  if (!factory) throw new Error("ws-hooks.ts: createParser is not filled in yet");
  let messages = 0;
  const parser: WsParser = factory(() => messages++);
  // About 1 MiB of whole frames; pieces cut across frame boundaries like socket reads do.
  const perFrame = a.frameSize + 14;
  const frames = Math.max(1, Math.floor((1 << 20) / perFrame));
  const input = maskedFrames(a.frameSize, frames);
  const pieces: Uint8Array[] = [];
  for (let o = 0; o < input.length; o += PIECE) pieces.push(input.subarray(o, Math.min(input.length, o + PIECE)));
  const pass = () => {
    for (const p of pieces) parser.push(p);
  };
  const until = (ms: number) => {
    const end = performance.now() + ms;
    let passes = 0;
    while (performance.now() < end) {
      pass();
      passes++;
    }
    return passes;
  };
  until(a.warmupMs);
  const before = messages;
  const t0 = performance.now();
  const passes = until(a.durationMs);
  const seconds = (performance.now() - t0) / 1000;
  if (messages - before !== passes * frames) throw new Error(`parser lost messages: ${messages - before} of ${passes * frames}`);
  return { rate: (passes * input.length) / seconds };
}

serve({ parse: run });
