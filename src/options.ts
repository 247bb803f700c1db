/**
 * Every limit and default of the runtime, named in one place. Times are milliseconds.
 * A device build overrides them from its manifest's `config` (see docs/device.md).
 */
export interface RuntimeOptions {
  /** Bytes a socket's write queue may hold for non-suspending writers (`trywrite`). Seed default. */
  queuelen: number;
  /** A cosocket ("s") writer suspends once its socket's queue holds more than this many bytes. */
  suspendAt: number;
  /**
   * Most writers suspended on one socket at once. A write that would suspend beyond them is
   * refused with `busy` (nothing is taken): no code path can pile up writers, and the bytes they
   * hold, without bound on one socket (a peer that never reads).
   */
  maxWriters: number;
  /** Most bytes one `read()` returns. */
  maxRead: number;
  /** Most bytes handed to the host in one write (the seed's `maxsize`). */
  maxWrite: number;
  /** `connect` gives up after this long with `cannotconnect`. */
  connectTimeout: number;
  /**
   * TCP_NODELAY on new connections (connected and accepted). On by default: the runtime's
   * protocols are request/response, and Nagle's algorithm with delayed ACKs stalls them 40 ms
   * at a time. `setoption("tcp-nodelay", false)` turns it off per socket.
   */
  nodelay: boolean;
  /** After `close()`, how long queued bytes may take to leave before the connection is dropped. */
  lingerTimeout: number;
  /** Most sockets serviced in one dispatcher turn before yielding to the host. */
  turnBudget: number;
  /** Longest line `readLine` accepts (bytes, without the line end). */
  maxLine: number;
  /** Worker pool: jobs running at once, and jobs waiting before `run` refuses with `busy`. */
  poolSize: number;
  poolQueue: number;
  /** Where the runtime reports errors nobody else can see (a cosocket that threw). */
  log: (message: string) => void;
}

function defaultLog(message: string): void {
  const g = globalThis as { trace?: (s: string) => void; console?: { error(s: string): void } };
  if (g.console) g.console.error(message);
  else if (g.trace) g.trace(message + "\n");
}

export const defaults: Readonly<RuntimeOptions> = Object.freeze({
  queuelen: 16384,
  suspendAt: 1400,
  maxWriters: 64,
  maxRead: 16384,
  maxWrite: 16384,
  connectTimeout: 5000,
  nodelay: true,
  lingerTimeout: 2000,
  turnBudget: 64,
  maxLine: 8192,
  poolSize: 4,
  poolQueue: 64,
  log: defaultLog,
});

/** Limits of the HTTP server and client (src/http). */
export interface HttpLimits {
  /** Longest request line or header line (bytes, without CRLF): 414 for the request line, 431 for a header. */
  maxLine: number;
  /** Most bytes in a whole request or response head: 431 beyond. */
  maxHeaderBytes: number;
  /** Most header fields in one head: 431 beyond. */
  maxHeaders: number;
  /** Most body bytes `body()` gathers: 413 beyond. */
  maxBody: number;
  /**
   * Server: a request head must arrive within this time once its first byte came (408 and close
   * otherwise); a new connection's first byte within this time too (else it is closed).
   * Client: the response head must arrive within this time of the request (default of `timeout`).
   */
  headerTimeout: number;
  /**
   * Server: the whole request, head and body, must arrive within this time of its first byte:
   * a handler reading the body past it gets a 408 (answered, then the connection closes), and a
   * body left unread is not waited for beyond it (the connection closes).
   * Client: the response (head and body) must arrive within this time of the request; reads
   * after it throw `timeout`.
   */
  requestTimeout: number;
  /**
   * Server: most bytes of a request body a handler left unread that are read and dropped to keep
   * the connection alive; a longer body (or one not in by `requestTimeout`) closes the connection.
   */
  maxDrain: number;
  /** Empty lines tolerated before a request line or status line: 400 and close beyond (client: an error). */
  maxEmptyLines: number;
  /** An idle keep-alive connection is closed after this time. */
  keepAliveTimeout: number;
  /** Connections a server serves at once; more are answered 503 and closed. */
  maxConnections: number;
  /**
   * WebSockets upgraded from this server's requests and open at once (they no longer count as
   * connections): one more upgrade is refused with 503 before the 101.
   */
  maxWebSockets: number;
}

export const httpDefaults: Readonly<HttpLimits> = Object.freeze({
  maxLine: 4096,
  maxHeaderBytes: 8192,
  maxHeaders: 64,
  maxBody: 1 << 20,
  headerTimeout: 10000,
  requestTimeout: 30000,
  maxDrain: 65536,
  maxEmptyLines: 4,
  keepAliveTimeout: 5000,
  maxConnections: 64,
  maxWebSockets: 256,
});
