/**
 * What a Moddable build does with our manifests' `modules`, and how XS then resolves imports,
 * reproduced for checking under Node:
 *
 * - mcconfig (tools/mcmanifest.js, ModulesRule): "name/*": "dir/*" takes the files of that one
 *   directory (not subdirectories); "name": "path" one file; "*": "./main" the file under its own
 *   name. A .ts file becomes module "name".
 *   `.d.ts` files only feed the type checker.
 * - XS on microcontrollers (xs/platforms/mc/xsHosts.c, fxFindModule): a ".js"/".mjs" extension
 *   is dropped from the last path segment; a specifier starting with "./" or "../" is resolved
 *   against the importing module's name with exactly ONE such prefix ("../../x" is not
 *   normalized and is never found); anything else is taken as the module name itself.
 *
 * Only value imports matter at run time: `import type` / `export type` are erased.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import ts from "typescript";

export const ROOT = resolve(__dirname, "../..");

/** Modules the Moddable SDK provides to our code (from the manifests we include). */
export const PLATFORM_MODULES = [/^embedded:/, /^timer$/, /^time$/, /^net$/, /^mc\/config$/];

interface Manifest {
  include?: string | string[];
  modules?: Record<string, string | string[]>;
  preload?: string[];
  config?: Record<string, unknown>;
}

export function readManifest(path: string): Manifest {
  return JSON.parse(readFileSync(path, "utf8")) as Manifest;
}

/** Module name → source file, for a manifest and the local manifests it includes. */
export function modulesOf(manifestPath: string, into = new Map<string, string>()): Map<string, string> {
  const manifest = readManifest(manifestPath);
  const dir = dirname(manifestPath);
  const includes = manifest.include === undefined ? [] : ([] as string[]).concat(manifest.include);
  for (const inc of includes) if (!inc.startsWith("$(")) modulesOf(resolve(dir, inc), into);
  for (const [name, spec] of Object.entries(manifest.modules ?? {})) {
    for (const source of ([] as string[]).concat(spec)) {
      if (source.startsWith("$(")) continue;
      if (name.endsWith("*") && !source.endsWith("*")) {
        // "*": "./main": that file, under its own name
        into.set(name.slice(0, -1) + basename(source), resolve(dir, source + ".ts"));
      } else if (name.endsWith("*")) {
        const folder = resolve(dir, source.slice(0, -1));
        for (const f of readdirSync(folder)) {
          const path = join(folder, f);
          if (!statSync(path).isFile() || !f.endsWith(".ts") || f.endsWith(".d.ts")) continue;
          into.set(name.slice(0, -1) + f.slice(0, -3), path);
        }
      } else {
        const path = resolve(dir, source + ".ts");
        into.set(name, path);
      }
    }
  }
  return into;
}

/** Value imports and re-exports of a TypeScript file (type-only ones excluded). */
export function valueImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) && node.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteral(arg)) out.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** XS's fxFindModule on microcontrollers: the module name `specifier` means inside `from`. */
export function xsResolve(from: string, specifier: string): string | undefined {
  let name = specifier;
  const lastSlash = name.lastIndexOf("/");
  const dot = name.lastIndexOf(".");
  if (dot > lastSlash && (name.slice(dot) === ".js" || name.slice(dot) === ".mjs")) name = name.slice(0, dot);
  let hop = 0;
  if (name.startsWith("./")) hop = 1;
  else if (name.startsWith("../")) hop = 2;
  if (hop === 0) return name;
  let base = "/" + from;
  let cut = base.lastIndexOf("/");
  if (cut < 0) return undefined;
  if (hop === 2) {
    base = base.slice(0, cut);
    cut = base.lastIndexOf("/");
    if (cut < 0) return undefined;
  }
  return (base.slice(0, cut) + name.slice(hop)).slice(1);
}

export interface Unresolved {
  module: string;
  file: string;
  specifier: string;
  resolvedAs: string | undefined;
}

/** Every value import of every TypeScript module of the app that would not be found on the device. */
export function unresolvedImports(modules: Map<string, string>): Unresolved[] {
  const out: Unresolved[] = [];
  for (const [name, file] of modules) {
    for (const specifier of valueImports(file)) {
      const target = xsResolve(name, specifier);
      const found = target !== undefined && (modules.has(target) || PLATFORM_MODULES.some((re) => re.test(target)));
      if (!found) out.push({ module: name, file: file.slice(ROOT.length + 1), specifier, resolvedAs: target });
    }
  }
  return out;
}
