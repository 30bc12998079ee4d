import type { Command } from 'commander';
import { SignetError, type TufRole, type TufWriteResult } from '../../index.ts';
import { parseOutputFormat, printJson } from '../output.ts';
import { collect, keyValues, registryFlags, registryOpenOptions, type RegistryFlags } from './args.ts';

const ROLES: readonly TufRole[] = ['root', 'targets', 'snapshot', 'timestamp'];

function perRole<T>(list: string[], what: string, parse: (v: string) => T): Partial<Record<TufRole, T>> {
  const out: Partial<Record<TufRole, T>> = {};
  for (const [role, v] of Object.entries(keyValues(list, what))) {
    if (!ROLES.includes(role as TufRole))
      throw new SignetError('USAGE', `${what}: unknown role ${JSON.stringify(role)} (${ROLES.join(', ')})`);
    out[role as TufRole] = parse(v);
  }
  return out;
}

function printRoles(r: TufWriteResult): void {
  for (const s of r.roles) {
    process.stdout.write(
      `${s.role}: version ${s.version}, expires ${s.expires}, ${s.signatures} signature(s), threshold ${s.threshold}\n`
    );
    if (s.signatures < s.threshold)
      process.stderr.write(
        `Warning: ${s.role} is signed by ${s.signatures} key(s), below its threshold ${s.threshold}: verifiers will refuse it\n`
      );
  }
  process.stdout.write(`bundle: ${r.bundle.digest}\n`);
}

interface WriteFlags extends RegistryFlags {
  key: string[];
}

