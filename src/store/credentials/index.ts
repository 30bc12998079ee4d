export {
  dockerCredentials,
  staticCredentials,
  storeDockerCredentials,
  dockerConfigPath,
  runCredentialHelper,
} from './docker-config.ts';
export type { Credentials, CredentialProvider, DockerConfigOptions } from './docker-config.ts';
