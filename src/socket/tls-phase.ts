/**
 * A socket's TLS session: the phases of its handshake, what waits for it and why it failed. Made
 * only when TLS is used (a TLS connect, `upgrade()`, a TLS listener's accepted connection), so a
 * plain socket pays nothing for it. Phases:
 *
 * - "draining": STARTTLS waits for the plaintext queued before `upgrade()` to leave (`plain`); the
 *   socket's own reads and writes are held back (the read-ahead bytes belong to the handshake);
 * - "handshake": the host's TLS has the connection; it ends at the first writable report;
 * - "done", or "failed".
 *
 * The socket reaches it through a narrow seam, and nowhere else looks at a phase: `holds()` (the
 * read and write paths), `service()` (the dispatcher's turn), the host events `onWritable()`,
 * `onEnd()` and `onError()`, and `end()` from the one place a socket ends (close.ts).
 *
 * One per TLS connection on the device, so it follows the XS memory rules (docs/contributing.md):
 * no `#private` methods, no closures of its own but the handshake timer's.
 */
import { SocketError } from "../errors.js";
import type { HostErrorReason, TLS, TLSFailure, TLSSession, TLSWrapOptions } from "../host.js";
import { handshakeTimedOut, matchesName, tlsError, type TLSPlan } from "../tls.js";
import { settleWaiter, Waiter } from "../waiter.js";
import type { WriteQueue } from "../write-queue.js";
import { OPEN, UPGRADING } from "./base.js";
import { FAIL } from "./close.js";
import type { Socket } from "./socket.js";

export class TlsPhase {
  phase: "draining" | "handshake" | "done" | "failed" = "draining";
  readonly plan: TLSPlan;
  /** The `upgrade`/connect call waiting for the handshake. */
  securing: Waiter<Socket> | undefined;
  /** Plaintext written before `upgrade`, still to be sent before the handshake starts. */
  plain: WriteQueue | undefined;
  session: TLSSession | undefined;
  /** Why the TLS connection failed: reads and writes throw it. */
  error: SocketError | undefined;

  constructor(plan: TLSPlan) {
    this.plan = plan;
    const w = new Waiter<Socket>();
    w.promise.catch(() => undefined); // adopted sockets have no caller waiting
    this.securing = w;
  }

  /**
   * Secures the connected socket `s`; resolves with it once the handshake completed. Plaintext
   * written before leaves first; later writes wait for the handshake.
   */
  static start(s: Socket, plan: TLSPlan): Promise<Socket> {
    // closed or failed since it connected (a TLS connect's handshake starts a turn later)
    if (s._life !== OPEN) return Promise.reject(s._readError() ?? new SocketError("socketclosed"));
    const t = new TlsPhase(plan);
    const done = t.securing!.promise;
    s._extra().tls = t;
    s._setLife(UPGRADING);
    const q = s._wq;
    if (!q) t._wrap(s);
    else {
      t.plain = q;
      s._wq = undefined;
      s.rt.dispatcher.ready(s);
    }
    return done;
  }

  /** True while STARTTLS drains the plaintext: the socket's own reads and writes wait. */
  holds(): boolean {
    return this.phase === "draining";
  }

  /** The dispatcher's turn: sends the plaintext written before STARTTLS, then starts the handshake. */
  service(s: Socket): void {
    const plain = this.plain;
    if (this.phase !== "draining" || !plain || !s._flushQueue(plain)) return;
    if (plain.empty) {
      this.plain = undefined;
      this._wrap(s);
    }
  }

  /** The host reports `s` writable: the end of the handshake. True when plaintext waits to leave. */
  onWritable(s: Socket): boolean {
    if (this.phase === "handshake") this._secured(s);
    return this.plain !== undefined;
  }

  /** The peer ended the connection: true when that fails a handshake in progress. */
  onEnd(): boolean {
    if (!this.securing) return false;
    this.error ??= tlsError(undefined, "end", true);
    return true;
  }

  /** The host reports an error: keeps the TLS error (`failure`) that reads and writes will throw. */
  onError(reason: HostErrorReason, failure: TLSFailure | undefined): void {
    this.error ??= tlsError(failure, reason, this.securing !== undefined);
  }

  /**
   * The socket closed (`reason` undefined) or failed: the plaintext still queued fails with
   * `error`, and a handshake in progress fails — with `error` on a close, the TLS error after a failure.
   */
  end(error: SocketError, reason?: HostErrorReason): void {
    this.plain?.fail(error);
    this.plain = undefined;
    if (!this.securing) return;
    this.phase = "failed";
    settleWaiter(this, "securing", reason === undefined ? error : (this.error ?? tlsError(undefined, reason, true)));
  }

  /** Hands the connection to the host's TLS; the handshake must end within the plan's timeout. */
  _wrap(s: Socket): void {
    const buffered = s._pushback;
    s._pushback = undefined;
    s._writable = 0; // nothing is written until the handshake completed (the first onWritable)
    this.phase = "handshake";
    let secured: TLS;
    try {
      const o = s._callbacks() as TLSWrapOptions;
      o.from = s._tcp!;
      o.buffered = buffered;
      o.secure = this.plan.secure;
      secured = s.rt.host.tls!.wrap(o);
    } catch (e) {
      this.error = new SocketError("sslhandshake", String((e as Error)?.message ?? e));
      s._end(FAIL);
      return;
    }
    s._tcp = secured;
    const ms = this.plan.handshakeTimeout;
    this.securing!.cancelTimer = s.rt.dispatcher.timer(ms, () => {
      if (this.securing) this.securing.cancelTimer = undefined;
      this.error ??= handshakeTimedOut(ms);
      s._end(FAIL, "timeout");
    });
  }

  _secured(s: Socket): void {
    const session = (s._tcp as TLS).session;
    // A verifying client checks the name itself too (a host's TLS library may check only the
    // chain): before the caller gets the socket, so nothing is sent to a server not named.
    const { role, verify, serverName } = this.plan.secure;
    if (
      role === "client" &&
      verify &&
      serverName !== undefined &&
      !(session?.peerCertificate && matchesName(session.peerCertificate, serverName))
    ) {
      this.error = new SocketError("sslnottrusted", `the server's certificate is not for ${serverName}`);
      s._end(FAIL);
      return;
    }
    this.phase = "done";
    this.session = session;
    s._setLife(OPEN);
    settleWaiter(this, "securing", undefined, s);
    s._endIfDrained();
  }
}
