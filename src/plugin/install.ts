import { lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SignetError, signetHome, writeFileAtomic } from '../util/index.ts';
import { assertPluginName, PluginClient, pluginsDir, type PluginMetadata } from './client.ts';

/**
 * Installs a plugin executable as `$SIGNET_HOME/plugins/<name>/notation-<name>` (notation's
 * layout, so notation plugins work unchanged), after asking it for its metadata: the name it
 * reports must be the name it is installed under.
 */
export async function installPlugin(
  file: string,
  options: { name?: string; home?: string; force?: boolean } = {}
): Promise<PluginMetadata> {
  const home = options.home ?? signetHome();
  const base = file.split('/').pop() ?? '';
  const name = options.name ?? (base.startsWith('notation-') ? base.slice('notation-'.length) : '');
  if (!name)
    throw new SignetError(
      'USAGE',
      'cannot tell the plugin name from the file name (want notation-<name>); give the name'
    );
  // Validated before it is joined into any path: `../../x`, `.` or `..` would escape plugins/.
  assertPluginName(name);
  const probe = new PluginClient(name, file);
  const meta = await probe.metadata();
  const dir = join(pluginsDir(home), name);
  const dest = join(dir, `notation-${name}`);
  if (!options.force) {
    try {
      await PluginClient.open(name, { home });
      throw new SignetError('PLUGIN_EXISTS', `plugin ${name} is already installed (replace it with force)`);
    } catch (err) {
      if (err instanceof SignetError && err.code === 'PLUGIN_EXISTS') throw err;
    }
  }
  await mkdir(dir, { recursive: true });
  // Never write through a link: plugins/ and plugins/<name> must be real directories.
  for (const d of [pluginsDir(home), dir]) {
    if (!(await lstat(d)).isDirectory())
      throw new SignetError('PLUGIN_INVALID', `${d} is not a directory (symbolic links are refused)`);
  }
  await writeFileAtomic(dest, await readFile(file), { mode: 0o755 });
  return meta;
}

export async function uninstallPlugin(name: string, options: { home?: string } = {}): Promise<void> {
  assertPluginName(name);
  await PluginClient.open(name, options);
  await rm(join(pluginsDir(options.home ?? signetHome()), name), { recursive: true, force: true });
}
