import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Signet's configuration directory: `$SIGNET_HOME`, else `$XDG_CONFIG_HOME/signet`, else
 * `~/.config/signet`. Laid out like notation's: keys/, certs/, truststore/x509/{ca,signingAuthority,tsa}/,
 * trustpolicy.json, plugins/.
 */
export function signetHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SIGNET_HOME) return env.SIGNET_HOME;
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && xdg.length ? xdg : join(homedir(), '.config'), 'signet');
}

/** The default trust policy path: `$SIGNET_HOME/trustpolicy.oci.json`, else `trustpolicy.json`. */
export function defaultTrustPolicyPath(): string {
  const home = signetHome();
  const oci = join(home, 'trustpolicy.oci.json');
  return existsSync(oci) ? oci : join(home, 'trustpolicy.json');
}
