import type { Command } from 'commander';
import { resolve } from 'node:path';
import { SignetError, type FsckReport } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import { parseDuration } from './args.ts';

function printFsck(report: FsckReport, json: boolean): void {
  if (json) return printJson(report);
  process.stdout.write(
    `checked ${report.objects} objects, ${report.manifests} manifests, ${report.tags} tags, ${report.referrers} referrer entries\n` +
      `corrupt: ${report.corrupt.length}, dangling: ${report.dangling.length}, temp files: ${report.tempFiles}, upload sessions: ${report.uploads}\n`
  );
  for (const c of report.corrupt) process.stdout.write(`corrupt: ${c}\n`);
  for (const d of report.dangling) process.stdout.write(`dangling: ${d}\n`);
}

async function runFsck(root: string, json: boolean): Promise<void> {
  const { fsck } = await import('../../index.ts');
  const report = await fsck(resolve(root));
  printFsck(report, json);
  if (report.corrupt.length || report.dangling.length) {
    throw new SignetError(
      'FSCK_FAILED',
      `store ${root} has ${report.corrupt.length} corrupt and ${report.dangling.length} dangling entries`
    );
  }
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

interface ServeOptions {
  addr: string;
  root: string;
  auth?: string;
  logLevel: string;
  check?: boolean;
  policy?: string;
  trustStore?: string;
  containersPolicy?: string;
  publicName?: string;
  verdictTtl?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecure?: boolean;
  upstream?: string;
  upstreamCreds?: string;
  readOnly?: boolean;
  denyTtl?: string;
  shutdownGrace?: string;
}

function isLoopback(addr: string): boolean {
  const host = addr.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** `user:password`, or `@FILE` holding that line (keeps the password out of `ps`). */
async function upstreamCredentials(spec: string): Promise<{ username: string; password: string }> {
  let text = spec;
  if (spec.startsWith('@')) {
    const { readFile } = await import('node:fs/promises');
    try {
      text = (await readFile(spec.slice(1), 'utf8')).trim();
    } catch (err) {
      throw new SignetError('USAGE', `--upstream-creds ${spec}: ${(err as Error).message}`);
    }
  }
  const i = text.indexOf(':');
  if (i <= 0) throw new SignetError('USAGE', '--upstream-creds wants USER:PASSWORD or @FILE');
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

function durationMs(flag: string, value: string | undefined, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  if (allowZero && /^0[smhd]?$/.test(value.trim())) return 0;
  try {
    return parseDuration(value) * 1000;
  } catch (err) {
    throw new SignetError('USAGE', `${flag}: ${(err as Error).message}`);
  }
}

export function registerServe(program: Command): Command {
  const serve = program
    .command('serve')
    .description(
      'Run the embedded OCI registry (distribution-spec v1.1, referrers API, web view at /), optionally enforcing a trust policy, or a verifying pull-through in front of another registry.'
    )
    .option('--addr <host:port>', 'address to listen on (port 0 picks a free port)', '127.0.0.1:5000')
    .option('--root <dir>', 'storage directory', 'signet-registry')
    .option(
      '--auth <file>',
      'users and per-repository permissions (JSON, see docs/registry-auth.md); served through the bearer-token flow'
    )
    .option(
      '--policy <file>',
      'enforce this trust policy (trustpolicy.oci.json): a manifest GET that does not verify is 403 DENIED'
    )
    .option('--trust-store <dir>', 'trust store the policy names (default $SIGNET_HOME/truststore)')
    .option('--containers-policy <file>', 'also enforce a containers policy.json (simple signing, cosign keys)')
    .option('--public-name <host[:port]>', 'the registry name policy scopes match (default: the listen address)')
    .option(
      '--verdict-ttl <duration>',
      'longest a verdict is cached (default 10m; never past a signature or certificate expiry)'
    )
    .option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM)')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
    .option(
      '--insecure',
      'allow --auth over plain HTTP on a non-loopback address (passwords cross the network in clear)'
    )
    .option(
      '--upstream <url>',
      'pull-through mode: no --root, verify and pass reads from this registry (http(s)://host[:port])'
    )
    .option('--upstream-creds <user:password|@file>', 'credentials for --upstream')
    .option('--read-only', 'pull-through mode: refuse writes instead of forwarding them')
    .option(
      '--deny-ttl <duration>',
      'pull-through mode: cache denials this long (default 0: a new signature is seen at once)'
    )
    .option('--shutdown-grace <duration>', 'on SIGINT/SIGTERM, wait this long for requests in flight (default 30s)')
    .option('--log-level <level>', LOG_LEVELS.join('|'), 'info')
    .option('--check', 'check the store (like `signet fsck`) and exit')
    .addHelpText(
      'after',
      `
Storage is content addressed; every write goes to a temp file that is fsynced and renamed, so no
partial object is ever visible and an acknowledged push survives a crash.

Enforcement (--policy, --containers-policy): a manifest GET, by tag or digest, of an artifact that
does not verify is answered 403 DENIED naming the failed check. HEAD still answers (signers resolve
with it); signatures, SBOMs and attestations of artifacts here, the referrers API and blobs stay
readable, so blobs are not secret: enforcement decides what runs, not who reads. A platform
manifest listed by a verified index is served. Users with the \`sign\` action (--auth) may read
unverified manifests (to sign them) and push signatures, but move no other tag. Verdicts are
cached until a referrer changes or something they relied on expires (/metrics counts them).

Pull-through (--upstream): stateless, nothing stored; policy scopes match the upstream's name;
several instances share nothing but the upstream; the referrers API is answered from the tag
schema when the upstream has none.

Examples:
  signet serve                                   # 127.0.0.1:5000, ./signet-registry
  signet serve --addr 0.0.0.0:5000 --root /var/lib/signet --auth auth.json \\
    --tls-cert cert.pem --tls-key key.pem
  signet serve --policy trustpolicy.oci.json --trust-store ./truststore --public-name registry.acme.io
  signet serve --upstream http://10.0.0.5:5000 --policy trustpolicy.oci.json --read-only
  signet serve --root /var/lib/signet --check    # verify the store and exit
  curl -s http://127.0.0.1:5000/metrics          # Prometheus counters`
    )
    .action(async (opts: ServeOptions) => {
      if (!LOG_LEVELS.includes(opts.logLevel)) {
        const message = `unknown --log-level ${JSON.stringify(opts.logLevel)}; choose one of ${LOG_LEVELS.join(', ')}`;
        throw new SignetError('USAGE', message);
      }
      if (opts.check) return runFsck(opts.root, false);
      if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey))
        throw new SignetError('USAGE', '--tls-cert and --tls-key go together');
      if (opts.auth && !opts.tlsCert && !isLoopback(opts.addr) && !opts.insecure)
        throw new SignetError(
          'USAGE',
          `--auth over plain HTTP on ${opts.addr} would send passwords in clear: add --tls-cert/--tls-key, or --insecure if a TLS proxy fronts this server`
        );
      const pullThroughOnly = ['upstreamCreds', 'readOnly', 'denyTtl'] as const;
      for (const k of pullThroughOnly)
        if (opts[k] !== undefined && !opts.upstream)
          throw new SignetError('USAGE', `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --upstream`);
      const { readFile } = await import('node:fs/promises');
      const tls =
        opts.tlsCert && opts.tlsKey
          ? { cert: await readFile(resolve(opts.tlsCert)), key: await readFile(resolve(opts.tlsKey)) }
          : undefined;
      const policy = {
        ...(opts.policy ? { trustPolicy: resolve(opts.policy) } : {}),
        ...(opts.trustStore ? { trustStore: resolve(opts.trustStore) } : {}),
        ...(opts.containersPolicy ? { containersPolicy: resolve(opts.containersPolicy) } : {}),
      };
      const enforcing = Boolean(opts.policy || opts.containersPolicy);
      if (opts.trustStore && !opts.policy) throw new SignetError('USAGE', '--trust-store needs --policy');
      const verdictTtlMs = durationMs('--verdict-ttl', opts.verdictTtl);
      const shutdownGraceMs = durationMs('--shutdown-grace', opts.shutdownGrace, true);
      const { pino } = await import('pino');
      const lib = await import('../../index.ts');
      const logger = pino({ level: opts.logLevel, base: undefined }, pino.destination(2));
      const authorizer = opts.auth ? await lib.createAuthorizer(resolve(opts.auth)) : undefined;
      const common = {
        addr: opts.addr,
        logger,
        ...(authorizer ? { authorizer } : {}),
        ...(tls ? { tls } : {}),
        ...(verdictTtlMs !== undefined ? { verdictTtlMs } : {}),
        ...(shutdownGraceMs !== undefined ? { shutdownGraceMs } : {}),
      };
      let reg;
      let what: string;
      if (opts.upstream) {
        if (serve.getOptionValueSource('root') === 'cli')
          throw new SignetError('USAGE', '--upstream stores nothing: drop --root (pull-through mode is stateless)');
        if (opts.publicName)
          throw new SignetError(
            'USAGE',
            "--public-name does not apply to --upstream: policies match the upstream's name"
          );
        if (!enforcing)
          throw new SignetError(
            'USAGE',
            '--upstream needs --policy or --containers-policy: the proxy exists to enforce one'
          );
        const denyTtlMs = durationMs('--deny-ttl', opts.denyTtl, true);
        reg = await lib.startPullThrough({
          ...common,
          upstream: opts.upstream,
          policy,
          ...(opts.upstreamCreds ? { upstreamCredentials: await upstreamCredentials(opts.upstreamCreds) } : {}),
          ...(opts.readOnly ? { readOnly: true } : {}),
          ...(denyTtlMs !== undefined ? { denyTtlMs } : {}),
        });
        what = `pull-through to ${opts.upstream}${opts.readOnly ? ', read-only' : ''}`;
      } else {
        reg = await lib.startRegistry({
          ...common,
          root: resolve(opts.root),
          ...(enforcing ? { policy } : {}),
          ...(opts.publicName ? { publicName: opts.publicName } : {}),
        });
        what = `root ${resolve(opts.root)}`;
      }
      const notes = [what, authorizer ? 'auth on' : '', enforcing ? 'policy enforced' : ''].filter(Boolean);
      process.stderr.write(`signet serve listening on ${reg.url} (${notes.join(', ')})\n`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.stderr.write('signet serve: finishing requests in flight, then stopping\n');
          void reg.close().then(done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  program
    .command('fsck')
    .description(
      "Check an embedded registry's store: every object against its digest, every reference against existence."
    )
    .requiredOption('--root <dir>', 'storage directory of `signet serve`')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      '\nExit code 0 when the store is sound; 3 when anything is corrupt or dangling, or the directory is\n' +
        'not a store; 2 when it does not exist.\n\nExample:\n  signet fsck --root ./signet-registry -o json'
    )
    .action(async (opts: { root: string; output: string }) => {
      const format = parseOutputFormat(opts.output, ['text', 'json']);
      return runFsck(opts.root, format === 'json');
    });
  return serve;
}
