import { OciError } from '../../oci/index.ts';
import {
  staticCredentials,
  storeDockerCredentials,
  type Credentials,
  type DockerConfigOptions,
} from '../credentials/index.ts';
import { RegistryClient } from './client.ts';

/**
 * Checks credentials against a registry (the `/v2/` challenge, then a token or basic request)
 * and stores them in docker's config.json. Nothing is written when they do not work.
 */
export async function login(
  registry: string,
  creds: Credentials,
  options: DockerConfigOptions & { plainHttp?: boolean; insecure?: boolean } = {}
): Promise<void> {
  const client = new RegistryClient({
    registry,
    credentials: staticCredentials(creds),
    ...(options.plainHttp !== undefined ? { plainHttp: options.plainHttp } : {}),
    ...(options.insecure ? { insecure: true } : {}),
  });
  try {
    const res = await client.send('GET', '/v2/', { scopes: [] });
    await res.body.dump();
    if (res.statusCode === 401)
      throw new OciError('UNAUTHORIZED', `${registry}: login failed: the registry refused these credentials`);
    if (res.statusCode !== 200)
      throw new OciError('UNAVAILABLE', `${registry}: login failed: /v2/ answered HTTP ${res.statusCode}`);
  } finally {
    await client.close();
  }
  await storeDockerCredentials(registry, creds, options);
}

/** Removes stored credentials of a registry; false when there were none. */
export async function logout(registry: string, options: DockerConfigOptions = {}): Promise<boolean> {
  return storeDockerCredentials(registry, undefined, options);
}
