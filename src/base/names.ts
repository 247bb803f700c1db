/**
 * Host-name matching for certificates (RFC 6125), shared by the runtime's trust check and the
 * simulated network's TLS stand-in.
 */

/** The names a certificate holds (the seam's `CertificateInfo` has these fields). */
export interface CertificateNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly commonName?: string | undefined;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Does the certificate name `host`? An IP address must be one of the IP entries; a host name must
 * match a DNS entry (a "*" may stand for the whole left-most label only, never for a
 * public-suffix-like two-label name); the common name counts only when there are no DNS entries.
 */
export function matchesName(cert: CertificateNames, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  if (IPV4.test(name) || name.includes(":")) return cert.ipAddresses.some((ip) => ip.toLowerCase() === name);
  const dns = cert.dnsNames.length ? cert.dnsNames : cert.commonName !== undefined ? [cert.commonName] : [];
  return dns.some((pattern) => matchesPattern(pattern.toLowerCase().replace(/\.$/, ""), name));
}

function matchesPattern(pattern: string, name: string): boolean {
  if (!pattern.startsWith("*.")) return pattern === name;
  const suffix = pattern.slice(1); // ".example.com"
  if (suffix.split(".").length < 3) return false; // "*.com" names nothing
  const dot = name.indexOf(".");
  return dot > 0 && name.slice(dot) === suffix;
}
