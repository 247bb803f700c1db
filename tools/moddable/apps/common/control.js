/*
 * The measurement control port, on raw ECMA-419 callbacks (the same code in both apps, so that it
 * cancels out of the slope). A client sends one letter: "m" collects garbage and answers
 * "<slots> <chunks> <peakSlots> <peakChunks>\n" (bytes); "r" resets the high-water marks and
 * answers "ok\n".
 */
import Listener from "embedded:io/socket/listener";
import TCP from "embedded:io/socket/tcp";
import heapstat from "heapstat";

export function control(port) {
  const listener = new Listener({
    port,
    onReadable(count) {
      while (count-- > 0) {
        new TCP({
          from: listener.read(),
          onReadable(n) {
            const cmd = String.fromCharCode(new Uint8Array(this.read(n))[0]);
            let answer;
            if (cmd === "r") {
              heapstat(4);
              answer = "ok\n";
            } else {
              const slots = heapstat(0);
              answer = `${slots} ${heapstat(1)} ${heapstat(2)} ${heapstat(3)}\n`;
            }
            const bytes = new Uint8Array(answer.length);
            for (let i = 0; i < answer.length; i++) bytes[i] = answer.charCodeAt(i);
            this.write(bytes.buffer);
          },
          onError() {
            this.close();
          },
        });
      }
    },
  });
  return listener.port;
}
