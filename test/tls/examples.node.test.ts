/**
 * The seed's TLS examples as programs: example 3 (HTTPS "Hello World" on blocking sockets with the
 * worker pool) served to openssl s_client, node's https client and example 11 (the secure cosocket
 * client), which also fetches from openssl s_server -www; and examples/https-demo.ts as a process.
 */
import { spawn } from "node:child_process";
import { get } from "node:https";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { example3, RESPONSE } from "../../examples/03-https-hello.js";
import { example11 } from "../../examples/11-secure-client.js";
import { itWithPeer, kill } from "../support/peers.js";
import { usePKI, type PKI } from "./pki.js";
import { runSClient, startSServer, type Running } from "./tls-peers.js";

const itOpenssl = itWithPeer("openssl", "apt-get install openssl");

let pki: PKI;
let rt: Runtime;
let lines: string[];
const log = (s: string) => lines.push(s);

usePKI((made) => (pki = made));
beforeEach(() => {
  rt = new Runtime(nodeHost());
  lines = [];
});
afterEach(() => rt.shutdown());

function httpsGet(port: number): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/any/url", ca: pki.ca.cert, servername: "localhost" }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    }).on("error", reject);
  });
}

describe("example 3: HTTPS Hello World on blocking sockets in the worker pool", () => {
  itOpenssl("answers node's https client, many at once, through the pool", async () => {
    const listener = await example3(rt, { cert: pki.server.cert, key: pki.server.key }, 0, "127.0.0.1", log);
    const port = listener.sockname()!.port;
    const results = await Promise.all(Array.from({ length: 12 }, () => httpsGet(port)));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body).toBe("Hello World!");
      expect(r.headers["content-type"]).toBe("text/plain");
    }
    expect(rt.pool.stat().done).toBeGreaterThanOrEqual(12);
    expect(lines).toEqual([]);
  });

  itOpenssl("answers openssl s_client, which verifies the server", async () => {
    const listener = await example3(rt, { cert: pki.server.cert, key: pki.server.key }, 0, "127.0.0.1", log);
    const port = listener.sockname()!.port;
    const r = await runSClient(
      ["-connect", `127.0.0.1:${port}`, "-CAfile", pki.ca.certFile, "-verify_hostname", "localhost", "-verify_return_error", "-ign_eof"],
      "GET / HTTP/1.0\r\n\r\n",
    );
    expect(r.output).toMatch(/Verify return code: 0 \(ok\)/);
    expect(r.output).toContain(RESPONSE);
  });

  itOpenssl("a client that fails the handshake is logged and costs nothing else", async () => {
    const listener = await example3(rt, { cert: pki.server.cert, key: pki.server.key }, 0, "127.0.0.1", log);
    const port = listener.sockname()!.port;
    const { createConnection } = await import("node:net");
    const c = createConnection(port, "127.0.0.1");
    c.on("error", () => undefined);
    c.end("GET / HTTP/1.0\r\n\r\n"); // plaintext on a TLS port
    const r = await httpsGet(port);
    expect(r.body).toBe("Hello World!");
    for (let i = 0; i < 100 && !lines.length; i++) await rt.sleep(10);
    expect(lines[0]).toMatch(/^https: sslhandshake/);
  });
});

describe("example 11: a secure client connection from a cosocket", () => {
  itOpenssl("fetches from example 3, verifying its certificate", async () => {
    const listener = await example3(rt, { cert: pki.server.cert, key: pki.server.key }, 0, "127.0.0.1", log);
    const port = listener.sockname()!.port;
    const response = await example11(rt, "localhost", port, { ca: pki.ca.cert }, log);
    expect(response).toBe(RESPONSE);
    expect(lines[0]).toMatch(new RegExp(`^connected to localhost:${port} with TLSv1\\.3 TLS_`));
    expect(lines[1]).toMatch(/^certificate: CN=localhost issued by CN=cosock test CA/);
    expect(lines[2]).toBe("trusted: yes");
    expect(lines[3]).toBe(`response: HTTP/1.0 200 OK (${RESPONSE.length} bytes)`);
  });

  itOpenssl("fetches from openssl s_server -www (TLS 1.2, small records)", async () => {
    let peer: Running | undefined;
    try {
      peer = await startSServer(pki.server.certFile, pki.server.keyFile, ["-www", "-tls1_2", "-max_send_frag", "512"]);
      const response = await example11(rt, "localhost", peer.port, { ca: pki.ca.cert }, log);
      expect(response).toMatch(/^HTTP\/1\.0 200 ok/);
      expect(response).toMatch(/Protocol {2}: TLSv1\.2/);
      expect(lines[0]).toMatch(/with TLSv1\.2 TLS_ECDHE_ECDSA_WITH_/);
    } finally {
      await peer?.stop();
    }
  });

  itOpenssl("refuses a server it cannot trust (the seed would connect and leave the check to the caller)", async () => {
    const listener = await example3(rt, { cert: pki.server.cert, key: pki.server.key }, 0, "127.0.0.1", log);
    const port = listener.sockname()!.port;
    expect(await example11(rt, "localhost", port, true, log)).toBeNull();
    expect(lines[0]).toMatch(/^secure connect failed: sslnottrusted/);
  });
});

describe("examples/https-demo.ts as a program", () => {
  itOpenssl(
    "serves example 3, checks it with example 11, and exits with --once",
    async () => {
      const proc = spawn(
        "node_modules/.bin/tsx",
        [
          "examples/https-demo.ts",
          "--cert",
          pki.server.certFile,
          "--key",
          pki.server.keyFile,
          "--ca",
          pki.ca.certFile,
          "--port",
          "0",
          "--once",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      proc.stdout!.on("data", (d) => (out += d));
      proc.stderr!.on("data", (d) => (out += d));
      try {
        const code = await new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
        expect(out).toMatch(/https server \(example 3\) listening on https:\/\/localhost:\d+\//);
        expect(out).toMatch(/trusted: yes/);
        expect(out).toMatch(/self-check: ok/);
        expect(code).toBe(0);
      } finally {
        await kill(proc);
      }
    },
    30000,
  );
});
