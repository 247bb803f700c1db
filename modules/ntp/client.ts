/**
 * SNTP client (RFC 4330) over a connected UDP socket: one request per attempt, a timeout per
 * attempt and a number of retries, and the clock offset and round-trip delay from the four
 * timestamps:
 *
 *   T1 request sent (our clock)   T2 request received (server)
 *   T3 reply sent (server)        T4 reply received (our clock)
 *   offset = ((T2 - T1) + (T3 - T4)) / 2      delay = (T4 - T1) - (T3 - T2)
 *
 * T1 is the host's wall clock; T4 is T1 plus the time elapsed on the host's monotonic clock, so a
 * wall-clock step during the exchange does not distort the delay.
 *
 * Replies that are not an answer to our request are discarded, and the attempt goes on waiting
 * (RFC 4330 section 5): shorter than 48 bytes, mode other than 4 (server), an originate timestamp
 * that matches none of our requests, a zero transmit timestamp, an unsynchronized server
 * (leap 3 or stratum 16 and up). When every attempt ends without a good reply, the last such
 * reason is thrown as an `NtpError` saying how many replies were discarded (or
 * `SocketError("timeout")` when nothing came at all). Bogus replies never extend an attempt's
 * deadline, and each costs a constant amount of work (a decode and a comparison with the few
 * requests sent); datagrams from another address or port are dropped by the connected socket
 * unread, and the host's receive queue is bounded — so a flood ends the query on time, and the
 * real answer, when it comes, is still taken.
 * A kiss-o'-death (stratum 0) answering our request ends the query at once (no retry: the server
 * asked us to stop), as `NtpError` with code "kissofdeath" and its `kiss` code ("RATE", "DENY", ...).
 */
import { SocketError, type Runtime, type UdpSocket } from "../cosock.js";
import {
  clientRequest,
  decodePacket,
  fromNtp,
  isZero,
  MODE,
  referenceText,
  sameTimestamp,
  toNtp,
  type NtpPacket,
  type NtpTimestamp,
} from "./packet.js";

export interface SntpOptions {
  /** Server port (default 123). */
  port?: number;
  /** ms to wait for a reply to each attempt (default 2000). */
  timeout?: number;
  /** Attempts after the first one (default 2). */
  retries?: number;
  /** NTP version in the request (default 4). */
  version?: number;
}

export const sntpDefaults = Object.freeze({ port: 123, timeout: 2000, retries: 2, version: 4 });

export interface SntpResult {
  /** The server's time when its reply arrived: ms since 1970 (our clock + offset). */
  time: number;
  /** ms to add to our clock (`rt.host.wallClock()`) to get the server's. */
  offset: number;
  /** Round-trip delay in ms, the server's processing time excluded. */
  delay: number;
  stratum: number;
  /** The server as given. */
  server: string;
  port: number;
  /** Leap indicator of the reply (0 none, 1 +1 s, 2 -1 s). */
  leap: number;
  /** The server's reference id: its source name at stratum 1, else an IPv4 address. */
  referenceId: string;
  /** Seconds (the server's root delay and dispersion). */
  rootDelay: number;
  rootDispersion: number;
  /** Requests sent before the good reply (1 if the first was answered). */
  attempts: number;
}

export type NtpErrorCode = "kissofdeath" | "badmode" | "badoriginate" | "zerotransmit" | "short" | "unsynchronized";

export class NtpError extends Error {
  readonly code: NtpErrorCode;
  /** For "kissofdeath": the kiss code ("RATE", "DENY", "RSTR", ...). */
  readonly kiss?: string;
  /** Requests sent. */
  attempts = 0;
  /** Replies discarded (not an answer to our requests) before the query ended. */
  discarded = 0;

  constructor(code: NtpErrorCode, detail: string, kiss?: string) {
    super(`${code}: ${detail}`);
    this.code = code;
    if (kiss !== undefined) this.kiss = kiss;
  }

  /** On the prototype, not per instance: the device freezes Error.prototype, where `this.name = …` throws. */
  override get name(): string {
    return "NtpError";
  }
}

interface Sent {
  transmit: NtpTimestamp;
  /** Our wall clock when sent (T1), and the monotonic clock then. */
  t1: number;
  mono: number;
}

/**
 * Asks `server` for the time. Throws `NtpError` (see the file's comment), `SocketError("timeout")`
 * when no reply came after all attempts, or `cannotresolve`.
 */
