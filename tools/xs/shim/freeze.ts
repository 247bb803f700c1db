/**
 * The built-ins frozen the way a Moddable device has them: an app whose modules are preloaded
 * runs with every intrinsic (constructors, their prototypes, the namespace objects, the hidden
 * iterator and function prototypes) frozen into flash. What that catches: assigning to a property
 * an intrinsic prototype has (`this.name = …` in an Error subclass, `obj.toString = …` on a plain
 * object) throws "TypeError: set name: not writable" (the override mistake), and no code may
 * patch a built-in.
 *
 * `freezeIntrinsics()` runs in the XS test entry after the shim installed its globals and before
 * the suite's modules load (tools/xs/test-xs.ts). It uses xsnap's `harden` (a deep freeze: the
 * object, its prototype chain and everything reachable from its properties); the global object
 * itself stays extensible, as on the device. ES2022 only, no Node APIs.
 */

/** The standard globals a device's preload freezes (those this engine has). */
const INTRINSIC_GLOBALS = [
  "AggregateError",
  "Array",
  "ArrayBuffer",
  "Atomics",
  "BigInt",
  "BigInt64Array",
  "BigUint64Array",
  "Boolean",
  "DataView",
  "Date",
  "Error",
  "EvalError",
  "FinalizationRegistry",
  "Float32Array",
  "Float64Array",
  "Function",
  "Int16Array",
  "Int32Array",
  "Int8Array",
  "JSON",
  "Map",
  "Math",
  "Number",
  "Object",
  "Promise",
  "Proxy",
  "RangeError",
  "ReferenceError",
  "Reflect",
  "RegExp",
  "Set",
  "SharedArrayBuffer",
  "String",
  "Symbol",
  "SyntaxError",
  "TypeError",
  "URIError",
  "Uint16Array",
  "Uint32Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "WeakMap",
  "WeakRef",
  "WeakSet",
  "decodeURI",
  "decodeURIComponent",
  "encodeURI",
  "encodeURIComponent",
  "escape",
  "isFinite",
  "isNaN",
  "parseFloat",
  "parseInt",
  "unescape",
  "eval",
  // Moddable's text codecs (modules on the device, preloaded with the app)
  "TextDecoder",
  "TextEncoder",
] as const;

/** Intrinsics no global names: the iterator, generator and async function prototypes. */
function hiddenIntrinsics(): object[] {
  const proto = (o: object) => Object.getPrototypeOf(o) as object;
  function* gen() {}
  async function* agen() {}
  async function afn() {}
  return [
    proto(gen), // %GeneratorFunction.prototype%, and through it %GeneratorPrototype%
    proto(agen), // %AsyncGeneratorFunction.prototype%
    proto(afn), // %AsyncFunction.prototype%
    proto(gen()), // %GeneratorPrototype% (reached above too; kept for clarity)
    proto(proto(gen())), // %IteratorPrototype%
    proto([][Symbol.iterator]()), // %ArrayIteratorPrototype%
    proto(new Map()[Symbol.iterator]()),
    proto(new Set()[Symbol.iterator]()),
    proto(""[Symbol.iterator]()),
    proto("".matchAll(/x/g)), // %RegExpStringIteratorPrototype%
    proto(Uint8Array), // %TypedArray%
    (function (this: unknown) {
      return Object.getOwnPropertyDescriptor(arguments, "callee")?.get as object; // %ThrowTypeError%
    })(),
  ].filter((o): o is object => typeof o === "object" || typeof o === "function");
}

export interface Frozen {
  /** How many objects were given to harden (each frozen deeply). */
  roots: number;
}

/** Freezes the intrinsics; throws if the engine has no `harden` (xsnap has it). */
export function freezeIntrinsics(): Frozen {
  const g = globalThis as unknown as Record<string, unknown>;
  const harden = g.harden as ((o: unknown) => unknown) | undefined;
  if (typeof harden !== "function") throw new Error("freezeIntrinsics: this engine has no harden()");
  const roots: unknown[] = [];
  for (const name of INTRINSIC_GLOBALS) if (name in g) roots.push(g[name]);
  roots.push(...hiddenIntrinsics());
  for (const r of roots) harden(r);
  if (!Object.isFrozen(Error.prototype) || !Object.isFrozen(Object.prototype)) throw new Error("freezeIntrinsics: harden() did not freeze");
  return { roots: roots.length };
}
