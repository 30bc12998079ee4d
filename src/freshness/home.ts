import { join } from 'node:path';
import { signetHome } from '../util/index.ts';

/**
 * `$SIGNET_HOME/state`: everything a client remembers so that what it accepted never goes
 * backwards. `tags/` holds the Layer A high-water marks of verified tags, `signer/` the last
 * sequence this host signed per name and tag, `layout/` the signed times of statically signed
 * layout entries (formerly `$SIGNET_HOME/freshness`, still read: see FreshnessState).
 */
export function stateHome(): string {
  return join(signetHome(), 'state');
}
