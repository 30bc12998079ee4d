#!/usr/bin/env node
// Makes sure the Debian peer tools the tests drive are on this machine. As root it installs the
// missing ones with apt-get; otherwise it stops with the exact command to run. Tests never skip
// because a peer is absent: this script is the one gate.
import { execFileSync, spawnSync } from 'node:child_process';

// command on PATH -> Debian package that provides it
const PEERS = [
  ['skopeo', 'skopeo'],
  ['umoci', 'umoci'],
  ['docker-registry', 'docker-registry'],
  ['gpg', 'gnupg'],
  ['openssl', 'openssl'],
  ['wrk', 'wrk'],
  ['softhsm2-util', 'softhsm2'],
  ['pkcs11-tool', 'opensc'],
  ['flatpak', 'flatpak'],
  ['dbus-run-session', 'dbus-daemon'],
  ['chromium', 'chromium'],
];

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const missing = PEERS.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
if (missing.length === 0) {
  console.log(`peer tools present: ${PEERS.map(([c]) => c).join(', ')}`);
  process.exit(0);
}
const install = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing.join(' ')}`;
if (process.getuid?.() !== 0) {
  console.error(
    `The tests need these Debian packages: ${missing.join(', ')}.\nInstall them with:\n  sudo sh -c '${install}'`
  );
  process.exit(1);
}
console.log(`installing peer tools: ${missing.join(', ')}`);
execFileSync('sh', ['-c', install], { stdio: 'inherit' });
const still = PEERS.filter(([cmd]) => !has(cmd)).map(([c]) => c);
if (still.length) {
  console.error(`still missing after install: ${still.join(', ')}`);
  process.exit(1);
}
