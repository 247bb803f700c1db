import { simEnv } from "../support/sim-env.js";
import { clientServerSuite } from "./client-server.cases.js";

describe("Modbus client and server on the simulated network", () => {
  clientServerSuite(() => simEnv({ link: { latency: 3, sendBuffer: 512, recvWindow: 1024 } }));
});
