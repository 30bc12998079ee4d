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
