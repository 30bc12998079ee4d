import type { Command } from 'commander';
import { SignetError } from '../../index.ts';
import { registryFlags, registryOpenOptions, type RegistryFlags } from './args.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function registerLogin(program: Command): void {
  const loginCmd = program
    .command('login')
    .description("Log in to a registry: checks the credentials, then stores them in docker's config.json (mode 0600).")
    .argument('<registry>', 'registry host[:port]')
    .option('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password (prefer --password-stdin: argv is visible to other users)')
    .option('--password-stdin', 'read the password from standard input');
  registryFlags(loginCmd)
    .addHelpText(
      'after',
      '\nCredentials are read by every command from $DOCKER_CONFIG/config.json (or ~/.docker/config.json),\nincluding credHelpers and credsStore helper programs.\n\nExample:\n  echo "$TOKEN" | signet login registry.example.com -u ci --password-stdin'
    )
    .action(
      async (
        registry: string,
        opts: { username?: string; password?: string; passwordStdin?: boolean } & RegistryFlags
      ) => {
        if (!opts.username) throw new SignetError('USAGE', 'login needs --username');
        if (opts.password && opts.passwordStdin)
          throw new SignetError('USAGE', 'use --password or --password-stdin, not both');
        const password = opts.passwordStdin ? await readStdin() : opts.password;
        if (!password) throw new SignetError('USAGE', 'login needs --password-stdin (or --password)');
        const { login } = await import('../../index.ts');
        await login(registry, { username: opts.username, password }, registryOpenOptions(opts));
        process.stdout.write(`Login succeeded: ${registry}\n`);
      }
    );
  program
    .command('logout')
    .description("Remove a registry's stored credentials from docker's config.json.")
    .argument('<registry>', 'registry host[:port]')
    .action(async (registry: string) => {
      const { logout } = await import('../../index.ts');
      const removed = await logout(registry);
      process.stdout.write(
        removed ? `Removed credentials for ${registry}\n` : `No credentials were stored for ${registry}\n`
      );
    });
}
