/*
 * Baseline for tools/moddable/measure.ts: a tiny echo written directly on ECMA-419's
 * embedded:io/socket/listener and embedded:io/socket/tcp callbacks (no cosock).
 * Ports: config "echo.port" and "control.port".
 */
import config from "mc/config";
import Listener from "embedded:io/socket/listener";
import TCP from "embedded:io/socket/tcp";
import { control } from "memcontrol";

function pump(s) {
  // move what is readable, as far as the socket can take it now
  while (s.r > 0 && s.w > 0) {
    const n = Math.min(s.r, s.w);
    const data = s.read(n);
    s.r -= data.byteLength;
    s.w = s.write(data);
  }
}

// Shared callbacks (ECMA-419 calls them with the socket as `this`), so that the baseline's
// per-connection cost is the platform socket and two numbers, not three closures.
function onReadable(n) {
  this.r = n;
  pump(this);
}
function onWritable(n) {
  this.w = n;
  pump(this);
}
function onError() {
  this.close();
}

const listener = new Listener({
  port: Number(config["echo.port"]),
  onReadable(count) {
    while (count-- > 0) {
      const s = new TCP({ from: listener.read(), onReadable, onWritable, onError });
      s.r = 0;
      s.w = 0;
    }
  },
});
const cport = control(Number(config["control.port"]));
trace(`raw echo listening on port ${listener.port} control ${cport}\n`);
