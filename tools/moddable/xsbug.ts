/**
 * A minimal xsbug (the XS debugger) listener: what a `-d` build of a Moddable app talks to.
 *
 * The app's XS machine connects to XSBUG_HOST:XSBUG_PORT as a TCP client (lin: `fxConnect` in
 * $MODDABLE/xs/platforms/lin_xs.c; the simulator itself connects one more machine, "mcsim").
 * Each machine sends `<xsbug>…</xsbug>` messages (XML with entities escaped; `<login>` first,
 * then `<log>` for every `trace()`, `<break>` when it stops) and, after logging in, waits for
 * the debugger before it runs. This listener answers each login with an empty
 * `<set-all-breakpoints>` (so no break on start or on exceptions) and `<go/>`, and answers every
 * `<break>` (a `debugger` statement, an uncaught exception, an abort) with `<go/>` after
 * recording it. Nothing else of the protocol is used.
 */
import { createServer, type Server, type Socket } from "node:net";

export interface XsbugEvent {
  /** Machine title from `<login name="…">` ("mcsim" for the simulator's own machine). */
  machine: string;
  kind: "log" | "break" | "frames";
  text: string;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function xmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (all, e: string) => {
    if (e.startsWith("#x")) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? all;
  });
}

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(attrs);
  return m ? xmlUnescape(m[1]) : undefined;
}

const GO = "\r\n<set-all-breakpoints></set-all-breakpoints>\r\n\r\n<go/>\r\n";

/** One connected machine: parses its stream of messages. */
class Connection {
  private buf = "";
  private machine = "?";
  private pending = "";

  constructor(
    private readonly socket: Socket,
    private readonly emit: (e: XsbugEvent) => void,
  ) {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => this.feed(d));
    socket.on("error", () => {});
  }

  private feed(data: string): void {
    this.buf += data;
    for (;;) {
      const start = this.buf.indexOf("<xsbug>");
      if (start < 0) return;
      const end = this.buf.indexOf("</xsbug>", start);
      if (end < 0) return;
      const body = this.buf.slice(start + 7, end);
      this.buf = this.buf.slice(end + 8);
      this.message(body);
    }
  }

  private message(body: string): void {
    if (process.env.COSOCK_XSBUG_RAW) process.stderr.write(`[xsbug ${this.machine}] ${body}\n`);
    const frames = /<frames>([\s\S]*?)<\/frames>/.exec(body);
    if (frames) {
      // the stack at a break: one "name path:line" per frame, innermost first
      const list = [...frames[1].matchAll(/<frame\b([^>]*?)\/?>/g)].map((f) => {
        const path = attr(f[1], "path");
        return `${attr(f[1], "name") ?? "?"}${path ? ` ${path}:${attr(f[1], "line")}` : ""}`;
      });
      this.emit({ machine: this.machine, kind: "frames", text: list.join("\n") });
    }
    const login = /<login\b([^>]*)\/?>/.exec(body);
    if (login) {
      this.machine = attr(login[1], "name") ?? "?";
      this.socket.write(GO);
    }
    for (const m of body.matchAll(/<(log|break)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/g)) {
      const kind = m[1] as "log" | "break";
      const text = xmlUnescape(m[3] ?? "");
      if (kind === "log") {
        // trace() output arrives in pieces; a line ends at "\n"
        this.pending += text;
        let nl: number;
        while ((nl = this.pending.indexOf("\n")) >= 0) {
          this.emit({ machine: this.machine, kind, text: this.pending.slice(0, nl) });
          this.pending = this.pending.slice(nl + 1);
        }
      } else {
        const where = attr(m[2], "path");
        const line = attr(m[2], "line");
        this.emit({ machine: this.machine, kind, text: where ? `${text} (${where}:${line})` : text });
        this.socket.write("\r\n<go/>\r\n");
      }
    }
  }
}

/** Listens on 127.0.0.1 (port 0: a free one); collects what every machine logs. */
export class XsbugListener {
  readonly events: XsbugEvent[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private waiters: Array<() => void> = [];
  port = 0;

  constructor(private readonly echo?: (e: XsbugEvent) => void) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      new Connection(socket, (e) => {
        this.events.push(e);
        this.echo?.(e);
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      });
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => {
        this.port = (this.server.address() as { port: number }).port;
        resolve(this.port);
      });
    });
  }

  /** Lines logged by the app (not by the simulator's own machine) since index `from`. */
  lines(from = 0): string[] {
    return this.events
      .slice(from)
      .filter((e) => e.machine !== "mcsim" && e.kind !== "frames")
      .map((e) => (e.kind === "break" ? `[break] ${e.text}` : e.text));
  }

  /**
   * Resolves with the first app line (from event index `from` on) that matches; rejects after
   * `ms` milliseconds of waiting (a bound on a hang, not a timed assertion) with what was seen.
   */
  waitFor(pattern: RegExp, ms = 30_000, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.lines(from).find((l) => pattern.test(l));
        if (hit !== undefined) {
          clearTimeout(timer);
          resolve(hit);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== again);
        reject(
          new Error(`no trace line matching ${pattern} within ${ms} ms; the app said:\n  ${this.lines(from).join("\n  ") || "(nothing)"}`),
        );
      }, ms);
      const again = (): void => {
        if (!check()) this.waiters.push(again);
      };
      again();
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
