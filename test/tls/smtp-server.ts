/**
 * A small SMTP-speaking STARTTLS server written with the runtime (enough of RFC 3207 for
 * `openssl s_client -starttls smtp` and for our own client): EHLO, STARTTLS, NOOP, QUIT.
 * Each session is a cosocket; STARTTLS answers 220 and upgrades the session's own socket.
 */
import type { Runtime, Socket, TLSServerOptions } from "../../src/index.js";

export interface SmtpServer {
  listener: Socket;
  port: number;
  /** What the sessions saw, one entry per command or event. */
  log: string[];
}

export async function startSmtpServer(rt: Runtime, tls: TLSServerOptions): Promise<SmtpServer> {
  const listener = await rt.bind(0, { intf: "127.0.0.1" });
  const log: string[] = [];
  listener.event(async (l: Socket) => {
    for (;;) {
      const s = await l.accept();
      if (!s) break;
      s.event(session, "s", tls, log);
    }
  });
  return { listener, port: listener.sockname()!.port, log };
}

async function session(s: Socket, tls: TLSServerOptions, log: string[]): Promise<void> {
  try {
    await s.write("220 localhost ESMTP cosock\r\n");
    for (;;) {
      const line = await s.readLine({ timeout: 10000 });
      if (line === null) break;
      const verb = line.split(" ")[0].toUpperCase();
      log.push(`${s.secure ? "tls" : "plain"}: ${line}`);
      if (verb === "EHLO") await s.write(s.secure ? "250-localhost\r\n250 8BITMIME\r\n" : "250-localhost\r\n250 STARTTLS\r\n");
      else if (verb === "HELO") await s.write("250 localhost\r\n");
      else if (verb === "STARTTLS" && !s.secure) {
        await s.write("220 2.0.0 Ready to start TLS\r\n");
        await s.upgrade({ ...tls, server: true });
        const c = s.cipher()!;
        log.push(`upgraded: ${c.protocol} ${c.name}`);
      } else if (verb === "NOOP") await s.write("250 2.0.0 OK\r\n");
      else if (verb === "QUIT") {
        await s.write("221 2.0.0 Bye\r\n");
        break;
      } else await s.write("502 5.5.2 Command not recognized\r\n");
    }
  } catch (e) {
    log.push(`error: ${(e as { code?: string }).code ?? e}`);
  }
}
