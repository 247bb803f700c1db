/**
 * Test environments: the same scenario runs on the simulated network and on real loopback
 * sockets. An environment gives a server runtime, a client runtime and the address the server
 * listens on.
 */
import type { Runtime } from "../../src/index.js";
import type { SimNetwork } from "../../hosts/sim/index.js";

export interface Env {
  readonly name: "sim" | "node" | "moddable";
  readonly server: Runtime;
  readonly client: Runtime;
  /** The address servers bind and clients connect to. */
  readonly address: string;
  readonly sim?: SimNetwork;
  done(): Promise<void>;
}
