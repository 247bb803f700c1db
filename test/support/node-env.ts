/** The loopback environment (node host) for the shared suites. */
import { Runtime, type RuntimeOptions } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import type { Env } from "./env.js";

export function nodeEnv(options: { rt?: Partial<RuntimeOptions> } = {}): Env {
  const server = new Runtime(nodeHost(), options.rt);
  const client = new Runtime(nodeHost(), options.rt);
  return {
    name: "node",
    server,
    client,
    address: "127.0.0.1",
    async done() {
      server.shutdown();
      client.shutdown();
      await new Promise((r) => setTimeout(r, 5));
    },
  };
}
