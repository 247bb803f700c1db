/**
 * STARTTLS on the node host: `openssl s_client -starttls smtp` against an SMTP server written with
 * the runtime; our client's `upgrade` against that server and against an independent node:tls
 * STARTTLS server; and clients that pipeline their ClientHello behind the command, so that the
 * handshake's first bytes are already read ahead (the runtime's unread buffer) or waiting unread
 * in the host when the server upgrades.
 */
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket as NetSocket } from "node:net";
import * as tls from "node:tls";
import { Runtime, type Socket } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { itWithPeer } from "../support/peers.js";
import { usePKI, type PKI } from "./pki.js";
import { startSmtpServer } from "./smtp-server.js";
import { runSClient } from "./tls-peers.js";

const itOpenssl = itWithPeer("openssl", "apt-get install openssl");

let pki: PKI;
let rt: Runtime;

usePKI((made) => (pki = made));
beforeEach(() => {
  rt = new Runtime(nodeHost());
});
afterEach(() => rt.shutdown());

/** Reads an SMTP reply (its last line has a space after the code). */
async function reply(s: Socket): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const l = await s.readLine({ timeout: 5000 });
    if (l === null) throw new Error(`connection closed after ${JSON.stringify(lines)}`);
    lines.push(l);
    if (/^\d{3} /.test(l)) return lines;
  }
}

