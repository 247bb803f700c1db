/**
 * Test certificates made with the openssl command line into a temporary directory: a CA, server
 * leaves (good, expired, for the wrong name, self-signed), and client certificates (from the CA and
 * from a CA the server does not know). EC P-256 keys: quick to make.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Credentials {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface PKI {
  dir: string;
  ca: Credentials;
  /** CN=localhost, DNS:localhost, IP:127.0.0.1, signed by `ca`. */
  server: Credentials;
  /** Like `server`, but its validity ended yesterday. */
  expired: Credentials;
  /** Signed by `ca` for wrong.example only. */
  wrongName: Credentials;
  /** CN=localhost signed by itself. */
  selfSigned: Credentials;
  /** A client certificate (CN=device-17) signed by `ca`. */
  client: Credentials;
  /** A client certificate signed by a CA nobody trusts. */
  stranger: Credentials;
  remove(): void;
}

function openssl(dir: string, args: string[]): string {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function load(dir: string, name: string): Credentials {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
}

function makeCA(dir: string, name: string, cn: string): void {
  openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "30",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

/** A leaf signed by `ca`; `days` may be -1 for a certificate that expired yesterday. */
function makeLeaf(dir: string, name: string, ca: string, cn: string, ext: string[], days: number): void {
  writeFileSync(join(dir, `${name}.ext`), ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature", ...ext, ""].join("\n"));
  openssl(dir, ["req", "-new", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  const sign = [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  ];
  try {
    openssl(dir, [...sign, "-days", String(days)]);
  } catch (e) {
    if (days >= 0) throw e;
    // An openssl that refuses negative days: `openssl ca` takes explicit dates.
    expiredWithCa(dir, name, ca);
  }
}

function expiredWithCa(dir: string, name: string, ca: string): void {
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeFileSync(
    join(dir, "ca.cnf"),
    [
      "[ca]",
      "default_ca = test",
      "[test]",
      `dir = ${dir}`,
      "database = $dir/index.txt",
      "new_certs_dir = $dir",
      "serial = $dir/serial",
      "default_md = sha256",
      "policy = any",
      "copy_extensions = none",
      "[any]",
      "commonName = supplied",
      "",
    ].join("\n"),
  );
  const ymd = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  const day = 86400_000;
  openssl(dir, [
    "ca",
    "-batch",
    "-config",
    "ca.cnf",
    "-cert",
    `${ca}.pem`,
    "-keyfile",
    `${ca}.key`,
    "-in",
    `${name}.csr`,
    "-out",
    `${name}.pem`,
    "-startdate",
    ymd(new Date(Date.now() - 10 * day)),
    "-enddate",
    ymd(new Date(Date.now() - day)),
    "-extfile",
    `${name}.ext`,
  ]);
}

/**
 * Makes the set once for a test file (`beforeAll`) and removes it afterwards (`afterAll`); `use`
 * receives it. Without openssl: under CI=true that fails the file, locally the tests skip (they
 * are guarded with `itWithPeer("openssl", …)`).
 */
export function usePKI(use: (pki: PKI) => void): void {
  let made: PKI | undefined;
  beforeAll(() => {
    try {
      made = makePKI();
    } catch (e) {
      if (process.env.CI === "true") throw e;
      return;
    }
    use(made);
  });
  afterAll(() => made?.remove());
}

/** Makes the whole set (about a second). */
export function makePKI(): PKI {
  const dir = mkdtempSync(join(tmpdir(), "cosock-tls-"));
  try {
    return makeIn(dir);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function makeIn(dir: string): PKI {
  const serverExt = ["extendedKeyUsage=serverAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1"];
  makeCA(dir, "ca", "cosock test CA");
  makeCA(dir, "otherca", "somebody else's CA");
  makeLeaf(dir, "server", "ca", "localhost", serverExt, 30);
  makeLeaf(dir, "expired", "ca", "localhost", serverExt, -1);
  makeLeaf(dir, "wrongname", "ca", "wrong.example", ["extendedKeyUsage=serverAuth", "subjectAltName=DNS:wrong.example"], 30);
  makeLeaf(dir, "client", "ca", "device-17", ["extendedKeyUsage=clientAuth"], 30);
  makeLeaf(dir, "stranger", "otherca", "stranger", ["extendedKeyUsage=clientAuth"], 30);
  openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-keyout",
    "selfsigned.key",
    "-out",
    "selfsigned.pem",
    "-days",
    "30",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  return {
    dir,
    ca: load(dir, "ca"),
    server: load(dir, "server"),
    expired: load(dir, "expired"),
    wrongName: load(dir, "wrongname"),
    selfSigned: load(dir, "selfsigned"),
    client: load(dir, "client"),
    stranger: load(dir, "stranger"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
