/** Byte helpers shared by the runtime: conversion of write arguments, joining, searching, n2h/h2n. */
import { SocketError } from "./errors.js";
import { encodeUtf8 } from "./base/utf8.js";

/** What a write accepts: bytes, or a string sent as UTF-8. */
export type Payload = Uint8Array | ArrayBuffer | string;

export function toBytes(data: Payload): Uint8Array {
  if (typeof data === "string") return encodeUtf8(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new SocketError("incorrectuse", "write takes a Uint8Array, an ArrayBuffer or a string");
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Joins parts (their lengths add up to `total`) into one array; no copy when there is one part. */
export function join(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Index of `pattern` in `hay` at or after `from`, or -1. */
export function indexOf(hay: Uint8Array, pattern: Uint8Array, from = 0): number {
  const n = pattern.length;
  if (n === 0) return from <= hay.length ? from : -1;
  const first = pattern[0];
  const last = hay.length - n;
  for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
    let k = 1;
    while (k < n && hay[i + k] === pattern[k]) k++;
    if (k === n) return i;
  }
  return -1;
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > 8) throw new SocketError("incorrectuse", "size must be 1..8");
}

/**
 * Network (big-endian) to host: the unsigned integer of `size` bytes at `offset` (0-based, unlike
 * the seed's 1-based Lua offset). Exact up to 2^53.
 */
export function n2h(size: number, bytes: Uint8Array, offset = 0): number {
  checkSize(size);
  if (offset < 0 || offset + size > bytes.length) throw new SocketError("incorrectuse", "n2h reads past the end");
  let n = 0;
  for (let i = 0; i < size; i++) n = n * 256 + bytes[offset + i];
  return n;
}

/** Host to network: `n` as `size` big-endian bytes (two's complement for negative numbers). */
export function h2n(size: number, n: number): Uint8Array {
  checkSize(size);
  const out = new Uint8Array(size);
  let v = BigInt.asUintN(size * 8, BigInt(Math.trunc(n)));
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