describe("an SMTP server with STARTTLS, written with the runtime", () => {
  itOpenssl("openssl s_client -starttls smtp upgrades, verifies and talks SMTP in TLS", async () => {
    const smtp = await startSmtpServer(rt, { cert: pki.server.cert, key: pki.server.key });
    const r = await runSClient(
      [
        "-connect",
        `127.0.0.1:${smtp.port}`,
        "-starttls",
        "smtp",
        "-CAfile",
        pki.ca.certFile,
        "-verify_hostname",
        "localhost",
        "-verify_return_error",
        "-crlf",
        "-ign_eof",
      ],
      "EHLO client.example\nNOOP\nQUIT\n",
    );
    expect(r.output).toMatch(/Verify return code: 0 \(ok\)/);
    expect(r.output).toMatch(/250 8BITMIME/); // the EHLO answer given in TLS
    expect(r.output).toMatch(/221 2\.0\.0 Bye/);
    expect(smtp.log[0]).toMatch(/^plain: EHLO/);
    expect(smtp.log[1]).toBe("plain: STARTTLS");
    expect(smtp.log[2]).toMatch(/^upgraded: TLSv1\.3 TLS_/);
    expect(smtp.log.slice(3)).toEqual(["tls: EHLO client.example", "tls: NOOP", "tls: QUIT"]);
  });

  itOpenssl("our client upgrades with sock.upgrade() in a cosocket and goes on in TLS", async () => {
    const smtp = await startSmtpServer(rt, { cert: pki.server.cert, key: pki.server.key });
    const transcript: string[] = [];
    let stateDuringUpgrade = "";
    await new Promise<void>((resolve, reject) => {
      rt.event(async (s: Socket) => {
        try {
          await s.connect("127.0.0.1", smtp.port);
          transcript.push(...(await reply(s)));
          await s.write("EHLO me\r\n");
          const ehlo = await reply(s);
          expect(ehlo).toContain("250 STARTTLS");
          await s.write("STARTTLS\r\n");
          transcript.push(...(await reply(s)));
          const up = s.upgrade({ ca: pki.ca.cert, serverName: "localhost" });
          stateDuringUpgrade = s.state();
          await up;
          expect(s.trusted()).toBe(true);
          await s.write("EHLO me\r\n");
          transcript.push(...(await reply(s)));
          await s.write("QUIT\r\n");
          transcript.push(...(await reply(s)));
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
    expect(stateDuringUpgrade).toBe("upgrade");
    expect(transcript).toEqual([
      "220 localhost ESMTP cosock",
      "220 2.0.0 Ready to start TLS",
      "250-localhost",
      "250 8BITMIME",
      "221 2.0.0 Bye",
    ]);
  });

  itOpenssl("an upgrade the client cannot trust fails with sslnottrusted and the server sees the handshake fail", async () => {
    const smtp = await startSmtpServer(rt, { cert: pki.server.cert, key: pki.server.key });
    const s = await rt.connect("127.0.0.1", smtp.port);
    await reply(s);
    await s.write("STARTTLS\r\n");
    await reply(s);
    await expect(s.upgrade({ serverName: "localhost" })).rejects.toMatchObject({ code: "sslnottrusted" });
    expect(s.state()).toBe("terminated");
  });
});

describe("our client against an independent node:tls STARTTLS server", () => {
  let server: Server;
  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  /** Greets, answers "STARTTLS" with "220 go ahead", then echoes lines in TLS with "echo ". */
  async function nodeStarttls(): Promise<number> {
    server = createServer((raw: NetSocket) => {
      raw.on("error", () => undefined);
      raw.write("220 hello\r\n");
      let text = "";
      const onData = (d: Buffer) => {
        text += d.toString("latin1");
        if (!text.includes("\r\n")) return;
        raw.off("data", onData);
        raw.pause();
        raw.write("220 go ahead\r\n", () => {
          const secure = new tls.TLSSocket(raw, { isServer: true, cert: pki.server.cert, key: pki.server.key });
          secure.on("error", () => undefined);
          let buf = "";
          secure.on("data", (x: Buffer) => {
            buf += x.toString();
            let i: number;
            while ((i = buf.indexOf("\n")) >= 0) {
              secure.write(`echo ${buf.slice(0, i)}\n`);
              buf = buf.slice(i + 1);
            }
          });
        });
      };
      raw.on("data", onData);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return (server.address() as AddressInfo).port;
  }

  itOpenssl("upgrade() after the server's go-ahead", async () => {
    const port = await nodeStarttls();
    const s = await rt.connect("127.0.0.1", port);
    expect(await s.readLine({ timeout: 5000 })).toBe("220 hello");
    await s.write("STARTTLS\r\n");
    expect(await s.readLine({ timeout: 5000 })).toBe("220 go ahead");
    await s.upgrade({ ca: pki.ca.cert });
    expect(s.cipher()?.protocol).toBe("TLSv1.3");
    await s.write("secret\n");
    expect(await s.readLine({ timeout: 5000 })).toBe("echo secret");
    s.close();
  });
});

describe("no handshake byte is lost when the client pipelines its ClientHello", () => {
  /** Our server: reads "STARTTLS" (late, after `readDelay`), upgrades without answering, echoes lines in TLS. */
  async function pipelineServer(readDelay: number, upgradeDelay: number): Promise<{ port: number; log: string[] }> {
    const l = await rt.bind(0, { intf: "127.0.0.1" });
    const log: string[] = [];
    l.event(async (ls: Socket) => {
      const s = (await ls.accept())!;
      s.event(async (c: Socket) => {
        try {
          await c.rt.sleep(readDelay);
          log.push(`plain: ${await c.readLine({ timeout: 5000 })}`);
          if (upgradeDelay) await c.rt.sleep(upgradeDelay);
          await c.upgrade({ server: true, cert: pki.server.cert, key: pki.server.key });
          for (;;) {
            const line = await c.readLine({ timeout: 5000 });
            if (line === null) break;
            log.push(`tls: ${line}`);
            await c.write(`echo ${line}\n`);
          }
        } catch (e) {
          log.push(`error: ${(e as Error).message}`);
        }
      }, "s");
    });
    return { port: l.sockname()!.port, log };
  }

  /** A node client that sends STARTTLS, waits `gap` ms (0: not at all), then starts TLS at once. */
  function pipelinedClient(port: number, gap: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const raw = netConnect(port, "127.0.0.1", () => {
        raw.write("STARTTLS\r\n");
        setTimeout(() => {
          const secure = tls.connect({ socket: raw, ca: pki.ca.cert, servername: "localhost" }, () => secure.write("after\n"));
          let got = "";
          secure.on("data", (d: Buffer) => {
            got += d.toString();
            if (got.endsWith("\n")) {
              secure.end();
              resolve(got.trim());
            }
          });
          secure.on("error", reject);
        }, gap);
      });
      raw.on("error", reject);
    });
  }

  itOpenssl("read ahead by readLine (the runtime's unread buffer)", async () => {
    const { port, log } = await pipelineServer(150, 0); // both arrive before the server reads: one chunk
    expect(await pipelinedClient(port, 0)).toBe("echo after");
    expect(log).toEqual(["plain: STARTTLS", "tls: after"]);
  });

  itOpenssl("still unread in the host when the server upgrades", async () => {
    const { port, log } = await pipelineServer(0, 200); // the line is read, the ClientHello arrives and waits
    expect(await pipelinedClient(port, 50)).toBe("echo after");
    expect(log).toEqual(["plain: STARTTLS", "tls: after"]);
  });
});
