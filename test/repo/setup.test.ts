/**
 * What a new user meets first: README's set-up line installs exactly the Debian packages
 * .ci/run installs (tools/debian-packages.txt), package.json states the Node version the
 * dependencies accept, and no tracked file points to a path outside the repository.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "../..");
const read = (p: string) => readFileSync(join(ROOT, p), "utf8");

describe("the repository's set-up", () => {
  it("README's apt-get line lists exactly tools/debian-packages.txt, which .ci/run installs", () => {
    const listed = read("tools/debian-packages.txt")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    const lines = read("README.md")
      .split("\n")
      .filter((l) => /apt-get install -y /.test(l));
    expect(lines).toHaveLength(1);
    const inReadme = lines[0]!.split("apt-get install -y ")[1]!.trim().split(/\s+/);
    expect([...inReadme].sort()).toEqual([...listed].sort());
    expect(read(".ci/run")).toContain("tools/debian-packages.txt");
  });

  it("no dependency in the lock file requires a newer Node than package.json's engines", () => {
    const pkg = JSON.parse(read("package.json")) as { engines: { node: string } };
    const ours = Number(/>=\s*(\d+)/.exec(pkg.engines.node)![1]);
    const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, { engines?: { node?: string } }> };
    const stricter = Object.entries(lock.packages)
      .filter(([, p]) => {
        const m = />=\s*v?(\d+)/.exec(p.engines?.node ?? "");
        return m && Number(m[1]) > ours && !/\|\|/.test(p.engines!.node!);
      })
      .map(([name, p]) => `${name} (${p.engines!.node})`);
    expect(stricter).toEqual([]);
  });

  it("no tracked file refers to a folder beside the repository (../shared)", () => {
    const r = spawnSync("git", ["grep", "-n", "-I", "-e", "\\.\\./shared/", "--", "."], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(1); // git grep: nothing found
  });
});
