import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { lookup } from 'node:dns/promises';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildProgram } from '../../src/cli/main.ts';
import { defaultPlainHttp } from '../../src/store/index.ts';
import { runSignet, SIGNET_BIN } from '../helpers/serve.ts';
import { trustSetup } from '../helpers/trust.ts';

const run = promisify(execFile);

interface Server {
  /** host:port as the server printed it */
  host: string;
  output(): string;
  kill(): Promise<void>;
}

/** `signet serve ARGS` as a process, waiting for its "listening on" line (or its exit). */
function serve(args: string[], cwd: string): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [SIGNET_BIN, 'serve', '--log-level', 'warn', ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const kill = (): Promise<void> =>
    new Promise((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      void kill();
      rej(new Error(`signet serve did not start: ${output}`));
    }, 15_000);
    const onData = (b: Buffer): void => {
      output += b.toString();
      const m = /listening on https?:\/\/(\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        res({ host: m[1]!, output: () => output, kill });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`signet serve exited with ${code}: ${output}`));
    });
  });
}

/**
 * A name for this machine that signet does not take for loopback (so it defaults to HTTPS), and
 * the address it reaches: the host name when it resolves to a loopback address (Debian's
 * 127.0.1.1), else a non-internal IPv4 address of an interface.
 */
async function nonLoopbackName(): Promise<{ name: string; bind: string } | undefined> {
  const name = hostname();
  const resolved = await lookup(name, { family: 4 }).catch(() => undefined);
  if (resolved && resolved.address.startsWith('127.') && !defaultPlainHttp(name))
    return { name, bind: resolved.address };
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return { name: i.address, bind: i.address };
  return undefined;
}

const CERT_HINT = /its certificate is not trusted: add --insecure for a test registry, or NODE_EXTRA_CA_CERTS=ca\.pem/;

