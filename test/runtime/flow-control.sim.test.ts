import { flowControlSuite } from "./flow-control.cases.js";
import { simEnv } from "../support/sim-env.js";

describe("runtime on the simulated network", () => {
  flowControlSuite(() => simEnv({ link: { latency: 2, sendBuffer: 2048, recvWindow: 4096 } }));
});