export async function sntp(rt: Runtime, server: string, options: SntpOptions = {}): Promise<SntpResult> {
  const port = options.port ?? sntpDefaults.port;
  const timeout = options.timeout ?? sntpDefaults.timeout;
  const retries = Math.max(0, options.retries ?? sntpDefaults.retries);
  const version = options.version ?? sntpDefaults.version;
  const sock = await rt.udpcon(server, port);
  const sent: Sent[] = [];
  let rejected: NtpError | undefined;
  let discarded = 0;
  try {
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      const s = request(rt);
      sent.push(s);
      sock.write(clientRequest(s.transmit, version));
      const deadline = s.mono + timeout;
      for (;;) {
        const data = await readUntil(sock, rt, deadline);
        if (!data) break; // this attempt timed out
        const mono = rt.host.now();
        const r = judge(data, sent);
        if (r instanceof NtpError) {
          if (r.code === "kissofdeath") {
            r.attempts = attempt;
            throw r;
          }
          rejected = r;
          discarded++;
          continue;
        }
        return result(r.packet, r.sent, mono, server, port, attempt);
      }
    }
  } finally {
    sock.close();
  }
  if (rejected) {
    // the last reason, and that no valid reply came in time (a flood of bogus replies does not extend the wait)
    const e = new NtpError(
      rejected.code,
      `${rejected.message.slice(rejected.code.length + 2)}; no valid reply from ${server}:${port} to ${retries + 1} requests (${timeout} ms each), ${discarded} repl${discarded === 1 ? "y" : "ies"} discarded`,
    );
    e.attempts = retries + 1;
    e.discarded = discarded;
    throw e;
  }
  throw new SocketError("timeout", `no reply from ${server}:${port} to ${retries + 1} requests (${timeout} ms each)`);
}

/** A request's transmit timestamp: now, with the bits below a millisecond made random, so that a
 * reply cannot be forged without seeing the request. */
function request(rt: Runtime): Sent {
  const t1 = rt.host.wallClock();
  const mono = rt.host.now();
  const ts = toNtp(t1);
  const r = rt.host.randomBytes(2);
  const fraction = ((ts.fraction & 0xffff0000) | (r[0] << 8) | r[1]) >>> 0;
  return { transmit: { seconds: ts.seconds, fraction }, t1, mono };
}

async function readUntil(sock: UdpSocket, rt: Runtime, deadline: number): Promise<Uint8Array | undefined> {
  const left = deadline - rt.host.now();
  if (left <= 0) return undefined;
  try {
    return await sock.read(left);
  } catch (e) {
    if (e instanceof SocketError && e.code === "timeout") return undefined;
    throw e;
  }
}

function judge(data: Uint8Array, sent: Sent[]): { packet: NtpPacket; sent: Sent } | NtpError {
  const p = decodePacket(data);
  if (!p) return new NtpError("short", `a reply of ${data.length} bytes (an NTP packet has at least 48)`);
  if (p.mode !== MODE.SERVER) return new NtpError("badmode", `a reply in mode ${p.mode} (a server answers in mode 4)`);
  const s = sent.find((x) => sameTimestamp(x.transmit, p.originate));
  if (!s) return new NtpError("badoriginate", "a reply whose originate timestamp matches none of our requests");
  if (p.stratum === 0) {
    const kiss = referenceText(p);
    return new NtpError("kissofdeath", `the server sent kiss-o'-death ${kiss || "(no code)"}`, kiss);
  }
  if (isZero(p.transmit)) return new NtpError("zerotransmit", "a reply with a zero transmit timestamp");
  if (p.leap === 3 || p.stratum >= 16)
    return new NtpError("unsynchronized", `the server is not synchronized (leap ${p.leap}, stratum ${p.stratum})`);
  return { packet: p, sent: s };
}

function result(p: NtpPacket, s: Sent, mono: number, server: string, port: number, attempts: number): SntpResult {
  const t1 = s.t1;
  const t2 = fromNtp(p.receive);
  const t3 = fromNtp(p.transmit);
  const t4 = t1 + (mono - s.mono);
  const offset = (t2 - t1 + (t3 - t4)) / 2;
  const delay = Math.max(0, t4 - t1 - (t3 - t2));
  return {
    time: t4 + offset,
    offset,
    delay,
    stratum: p.stratum,
    server,
    port,
    leap: p.leap,
    referenceId: referenceText(p),
    rootDelay: p.rootDelay,
    rootDispersion: p.rootDispersion,
    attempts,
  };
}
