/**
 * How to execute a built xsnap. A 64-bit build runs directly. A 32-bit build (the `report32`
 * variant, whose slot and chunk sizes are the ESP32's) runs directly where the kernel executes
 * 32-bit binaries, and otherwise under user-mode emulation (`qemu-i386`, Debian's `qemu-user`):
 * some kernels are built without 32-bit support ("32-bit emulation disabled"), and there the
 * binary fails with "Exec format error" (or a shell's "Syntax error") instead of running.
 *
 * `COSOCK_XS32` forces a path, so that each one can be tested on any machine:
 *   auto (default) — direct if it works, else qemu-i386, else unavailable
 *   direct         — direct only
 *   qemu           — qemu-i386 only (as if the kernel could not run 32-bit binaries)
 *   none           — unavailable (as if neither worked)
 */
import { spawnSync } from "node:child_process";

export interface XsnapCommand {
  /** The program to spawn and the arguments before the script's. */
  file: string;
  args: string[];
  /** "direct" or "qemu-i386" */
  how: string;
  /** "XS 13.3.0" */
  version: string;
}

export type XsnapOrReason = { ok: true; command: XsnapCommand } | { ok: false; reason: string };

const MODES = ["auto", "direct", "qemu", "none"] as const;
type Mode = (typeof MODES)[number];

function mode(): Mode {
  const m = (process.env.COSOCK_XS32 ?? "auto") as Mode;
  if (!MODES.includes(m)) throw new Error(`COSOCK_XS32=${m}: expected one of ${MODES.join(", ")}`);
  return m;
}

/** The XS version an xsnap prints for -v, or a one-line reason it did not run. */
function probe(file: string, args: string[]): { version: string } | { reason: string } {
  const r = spawnSync(file, [...args, "-v"], { encoding: "utf8", timeout: 30_000 });
  if (r.error) return { reason: (r.error as NodeJS.ErrnoException).code === "ENOENT" ? `${file} not found` : r.error.message };
  const version = /XS \d+\.\d+\.\d+/.exec(r.stdout)?.[0];
  if (version) return { version };
  const said = `${r.stdout}\n${r.stderr}`.trim().split("\n")[0] || `exit status ${r.status}`;
  return { reason: said };
}

/** How to run a 64-bit (native) xsnap. */
export function nativeXsnap(binary: string): XsnapCommand {
  const p = probe(binary, []);
  if ("reason" in p) throw new Error(`${binary} does not run: ${p.reason}`);
  return { file: binary, args: [], how: "direct", version: p.version };
}

/** How to run a 32-bit xsnap here, or why it cannot be run. */
export function xsnap32(binary: string): XsnapOrReason {
  const m = mode();
  const reasons: string[] = [];
  if (m === "none") return { ok: false, reason: "COSOCK_XS32=none (forced)" };
  if (m === "auto" || m === "direct") {
    const p = probe(binary, []);
    if ("version" in p) return { ok: true, command: { file: binary, args: [], how: "direct", version: p.version } };
    reasons.push(`this kernel does not execute 32-bit binaries (${p.reason})`);
  } else reasons.push("direct execution skipped (COSOCK_XS32=qemu)");
  if (m === "auto" || m === "qemu") {
    const p = probe("qemu-i386", [binary]);
    if ("version" in p) return { ok: true, command: { file: "qemu-i386", args: [binary], how: "qemu-i386", version: p.version } };
    reasons.push(`qemu-i386 did not run it (${p.reason}; apt-get install qemu-user)`);
  }
  return { ok: false, reason: reasons.join("; ") };
}