describe('--plain-http and --insecure on every command that reaches a registry', { timeout: 60_000 }, () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  let policy: string;
  let store: string;
  let tls: Server | undefined;
  const signet = (args: string[], extra: NodeJS.ProcessEnv = {}): ReturnType<typeof runSignet> =>
    runSignet(args, { cwd: work, env: { ...env, ...extra } });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-registry-flags-'));
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '2',
      '-keyout',
      join(work, 'key.pem'),
      '-out',
      join(work, 'cert.pem'),
    ]);
    ({ policy, store } = await trustSetup(work));
    // SIGNET_PLAIN_HTTP unset: every choice of transport here is the flags' (or the loopback default's)
    env = { SIGNET_HOME: join(work, 'home'), DOCKER_CONFIG: join(work, 'docker'), SIGNET_PLAIN_HTTP: undefined };
    await writeFile(join(work, 'app.txt'), 'an artifact\n');
    tls = await serve(
      ['--addr', '127.0.0.1:0', '--root', join(work, 'tls-root'), '--tls-cert', 'cert.pem', '--tls-key', 'key.pem'],
      work
    );
    expect(tls.output()).toContain('listening on https://');
  });

  afterAll(async () => {
    await tls?.kill();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('every registry command lists both flags in its --help', () => {
    const program = buildProgram();
    for (const name of ['sign', 'verify', 'ls', 'inspect', 'push', 'pull', 'copy', 'discover', 'login']) {
      const help = program.commands
        .find((c) => c.name() === name)!
        .helpInformation()
        .replace(/\s+/g, ' ');
      expect(help, name).toContain('--plain-http speak HTTP, not HTTPS, to the registry');
      expect(help, name).toContain(
        "--insecure HTTPS without verifying the registry's certificate: for test registries only"
      );
    }
  });

  it('an HTTPS registry with a self-signed certificate: the hint, then --insecure works for push, sign, verify, copy', async () => {
    const ref = `${tls!.host}/demo/app:v1`;
    // HTTPS to a loopback name takes SIGNET_PLAIN_HTTP=0 or --insecure (loopback defaults to HTTP)
    const [untrusted, loopbackDefault, both, pushed] = await Promise.all([
      signet(['push', ref, 'app.txt'], { SIGNET_PLAIN_HTTP: '0' }),
      signet(['ls', ref]),
      signet(['push', ref, 'app.txt', '--plain-http', '--insecure']),
      signet(['push', ref, 'app.txt', '--insecure']),
    ]);
    expect(untrusted.code, untrusted.stderr).toBe(3);
    expect(untrusted.stderr).toMatch(CERT_HINT);
    expect(untrusted.stderr).toContain('[UNAVAILABLE]');
    expect(loopbackDefault.code, loopbackDefault.stderr).toBe(3);
    expect(loopbackDefault.stderr).toMatch(
      /closed the connection: if it speaks HTTPS, add --insecure for a test registry with a self-signed certificate, or SIGNET_PLAIN_HTTP=0/
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("option '--insecure' cannot be used with option '--plain-http'");
    expect(pushed.code, pushed.stderr).toBe(0);
    const digest = pushed.stdout.trim();
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const [signFails, signed, pulled] = await Promise.all([
      signet(['sign', ref], { SIGNET_PLAIN_HTTP: '0' }),
      signet(['sign', ref, '--insecure']),
      signet(['pull', ref, '-o', 'out', '--insecure']),
    ]);
    expect(signFails.code).toBe(3);
    expect(signFails.stderr).toMatch(CERT_HINT);
    expect(signed.code, signed.stderr).toBe(0);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(await readdir(join(work, 'out'))).toEqual(['app.txt']);

    const verifyArgs = ['verify', ref, '--policy', policy, '--trust-store', store];
    const [verifyFails, verified, listed, discovered, copied] = await Promise.all([
      signet(verifyArgs, { SIGNET_PLAIN_HTTP: '0' }),
      signet([...verifyArgs, '--insecure']),
      signet(['ls', ref, '--insecure']),
      signet(['discover', ref, '--insecure', '-o', 'json']),
      signet(['copy', ref, 'oci:./copied:v1', '--insecure', '-q']),
    ]);
    expect(verifyFails.code).toBe(3);
    expect(`${verifyFails.stdout}${verifyFails.stderr}`).toMatch(CERT_HINT);
    expect(verified.code, `${verified.stdout}${verified.stderr}`).toBe(0);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(signed.stdout.trim());
    expect(discovered.code, discovered.stderr).toBe(0);
    expect(JSON.parse(discovered.stdout)).toMatchObject({ digest, referrers: [{ digest: signed.stdout.trim() }] });
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toMatch(/1 referrers/); // the signature came along
  });

  it('a plain-HTTP registry on a name that is not loopback: the --plain-http hint, then --plain-http works', async () => {
    const where = await nonLoopbackName();
    // without such a name, SIGNET_PLAIN_HTTP=0 makes a loopback name speak HTTPS the same way
    const bind = where?.bind ?? '127.0.0.1';
    const plain = await serve(['--addr', `${bind}:0`, '--root', join(work, 'plain-root')], work);
    try {
      const port = plain.host.split(':').at(-1)!;
      const host = `${where?.name ?? '127.0.0.1'}:${port}`;
      const extra: NodeJS.ProcessEnv = where ? {} : { SIGNET_PLAIN_HTTP: '0' };
      const ref = `${host}/demo/app:v1`;
      const [failed, lsFailed, pushed] = await Promise.all([
        signet(['push', ref, 'app.txt'], extra),
        signet(['ls', ref], extra),
        signet(['push', ref, 'app.txt', '--plain-http'], extra),
      ]);
      for (const r of [failed, lsFailed]) {
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toContain(`the registry at ${host} seems to speak plain HTTP: add --plain-http`);
      }
      expect(pushed.code, pushed.stderr).toBe(0);
      const [signed, listed] = await Promise.all([
        signet(['sign', ref, '--plain-http'], extra),
        signet(['discover', ref, '--plain-http'], extra),
      ]);
      expect(signed.code, signed.stderr).toBe(0);
      expect(listed.code, listed.stderr).toBe(0);
    } finally {
      await plain.kill();
    }
  });

  it('a path outside /v2 answers 404 with a JSON error, not 500', async () => {
    const res = await insecureGet(`https://${tls!.host}/favicon.ico`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ errors: [{ code: expect.any(String) }] });
  });

  it('a bad --addr or a port in use: a clear message, exit 2, and no store directory left behind', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const [overRange, notAnAddr, inUse] = await Promise.all([
        signet(['serve', '--addr', '127.0.0.1:99999', '--root', 'root-a']),
        signet(['serve', '--addr', 'not-an-addr', '--root', 'root-b']),
        signet(['serve', '--addr', `127.0.0.1:${port}`, '--root', 'root-c']),
      ]);
      expect(overRange.code).toBe(2);
      expect(overRange.stderr).toMatch(/invalid address "127\.0\.0\.1:99999": port 99999 is over 65535/);
      expect(notAnAddr.code).toBe(2);
      expect(notAnAddr.stderr).toMatch(/invalid address "not-an-addr"/);
      expect(inUse.code).not.toBe(0);
      expect(inUse.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
      for (const d of ['root-a', 'root-b', 'root-c']) expect(existsSync(join(work, d)), d).toBe(false);
      // nor the default ./signet-registry
      expect(existsSync(join(work, 'signet-registry'))).toBe(false);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  it('--auth without TLS on a non-loopback address is refused unless --insecure', async () => {
    const auth = join(work, 'auth.json');
    await writeFile(auth, JSON.stringify({ access: [{ repository: '*', users: ['anonymous'], actions: ['pull'] }] }));
    const refused = await signet(['serve', '--auth', auth, '--addr', '0.0.0.0:0', '--root', 'root-auth']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--tls-cert/);
    expect(refused.stderr).toMatch(/--insecure/);
    expect(existsSync(join(work, 'root-auth'))).toBe(false);
    const started = await serve(['--auth', auth, '--addr', '0.0.0.0:0', '--root', 'root-auth', '--insecure'], work);
    await started.kill();
    expect(started.host).toMatch(/:\d+$/);
  });
});

/** GET over HTTPS, the test certificate not verified (only this request). */
async function insecureGet(url: string): Promise<{ status: number; body: string }> {
  const { Agent, request } = await import('undici');
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const r = await request(url, { dispatcher: agent });
    return { status: r.statusCode, body: await r.body.text() };
  } finally {
    await agent.close();
  }
}