export function registerTuf(program: Command): void {
  const tuf = program
    .command('tuf')
    .description(
      'Layer B freshness: a TUF repository (root, targets, snapshot, timestamp) stored as one OCI artifact under a tag (docs/freshness.md).'
    );

  registryFlags(
    tuf
      .command('init')
      .description(
        'Create a TUF repository at TUFREF (a reference with a tag) and print the root digest verifiers pin.'
      )
      .argument('<tufref>', 'where the repository lives, e.g. reg/acme/tuf-metadata:latest or oci:DIR:tuf')
      .option('--root-key <name>', 'a root key (repeatable; required)', collect, [])
      .option('--targets-key <name>', 'a targets key (repeatable; default: the root keys)', collect, [])
      .option('--snapshot-key <name>', 'a snapshot key (repeatable; default: the root keys)', collect, [])
      .option('--timestamp-key <name>', 'a timestamp key (repeatable; default: the root keys)', collect, [])
      .option('--threshold <role=N>', 'signatures a role needs (repeatable; default 1)', collect, [])
      .option(
        '--expires <role=DURATION>',
        'how long a role is valid once signed, e.g. timestamp=1d (repeatable)',
        collect,
        []
      )
  )
    .addHelpText(
      'after',
      `
Keys are Signet key names (ECDSA P-256 or Ed25519). The key names, thresholds and expiries are
recorded under $SIGNET_HOME for TUFREF and used by every later tuf command.

Example:
  signet tuf init reg.example.com/acme/tuf-metadata:latest --root-key root1 --timestamp-key online
  # put the printed root into a trust policy statement: "freshness": {"tuf": "...", "root": "sha256:..."}`
    )
    .action(async (ref: string, opts: InitFlags) => {
      if (!opts.rootKey.length) throw new SignetError('USAGE', 'tuf init needs at least one --root-key');
      const thresholds = perRole(opts.threshold, '--threshold', (v) => wholeNumber(v, '--threshold role=N'));
      const expires = perRole(opts.expires, '--expires', (v) => v);
      const { tufInit } = await import('../../index.ts');
      const r = await tufInit(ref, {
        keys: {
          root: opts.rootKey,
          ...(opts.targetsKey.length ? { targets: opts.targetsKey } : {}),
          ...(opts.snapshotKey.length ? { snapshot: opts.snapshotKey } : {}),
          ...(opts.timestampKey.length ? { timestamp: opts.timestampKey } : {}),
        },
        thresholds,
        expires,
        open: registryOpenOptions(opts),
      });
      printRoles(r);
      process.stdout.write(`root: ${r.root}\n`);
    });

  registryFlags(
    tuf
      .command('publish')
      .description(
        'Add or update the TUF target oci:<name>:<tag> for REF (its digest resolved once) and re-sign snapshot and timestamp.'
      )
      .argument('<tufref>', 'the TUF repository')
      .argument('<ref>', 'the released artifact, with a tag (its repository path is the name)')
      .option('--name <name>', 'the logical name (required for a layout)')
      .option('--role <role>', 'a delegated role to sign the target with (its paths must cover it)')
      .option(
        '--key <name>',
        'sign the targets (or --role) with these keys only (repeatable; default: the recorded keys)',
        collect,
        []
      )
  ).action(async (ref: string, artifact: string, opts: WriteFlags & { name?: string; role?: string }) => {
    const { tufPublish } = await import('../../index.ts');
    const r = await tufPublish(ref, artifact, {
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.role ? { role: opts.role } : {}),
      ...(opts.key.length ? { signWith: opts.key } : {}),
      open: registryOpenOptions(opts),
    });
    process.stdout.write(
      `${r.path}: ${r.digest} (${r.size} bytes)${r.role === 'targets' ? '' : ` in role ${r.role}`}\n`
    );
    printRoles(r);
  });

  registryFlags(
    tuf
      .command('remove')
      .description('Withdraw a release: remove the TUF target oci:<NAME>:<TAG>.')
      .argument('<tufref>', 'the TUF repository')
      .argument('<name:tag>', 'the release, e.g. acme/app:1.4')
      .option('--role <role>', 'the delegated role that lists it (default: whichever does)')
      .option('--key <name>', 'sign the targets (or --role) with these keys only (repeatable)', collect, [])
  ).action(async (ref: string, nameTag: string, opts: WriteFlags & { role?: string }) => {
    const { tufRemove } = await import('../../index.ts');
    const r = await tufRemove(ref, nameTag, {
      ...(opts.role ? { role: opts.role } : {}),
      ...(opts.key.length ? { signWith: opts.key } : {}),
      open: registryOpenOptions(opts),
    });
    process.stdout.write(`removed ${r.path}\n`);
    printRoles(r);
  });

  registryFlags(
    tuf
      .command('timestamp')
      .description('Re-sign the timestamp (and the snapshot when it would expire first): the scheduled job.')
      .argument('<tufref>', 'the TUF repository')
      .option('--key <name>', 'sign the timestamp with these keys only (repeatable)', collect, [])
  ).action(async (ref: string, opts: WriteFlags) => {
    const { tufTimestamp } = await import('../../index.ts');
    printRoles(
      await tufTimestamp(ref, { ...(opts.key.length ? { signWith: opts.key } : {}), open: registryOpenOptions(opts) })
    );
  });

  registryFlags(
    tuf
      .command('status')
      .description(
        'Versions, expiries and targets of a TUF repository (verified from the recorded root, expiry reported).'
      )
      .argument('<tufref>', 'the TUF repository')
      .option('--root <sha256:hex>', 'the pinned root (default: the one recorded by tuf init)')
      .option('-o, --output <format>', 'text or json', 'text')
  ).action(async (ref: string, opts: RegistryFlags & { root?: string; output: string }) => {
    const format = parseOutputFormat(opts.output, ['text', 'json']);
    const { tufStatus } = await import('../../index.ts');
    const s = await tufStatus(ref, { ...(opts.root ? { root: opts.root } : {}), open: registryOpenOptions(opts) });
    if (format === 'json') return printJson(s);
    process.stdout.write(`${s.ref}\nroot: ${s.root}\nbundle: ${s.bundle}\n`);
    for (const r of s.roles)
      process.stdout.write(
        `${r.role}: version ${r.version}, expires ${r.expires}${r.expired ? ' (EXPIRED)' : ''}, threshold ${r.threshold} of ${r.keys}\n`
      );
    for (const d of s.delegations)
      process.stdout.write(
        `delegation ${d.role}: ${d.paths.join(' ')}, threshold ${d.threshold} of ${d.keys}${d.terminating ? ', terminating' : ''}\n`
      );
    process.stdout.write(`targets (${s.targets.length}):\n`);
    for (const t of s.targets)
      process.stdout.write(`  ${t.path} ${t.digest} ${t.size}${t.role === 'targets' ? '' : ` (${t.role})`}\n`);
  });

  registryFlags(
    tuf
      .command('trust')
      .description(
        'Layer C: publish the certificates of a trust store (TYPE:NAME) as TUF targets x509:TYPE:NAME/<sha256>; those no longer in the store are removed, which revokes them for verifiers whose statement sets "freshness": {"trustStore": true}.'
      )
      .argument('<tufref>', 'the TUF repository')
      .argument('<store>', 'the trust store, e.g. ca:acme')
      .option('--trust-store <dir>', 'the trust store directory (default $SIGNET_HOME/truststore)')
      .option('--key <name>', 'sign the targets with these keys only (repeatable)', collect, [])
  )
    .addHelpText(
      'after',
      `
Verifiers then accept a certificate of that trust store only while it is a current target: removing
it from the store here and running this command again revokes it everywhere, offline, and the
short-lived timestamp keeps a registry from replaying the old list.

Example:
  signet trust cert delete -t ca -s acme old-root.pem && signet tuf trust reg.example.com/acme/tuf-metadata:latest ca:acme`
    )
    .action(async (ref: string, store: string, opts: WriteFlags & { trustStore?: string }) => {
      const { tufTrust } = await import('../../index.ts');
      const r = await tufTrust(ref, store, {
        ...(opts.trustStore ? { trustStore: opts.trustStore } : {}),
        ...(opts.key.length ? { signWith: opts.key } : {}),
        open: registryOpenOptions(opts),
      });
      for (const p of r.added) process.stdout.write(`added ${p}\n`);
      for (const p of r.removed) process.stdout.write(`removed ${p}\n`);
      process.stdout.write(`${store}: ${r.added.length} added, ${r.removed.length} removed, ${r.kept} unchanged\n`);
      printRoles(r);
    });

  registryFlags(
    tuf
      .command('rotate')
      .description(
        'Give a role new keys: for root, targets, snapshot or timestamp a new root version signed by the old AND the new root thresholds; for a delegated role new delegation keys. What the new keys own is re-signed.'
      )
      .argument('<tufref>', 'the TUF repository')
      .argument('<role>', 'root, targets, snapshot, timestamp, or a delegated role')
      .option('--key <name>', "the role's new keys (repeatable; required)", collect, [])
      .option('--threshold <n>', 'the new threshold (default: the old one, at most the number of keys)')
  )
    .addHelpText(
      'after',
      `
Clients keep working: a client that trusts root N reads N+1.root.json from the bundle, checks it
against both thresholds and moves on; a client pinned to 1.root.json follows the whole chain. After
a timestamp or snapshot key rotation, clients forget the timestamp and snapshot they trusted (TUF's
fast-forward attack recovery). The old keys are only needed to sign the new root (root keys).

Example:
  signet tuf rotate reg.example.com/acme/tuf-metadata:latest timestamp --key online-2026`
    )
    .action(async (ref: string, role: string, opts: RegistryFlags & { key: string[]; threshold?: string }) => {
      if (!opts.key.length) throw new SignetError('USAGE', 'tuf rotate needs at least one --key');
      const { tufRotate } = await import('../../index.ts');
      printRoles(
        await tufRotate(ref, role, {
          keys: opts.key,
          ...(opts.threshold !== undefined ? { threshold: wholeNumber(opts.threshold, '--threshold') } : {}),
          open: registryOpenOptions(opts),
        })
      );
    });

  registryFlags(
    tuf
      .command('delegate')
      .description(
        'Add a delegated targets role that may sign releases matching --paths (a team, a CI job), signed by its own keys.'
      )
      .argument('<tufref>', 'the TUF repository')
      .argument('<role>', 'the new role name (lower-case letters, digits, - and _)')
      .option(
        '--paths <pattern>',
        "release targets it may sign, e.g. 'oci:acme/app:*' (repeatable; required)",
        collect,
        []
      )
      .option('--key <name>', "the role's keys (repeatable; required)", collect, [])
      .option('--threshold <n>', 'signatures the role needs (default 1)')
      .option('--no-terminating', 'let the search go on to other roles when this one does not list a path')
  )
    .addHelpText(
      'after',
      `
A release is then published by the role: signet tuf publish TUFREF REF --role ROLE (signed with the
role's keys; the snapshot and timestamp keys of the repository sign the rest). Verifiers search the
top-level targets first, then the delegated roles whose paths match (TUF's pre-order search).

Example:
  signet tuf delegate reg.example.com/acme/tuf-metadata:latest app-ci --paths 'oci:acme/app:*' --key ci-key
  signet tuf publish reg.example.com/acme/tuf-metadata:latest reg.example.com/acme/app:1.5 --role app-ci`
    )
    .action(
      async (
        ref: string,
        role: string,
        opts: RegistryFlags & { paths: string[]; key: string[]; threshold?: string; terminating: boolean }
      ) => {
        const { tufDelegate } = await import('../../index.ts');
        printRoles(
          await tufDelegate(ref, role, {
            paths: opts.paths,
            keys: opts.key,
            ...(opts.threshold !== undefined ? { threshold: wholeNumber(opts.threshold, '--threshold') } : {}),
            terminating: opts.terminating,
            open: registryOpenOptions(opts),
          })
        );
      }
    );
}

function wholeNumber(v: string, what: string): number {
  if (!/^\d+$/.test(v)) throw new SignetError('USAGE', `${what} takes a whole number, not ${JSON.stringify(v)}`);
  return Number(v);
}

interface InitFlags extends RegistryFlags {
  rootKey: string[];
  targetsKey: string[];
  snapshotKey: string[];
  timestampKey: string[];
  threshold: string[];
  expires: string[];
}
