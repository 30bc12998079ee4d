import type { X509Certificate } from 'node:crypto';
import { certInfo } from '../pki/index.ts';
import { SignetError } from '../util/index.ts';

/**
 * RFC 4514 distinguished names for `x509.subject:` trusted identities. Hand-written because the
 * grammar is small and fixed by the spec, and no maintained library parses RFC 4514 strings into
 * attribute maps (pkijs parses DER names, not strings).
 */
export function parseDistinguishedName(dn: string): Map<string, string> {
  const out = new Map<string, string>();
  const rdns: string[] = [];
  let cur = '';
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\') {
      if (i + 1 >= dn.length) throw new SignetError('POLICY_INVALID', 'dangling escape');
      cur += ch + dn[++i];
      continue;
    }
    if (ch === ',' || ch === ';') {
      rdns.push(cur);
      cur = '';
      continue;
    }
    if (ch === '+') throw new SignetError('POLICY_INVALID', 'multi-valued RDNs are not supported');
    cur += ch;
  }
  rdns.push(cur);
  for (const rdn of rdns) {
    const eq = rdn.indexOf('=');
    if (eq <= 0) throw new SignetError('POLICY_INVALID', `${JSON.stringify(rdn.trim())} is not type=value`);
    let type = rdn.slice(0, eq).trim().toUpperCase();
    if (type === 'S') type = 'ST';
    const rawValue = rdn.slice(eq + 1).trim();
    if (rawValue.startsWith('#')) throw new SignetError('POLICY_INVALID', 'hex-encoded values (=#) are not supported');
    const value = rawValue.replace(/\\(.)/g, '$1');
    if (!type || !value)
      throw new SignetError('POLICY_INVALID', `${JSON.stringify(rdn.trim())} has an empty type or value`);
    if (out.has(type)) throw new SignetError('POLICY_INVALID', `attribute ${type} appears twice`);
    out.set(type, value);
  }
  return out;
}

/** The leaf's subject as an attribute map (short names; unknown attributes keep their OID). */
export function subjectAttributes(cert: X509Certificate): Map<string, string> {
  const m = new Map<string, string>();
  for (const { type, value } of certInfo(cert).subject) m.set(type, value);
  return m;
}

/** Subset match: every attribute of the identity equals the certificate's (notary-spec §10.5). */
export function identityMatches(identity: Map<string, string>, subject: Map<string, string>): boolean {
  for (const [k, v] of identity) if (subject.get(k) !== v) return false;
  return true;
}

export function invalidIdentity(message: string): never {
  throw new SignetError('POLICY_INVALID', message);
}
