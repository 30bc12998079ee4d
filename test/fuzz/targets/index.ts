/** Every fuzz target, in the order `npm run fuzz` runs them. */
import type { AnyTarget } from '../harness.ts';
import { bearerToken } from './bearer-token.ts';
import { wwwAuthenticate } from './http.ts';
import { cose, jws } from './notary.ts';
import { layoutIndex, layoutTar, manifest, reference } from './oci.ts';
import { cosignPayload, simplePayload } from './payloads.ts';
import { x509 } from './pki.ts';
import { openpgpKey, openpgpMessage } from './openpgp.ts';
import { crl, ocsp, tsp } from './pki-tokens.ts';
import { registryHeaders, serverRange } from './registry-headers.ts';
import { sigstoreBundle } from './sigstore.ts';
import { authConfig, containersPolicy, dockerConfig, registriesD, trustPolicy } from './policy.ts';
import { tuf } from './tuf.ts';

export const TARGETS: AnyTarget[] = [
  reference,
  manifest,
  layoutIndex,
  layoutTar,
  jws,
  cose,
  x509,
  simplePayload,
  cosignPayload,
  trustPolicy,
  containersPolicy,
  registriesD,
  authConfig,
  bearerToken,
  dockerConfig,
  wwwAuthenticate,
  sigstoreBundle,
  tsp,
  crl,
  ocsp,
  openpgpMessage,
  openpgpKey,
  registryHeaders,
  serverRange,
  tuf,
];
