import { flowControlSuite } from "./flow-control.cases.js";
import { nodeEnv } from "../support/node-env.js";

describe("runtime on loopback (node host)", () => {
  flowControlSuite(() => nodeEnv());
});
