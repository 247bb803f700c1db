/*
 * cosock's echo (seed example 9, as manifests/echo) plus the measurement control port, for
 * tools/moddable/measure.ts. Ports: config "echo.port" and "control.port".
 */
import config from "mc/config";
import { deviceRuntime } from "cosock/device/runtime";
import { example9 } from "cosock/examples/09-cosocket-echo";
import { control } from "memcontrol";

const rt = deviceRuntime();
const cport = control(Number(config["control.port"]));
example9(rt, Number(config["echo.port"]), "0.0.0.0").then(
  (listener) => trace(`cosock echo listening on port ${listener.sockname()?.port} control ${cport}\n`),
  (e) => trace(`cosock echo: ${String(e)}\n`),
);
