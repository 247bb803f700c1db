/** `npm start`'s demo as a user runs it: a separate process, real sockets, Ctrl-C to stop. */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { kill, itWithPeer, startChrony } from "../support/peers.js";

const itChrony = itWithPeer("chronyd", "apt-get install chrony");

itChrony(
  "the demo serves echo through the proxy and its web console, tells the time, and stops cleanly on SIGINT",
  async () => {
    const chrony = await startChrony();
    const proc = spawn(
      "node_modules/.bin/tsx",
      ["examples/demo.ts", "--echo", "0", "--proxy", "0", "--web", "0", "--ntp", `127.0.0.1:${chrony.port}`],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    try {
      const waitFor = async (re: RegExp) => {
        for (let i = 0; i < 300 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
        expect(out).toMatch(re);
        return out.match(re)!;
      };
      const m = await waitFor(/proxy \(example 13\)\s+listening on 127\.0\.0\.1:(\d+)/);
      await waitFor(/self-check: proxy -> echo round trip ok/);
      const web = await waitFor(/web console\s+(http:\/\/127\.0\.0\.1:\d+\/)/);
      const page = await fetch(web[1]);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("cosock demo device");
      await waitFor(/time \(example 1, [^)]*\): NTP Date and time: /);
      const echoed = await new Promise<string>((resolve, reject) => {
        const c = connect(Number(m[1]), "127.0.0.1");
        let got = "";
        c.on("data", (d) => {
          got += d;
          if (got.length >= 11) {
            c.destroy();
            resolve(got);
          }
        });
        c.on("error", reject);
        c.write("hello world");
      });
      expect(echoed).toBe("hello world");
      proc.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(out).toMatch(/stopped \(\d+ connections served\)/);
    } finally {
      await kill(proc);
      await chrony.stop();
    }
  },
  30000,
);
