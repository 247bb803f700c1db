/**
 * The layering rule (docs/contributing.md, "Layers"), checked on every import and re-export of
 * every .ts file in src/, hosts/*, modules/ and device/ (type-only ones too: a type import is
 * still a dependency a reader has to follow). A failure names the file, the import and the rule.
 *
 *   src/base/      imports nothing of ours but src/base/ itself, and no platform module
 *   src/           src/ (the base layer included); no `node:*`, `embedded:*` or package
 *   hosts/<name>/  src/host.ts (the seam), src/base/, its own folder, and its platform's modules
 *   modules/       their own module's folder and the `cosock.ts` entry files; only the entry
 *                  files (modules/cosock.ts) reach src/
 *   device/        the composition root: src/, hosts/moddable/, device/, `mc/config`
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(__dirname, "../..");

/** The platform modules each host may import, besides the seam and the base layer. */
const PLATFORM: Record<string, RegExp> = {
  node: /^node:/,
  sim: /(?!)/, // none: the simulated network runs on XS too (npm run test:xs)
  moddable: /^(embedded:|timer$|time$|net$)/,
};

/** Why `spec`, imported by `file` (both relative to the root), breaks the layering; undefined if it is allowed. */
function violation(file: string, spec: string): string | undefined {
  const target = spec.startsWith(".") ? relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.js$/, ".ts") : undefined;
  const inside = (dir: string) => target !== undefined && (target === dir || target.startsWith(dir + "/"));
  const top = file.split("/");
  if (file.startsWith("src/base/")) {
    return inside("src/base") ? undefined : "src/base/ imports nothing of ours but itself, and no platform module";
  }
  if (file.startsWith("src/")) {
    return inside("src") ? undefined : "src/ imports only src/ (and src/base/): no node:*, embedded:* or package";
  }
  if (top[0] === "hosts") {
    const own = `hosts/${top[1]}`;
    if (target === "src/host.ts" || inside("src/base") || inside(own)) return undefined;
    if (target === undefined && PLATFORM[top[1]!]?.test(spec)) return undefined;
    return `${own}/ imports only src/host.ts, src/base/, its own folder and its platform's modules`;
  }
  if (top[0] === "modules") {
    if (file === "modules/cosock.ts") return inside("src") ? undefined : "modules/cosock.ts re-exports src/ only";
    if (target !== undefined && (target === "modules/cosock.ts" || (top.length > 2 && inside(`modules/${top[1]}`)))) return undefined;
    return "a module imports its own folder and the runtime through a cosock.ts entry file";
  }
  if (top[0] === "device") {
    if (inside("src") || inside("hosts/moddable") || inside("device") || spec === "mc/config") return undefined;
    return "device/ (the composition root) imports src/, hosts/moddable/ and device/";
  }
  return undefined;
}

/** Every import, re-export, `import("…")` type and dynamic import of a file. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      out.push(node.moduleSpecifier.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push(node.argument.literal.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

const files = ["src", "hosts", "modules", "device"].flatMap(tsFiles);

describe("the layers (docs/contributing.md)", () => {
  it("finds the files of every layer", () => {
    for (const dir of ["src/base/", "src/", "hosts/node/", "hosts/sim/", "hosts/moddable/", "modules/", "device/"]) {
      expect({ dir, found: files.some((f) => f.startsWith(dir)) }).toEqual({ dir, found: true });
    }
  });

  it("the rule refuses what it should (so that the check below can fail)", () => {
    expect(violation("src/base/queue.ts", "../host.js")).toBeDefined();
    expect(violation("src/socket.ts", "node:net")).toBeDefined();
    expect(violation("src/runtime.ts", "../hosts/node/index.js")).toBeDefined();
    expect(violation("hosts/node/tcp.ts", "../../src/socket.js")).toBeDefined();
    expect(violation("hosts/sim/tls-standin.ts", "../../src/tls.js")).toBeDefined();
    expect(violation("hosts/moddable/tcp.ts", "node:net")).toBeDefined();
    expect(violation("hosts/sim/pipe.ts", "node:net")).toBeDefined();
    expect(violation("hosts/node/tcp.ts", "../sim/pipe.js")).toBeDefined();
    expect(violation("modules/mqtt/client.ts", "../../src/index.js")).toBeDefined();
    expect(violation("modules/mqtt/client.ts", "../modbus/pdu.js")).toBeDefined();
    expect(violation("device/runtime.ts", "../hosts/node/index.js")).toBeDefined();
    // and allows what it should
    expect(violation("src/websocket/connection.ts", "../base/queue.js")).toBeUndefined();
    expect(violation("hosts/node/tcp.ts", "../../src/base/byte-queue.js")).toBeUndefined();
    expect(violation("hosts/moddable/device.ts", "embedded:io/socket/tcp")).toBeUndefined();
    expect(violation("modules/mqtt/flows/sender.ts", "../cosock.js")).toBeUndefined();
    expect(violation("device/runtime.ts", "../hosts/moddable/device.js")).toBeUndefined();
  });

  it("every import of src/, hosts/*, modules/ and device/ keeps to its layer", () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const spec of importsOf(file)) {
        const why = violation(file, spec);
        if (why) broken.push(`${file} imports "${spec}": ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
