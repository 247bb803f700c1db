/**
 * tools/xs/memory.ts prints the XS memory figures on every machine: the 32-bit ones directly or
 * under qemu-i386 (a kernel without 32-bit execution), and where neither can run them, the
 * 64-bit ones with one line saying why — exit status 0 and no stack trace in every case.
 * COSOCK_XS32 forces each path (tools/xs/exec.ts), so that none of them can rot.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { have, itIf } from "../support/peers.js";

const ROOT = join(__dirname, "../..");

function memoryTool(mode: string): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "tools/xs/memory.ts"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, COSOCK_XS32: mode },
    timeout: 900_000, // the first run builds the two reporting engines from C (a minute or more each)
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** The rows of one table ("32-bit …" or "64-bit …"), from its title to the next blank line. */
function table(out: string, prefix: string): string[] {
  const lines = out.split("\n");
  const at = lines.findIndex((l) => l.startsWith(prefix));
  if (at < 0) return [];
  const end = lines.indexOf("", at);
  return lines.slice(at + 1, end < 0 ? undefined : end);
}

const COSOCKET = /^ {2}runtime per idle server cosocket +\d+ +\d+ +(\d+)$/;
const itQemu = itIf(have("qemu-i386"), "qemu-i386", "apt-get install qemu-user");

describe("tools/xs/memory.ts on every machine", () => {
  it("forced to have no 32-bit execution: the 64-bit figures, one line why, exit 0", () => {
    const r = memoryTool("none");
    expect(r.status).toBe(0);
    const why = r.out.split("\n").filter((l) => l.includes("not measured"));
    expect(why).toEqual(["32-bit (ESP32-like: 16-byte slots): not measured: COSOCK_XS32=none (forced)"]);
    expect(table(r.out, "64-bit").some((l) => COSOCKET.test(l))).toBe(true);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  }, 1_000_000);

  itQemu(
    "under qemu-i386 the 32-bit figures are those of a direct run (same binary, same heap)",
    () => {
      const emulated = memoryTool("qemu");
      expect(emulated.status).toBe(0);
      expect(emulated.out).toMatch(/^32-bit \(ESP32-like: 16-byte slots\), XS \d+\.\d+\.\d+ \(run under qemu-i386\)$/m);
      const rows = table(emulated.out, "32-bit");
      const idle = rows.map((l) => COSOCKET.exec(l)).find(Boolean);
      expect(Number(idle?.[1])).toBeGreaterThan(0);
      const direct = memoryTool("auto");
      expect(direct.status).toBe(0);
      // Where the kernel runs 32-bit binaries, "auto" runs it directly and the figures must match;
      // where it cannot, "auto" falls back to qemu-i386 itself.
      expect(table(direct.out, "32-bit")).toEqual(rows);
    },
    2_000_000,
  );

  it("an unknown COSOCK_XS32 value is refused with one line, not a stack trace", () => {
    const r = memoryTool("sometimes");
    expect(r.status).toBe(1);
    expect(r.err.trim()).toBe("tools/xs/memory.ts: COSOCK_XS32=sometimes: expected one of auto, direct, qemu, none");
  });
});
