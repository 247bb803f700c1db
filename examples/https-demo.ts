/**
 * Examples 3 and 11 as a program on the desktop host: an HTTPS "Hello World" server (example 3)
 * and a secure client (example 11) that fetches from it, verifying its certificate.
 *
 *   npx tsx examples/https-demo.ts --cert server.pem --key server.key [--ca ca.pem] [--port 9443] [--once]
 *   npx tsx examples/https-demo.ts --get example.com[:443]      (example 11 alone, default trust store)
 *
 * A certificate for a try (self-signed, so it is also the CA):
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem \
 *     -out cert.pem -days 30 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
 */
import { readFileSync } from "node:fs";
import { Runtime } from "../src/index.js";
import { nodeHost } from "../hosts/node/index.js";
import { example3 } from "./03-https-hello.js";
import { example11 } from "./11-secure-client.js";
import { cliArg } from "./cli.js";

const arg = (name: string): string | undefined => cliArg(process.argv, name);

async function main(): Promise<number> {
  const rt = new Runtime(nodeHost());
  const get = arg("get");
  if (get) {
    const [host, port] = get.split(":");
    const response = await example11(rt, host, Number(port ?? 443));
    rt.shutdown();
    return response === null ? 1 : 0;
  }
  const certFile = arg("cert");
  const keyFile = arg("key");
  if (!certFile || !keyFile) {
    console.error("usage: https-demo.ts --cert FILE --key FILE [--ca FILE] [--port N] [--once] | --get HOST[:PORT]");
    return 2;
  }
  const cert = readFileSync(certFile, "utf8");
  const key = readFileSync(keyFile, "utf8");
  const ca = readFileSync(arg("ca") ?? certFile, "utf8");
  const listener = await example3(rt, { cert, key }, Number(arg("port") ?? 9443));
  const port = listener.sockname()!.port;
  console.log(`https server (example 3) listening on https://localhost:${port}/`);
  const response = await example11(rt, "localhost", port, { ca });
  console.log(`self-check: ${response?.endsWith("Hello World!") ? "ok" : "FAILED"}`);
  if (process.argv.includes("--once")) {
    rt.shutdown();
    return response ? 0 : 1;
  }
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  rt.shutdown();
  console.log(`stopped (${rt.stat().totalCons} connections served)`);
  return 0;
}

main().then(
  (code) => setTimeout(() => process.exit(code), 50).unref(),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
