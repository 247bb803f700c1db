/**
 * HTTP message bodies: reading by Content-Length or chunked transfer coding, and writing a
 * response or request with either framing.
 */
import { SocketError } from "../errors.js";
import type { Socket } from "../socket/socket.js";
import { join } from "../bytes.js";
import { HttpError, type Headers } from "./head.js";

type Framing = { kind: "none" } | { kind: "length"; left: number } | { kind: "chunked"; left: number; done: boolean } | { kind: "close" };

/** Works out a message body's framing from its headers (RFC 9112 6.3). */
export function bodyFraming(headers: Headers, isRequest: boolean): Framing {
  const te = headers.get("transfer-encoding");
  const cl = headers.get("content-length");
  if (te !== undefined) {
    if (cl !== undefined) throw new HttpError(400, "both Transfer-Encoding and Content-Length");
    // only chunked alone: other codings (gzip, chunked) are not decoded here, so they are refused
    if (te.trim().toLowerCase() !== "chunked") throw new HttpError(isRequest ? 501 : 502, `unsupported Transfer-Encoding "${te}"`);
    return { kind: "chunked", left: 0, done: false };
  }
  if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) throw new HttpError(400, `bad Content-Length "${cl}"`);
    const n = Number(cl);
    return n === 0 ? { kind: "none" } : { kind: "length", left: n };
  }
  return isRequest ? { kind: "none" } : { kind: "close" };
}

/**
 * Reads one message body piece by piece, all of it by `deadline` (host time): a read after it
 * gets what is already buffered, else throws `timeout`.
 * Per connection on the device: follows the XS memory rules (docs/contributing.md).
 */
export class BodyReader {
  #sock: Socket;
  #framing: Framing;
  #deadline: number | undefined;
  /** Bytes taken from the connection, framing included (chunk sizes, extensions, trailers). */
  #wire = 0;

  constructor(sock: Socket, framing: Framing, deadline?: number) {
    this.#sock = sock;
    this.#framing = framing;
    this.#deadline = deadline;
  }

  get done(): boolean {
    const f = this.#framing;
    return f.kind === "none" || (f.kind === "length" && f.left === 0) || (f.kind === "chunked" && f.done);
  }

  /** ms left until the deadline (undefined: none). */
  private _timeout(): number | undefined {
    return this.#deadline === undefined ? undefined : Math.max(0, this.#deadline - this.#sock.rt.host.now());
  }

  /** A framing line (chunk size, trailer field, chunk end), counted as wire bytes. */
  private async _line(max: number): Promise<string | null> {
    const line = await this.#sock.readLine({ max, timeout: this._timeout() });
    if (line !== null) this.#wire += line.length + 2;
    return line;
  }

  /** The next piece of the body, or null at its end. */
  async read(): Promise<Uint8Array | null> {
    const f = this.#framing;
    const sock = this.#sock;
    switch (f.kind) {
      case "none":
        return null;
      case "close": {
        const d = await sock.read(this._timeout());
        if (d) this.#wire += d.length;
        return d;
      }
      case "length": {
        if (f.left === 0) return null;
        const d = await sock.read(this._timeout());
        if (!d) throw new HttpError(400, "connection closed inside the body");
        if (d.length > f.left) {
          sock.unread(d.subarray(f.left));
          const piece = d.subarray(0, f.left);
          f.left = 0;
          this.#wire += piece.length;
          return piece;
        }
        f.left -= d.length;
        this.#wire += d.length;
        return d;
      }
      case "chunked": {
        if (f.done) return null;
        if (f.left === 0) {
          const line = await this._line(1024);
          if (line === null) throw new HttpError(400, "connection closed inside a chunked body");
          const m = /^([0-9a-fA-F]{1,8})(;.*)?$/.exec(line);
          if (!m) throw new HttpError(400, "bad chunk size");
          f.left = parseInt(m[1], 16);
          if (f.left === 0) {
            // trailer fields, up to the empty line; ignored
            for (let n = 0; ; n++) {
              const t = await this._line(4096);
              if (t === null || n > 64) throw new HttpError(400, "bad chunked trailer");
              if (t === "") break;
            }
            f.done = true;
            return null;
          }
        }
        const d = await sock.read(this._timeout());
        if (!d) throw new HttpError(400, "connection closed inside a chunk");
        let piece = d;
        if (d.length > f.left) {
          sock.unread(d.subarray(f.left));
          piece = d.subarray(0, f.left);
        }
        f.left -= piece.length;
        this.#wire += piece.length;
        if (f.left === 0) {
          const crlf = await this._line(0).catch((e) => {
            if (e instanceof SocketError && e.code === "toolong") return "?";
            throw e;
          });
          if (crlf !== "") throw new HttpError(400, "chunk not followed by CRLF");
        }
        return piece;
      }
    }
  }

  /** The whole body, at most `max` bytes (413 beyond). */
  async all(max: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (let d; (d = await this.read()); ) {
      n += d.length;
      if (n > max) throw new HttpError(413, `body over ${max} bytes`);
      parts.push(d);
    }
    return join(parts, n);
  }

  /**
   * Reads and drops the rest of the body (at most `max` bytes taken from the connection, framing
   * included, by the deadline); false if it was longer, late or broken. A Content-Length over `max` is refused before reading anything.
   */
  async drain(max: number): Promise<boolean> {
    const f = this.#framing;
    if (f.kind === "length" && f.left > max) return false;
    const start = this.#wire;
    try {
      while (await this.read()) if (this.#wire - start > max) return false;
    } catch (e) {
      if (e instanceof HttpError || e instanceof SocketError) return false;
      throw e;
    }
    return true;
  }
}

const CRLF = new Uint8Array([13, 10]);
const LAST_CHUNK = new Uint8Array([48, 13, 10, 13, 10]);

/** Writes one chunk of a chunked body (an empty chunk is skipped: it would end the body). */
export async function writeChunk(sock: Socket, data: Uint8Array): Promise<void> {
  if (data.length === 0) return;
  await sock.write(data.length.toString(16) + "\r\n");
  await sock.write(data);
  await sock.write(CRLF);
}

export function writeLastChunk(sock: Socket): Promise<true> {
  return sock.write(LAST_CHUNK);
}
