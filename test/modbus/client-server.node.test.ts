import { nodeEnv } from "../support/node-env.js";
import { clientServerSuite } from "./client-server.cases.js";

describe("Modbus client and server on loopback", () => {
  clientServerSuite(() => nodeEnv());
});
