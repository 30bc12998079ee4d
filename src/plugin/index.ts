export { PluginClient, PluginError, pluginPath, pluginsDir, listPluginNames, CONTRACT_VERSION } from './client.ts';
export type { PluginMetadata, PluginErrorCode } from './client.ts';
export { PluginSigner, PluginEnvelopeGenerator } from './signer.ts';
export { installPlugin, uninstallPlugin } from './install.ts';
