// `npm start`: the main job end to end on the embedded registry, printing every `signet` command
// as it runs so a newcomer learns the CLI. Exits 0 only when every step behaved as expected
// (including the steps that must fail).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'signet-demo-'));
const env = { ...process.env, SIGNET_HOME: join(work, 'home'), DOCKER_CONFIG: join(work, 'docker'), NO_COLOR: '1' };
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function signet(args: string[], expect: 'ok' | 'fail' = 'ok', input?: string): string {
  console.log(`\n${bold(`$ signet ${args.map((a) => (/[\s'"*]/.test(a) ? `'${a}'` : a)).join(' ')}`)}`);
  const r = spawnSync(process.execPath, [join(root, 'bin/signet.js'), ...args], {
    env,
    cwd: work,
    encoding: 'utf8',
    input,
  });
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  const ok = r.status === 0;
  if ((expect === 'ok') !== ok) {
    throw new Error(
      `step ${expect === 'ok' ? 'failed' : 'passed but was expected to fail'}: signet ${args.join(' ')} (exit ${r.status})`
    );
  }
  if (expect === 'fail') console.log(`(exit code ${r.status}, as expected)`);
  return r.stdout.trim();
}

/** `signet serve ARGS` on a free loopback port; resolves with its host:port once it listens. */
async function serve(args: string[]): Promise<{ host: string; server: ReturnType<typeof spawn> }> {
  const server = spawn(process.execPath, [join(root, 'bin/signet.js'), 'serve', '--addr', '127.0.0.1:0', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const host = await new Promise<string>((res, rej) => {
    const onData = (b: Buffer): void => {
      const m = /listening on https?:\/\/([\d.]+:\d+)/.exec(b.toString());
      if (m) res(m[1]!);
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.once('exit', (c) => rej(new Error(`signet serve exited with ${c}`)));
    setTimeout(() => rej(new Error('signet serve did not start within 30 s')), 30_000).unref();
  });
  return { host, server };
}

async function main(): Promise<void> {
  console.log(bold('Signet: sign an artifact, store the signature beside it, move both, verify them.'));
  console.log(`working directory: ${work}`);
  const { host, server } = await serve(['--root', join(work, 'registry')]);
  console.log(`\n${bold(`signet serve is running at http://${host} (root ${join(work, 'registry')})`)}`);
  try {
    writeFileSync(join(work, 'app.txt'), 'hello from a release pipeline\n');
    writeFileSync(join(work, 'sbom.json'), JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app' }));
    const ref = `${host}/demo/app:v1`;
    const digest = signet(['push', ref, 'app.txt', '--artifact-type', 'application/vnd.example.app']);
    signet([
      'push',
      `${host}/demo/app`,
      'sbom.json',
      '--artifact-type',
      'application/spdx+json',
      '--subject',
      `${host}/demo/app@${digest.split(/\s+/).pop()}`,
    ]);
    await signingSteps(host, ref);
    signet(['discover', ref]);
    signet(['copy', ref, `oci:${join(work, 'layout')}:v1`]);
    signet(['discover', `oci:${join(work, 'layout')}:v1`]);
    // offline: the layout on disk, the trust store and the policy are all that is needed
    signet(['verify', `oci:${join(work, 'layout')}:v1`, '-m', 'build=42']);
    signet(['inspect', `oci:${join(work, 'layout')}:v1`]);
    await enforcementSteps();
    console.log(`\n${bold('Done: every step behaved as expected.')}`);
  } finally {
    server.kill('SIGTERM');
    if (!process.env.SIGNET_DEMO_KEEP) rmSync(work, { recursive: true, force: true });
  }
}

/** The same store served with the trust policy enforced: what does not verify is not served. */
async function enforcementSteps(): Promise<void> {
  const home = env.SIGNET_HOME!;
  const args = ['--root', join(work, 'registry'), '--policy', join(home, 'trustpolicy.json')];
  const enforcing = await serve([...args, '--trust-store', join(home, 'truststore'), '--log-level', 'warn']);
  console.log(`\n${bold(`$ signet serve ${args.join(' ')} --trust-store …`)}`);
  console.log(bold(`(a second registry on the same store, enforcing the policy, at http://${enforcing.host})`));
  try {
    signet(['copy', `${enforcing.host}/demo/app:v1`, `oci:${join(work, 'pulled')}:v1`]);
    // mallory's signature does not verify: the registry refuses to serve the image, and says why.
    signet(['copy', `${enforcing.host}/demo/other:v1`, `oci:${join(work, 'pulled-other')}:v1`], 'fail');
  } finally {
    enforcing.server.kill('SIGTERM');
  }
}

async function signingSteps(host: string, ref: string): Promise<void> {
  signet([
    'key',
    'generate',
    'demo-root',
    '--type',
    'ecdsa-p384',
    '--ca',
    '--subject',
    'CN=Demo Root CA,O=Demo,ST=WA,C=US',
  ]);
  signet([
    'key',
    'generate',
    'release',
    '--type',
    'ecdsa-p256',
    '--issuer',
    'demo-root',
    '--subject',
    'CN=release,O=Demo,ST=WA,C=US',
    '--default',
  ]);
  const rootCert = join(work, 'demo-root.crt');
  writeFileSync(rootCert, signet(['key', 'show', 'demo-root', '--cert']));
  signet(['cert', 'add', '--type', 'ca', '--store', 'demo', rootCert]);
  signet([
    'policy',
    'init',
    '--name',
    'demo',
    '--scope',
    '*',
    '--trust-store',
    'ca:demo',
    '--identity',
    'x509.subject: CN=release,O=Demo,ST=WA,C=US',
  ]);
  signet(['sign', ref, '--signature-format', 'jws', '-m', 'build=42']);
  signet(['sign', ref, '--signature-format', 'cose']);
  signet(['ls', ref]);
  signet(['verify', ref, '-m', 'build=42']);
  // An artifact signed by a key nobody trusts must fail, naming the failed check.
  signet(['key', 'generate', 'mallory', '--type', 'ecdsa-p256', '--subject', 'CN=mallory,O=Evil,ST=WA,C=US']);
  signet(['push', `${host}/demo/other:v1`, 'app.txt']);
  signet(['sign', `${host}/demo/other:v1`, '--key', 'mallory']);
  signet(['verify', `${host}/demo/other:v1`], 'fail');
}

main().catch((err: unknown) => {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
