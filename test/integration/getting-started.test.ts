import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, SIGNET_BIN, startServe, type Served } from '../helpers/serve.ts';

/**
 * docs/getting-started.md, run as written: every command of its ```sh blocks goes through `sh`
 * with `signet` on the PATH, in a temp directory and a temp SIGNET_HOME. The doc's registry
 * 127.0.0.1:5000 is the `signet serve` its step 1 starts (on a free port), and 10.0.0.5:5000, the
 * "disconnected registry", is a second one. The "From Node" block runs too, against the same setup.
 */

const DOC = join(REPO_ROOT, 'docs', 'getting-started.md');
const DOC_REGISTRY = '127.0.0.1:5000';
const DOC_OFFLINE_REGISTRY = '10.0.0.5:5000';

interface Step {
  section: string;
  commands: string[];
}

/** The shell commands of each numbered section, continuation lines joined, comment lines dropped. */
function shellSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  let section = '';
  const re = /^## (.+)$|^```sh\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    if (m[1] !== undefined) {
      section = m[1];
      continue;
    }
    const commands: string[] = [];
    let current = '';
    for (const line of m[2]!.split('\n')) {
      if (!current && (!line.trim() || line.trim().startsWith('#'))) continue;
      current += line;
      if (current.endsWith('\\')) current += '\n';
      else {
        commands.push(current);
        current = '';
      }
    }
    steps.push({ section, commands });
  }
  return steps;
}

interface Ran {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a process to its end and collects what it printed. */
function collect(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Ran> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ command, code: code ?? -1, stdout, stderr }));
  });
}

describe('docs/getting-started.md, step by step', { timeout: 120_000 }, () => {
  let work: string;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  let steps: Step[];
  let serve: ChildProcess | undefined;
  let host: string;
  let offline: Served;
  const ran: Ran[] = [];

  const docHosts = (command: string): string =>
    command.replaceAll(DOC_REGISTRY, host).replaceAll(DOC_OFFLINE_REGISTRY, offline.host);

  const sh = async (command: string): Promise<Ran> => {
    const r = await collect('sh', ['-c', command], { cwd, env });
    return { ...r, command };
  };

  /** Runs every command of a section, in order, stopping at the first that fails. */
  const runSection = async (prefix: string): Promise<Ran[]> => {
    const step = steps.find((s) => s.section.startsWith(prefix));
    expect(step, `section "${prefix}" with a sh block`).toBeDefined();
    const out: Ran[] = [];
    for (const c of step!.commands) {
      const r = await sh(docHosts(c));
      ran.push(r);
      out.push(r);
      expect(r.code, `${r.command}\n${r.stdout}${r.stderr}`).toBe(0);
    }
    return out;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'signet-getting-started-'));
    cwd = join(work, 'cwd');
    const bin = join(work, 'bin');
    await mkdir(cwd);
    await mkdir(bin);
    // `signet` as an installed command would be: the CLI of this checkout
    const wrapper = `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(SIGNET_BIN)} "$@"\n`;
    await writeFile(join(bin, 'signet'), wrapper);
    await chmod(join(bin, 'signet'), 0o755);
    env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      SIGNET_HOME: join(work, 'home'),
      DOCKER_CONFIG: join(work, 'docker'),
    };
    delete env.SIGNET_PLAIN_HTTP;
    // the files the doc pushes
    await writeFile(join(cwd, 'app.tar'), 'the application\n');
    await writeFile(join(cwd, 'sbom.json'), JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app' }));
    steps = shellSteps(await readFile(DOC, 'utf8'));
    offline = await startServe();
  });

  afterAll(async () => {
    if (serve && serve.exitCode === null) {
      const exited = new Promise((r) => serve!.once('exit', r));
      serve.kill('SIGTERM');
      await exited;
    }
    await offline?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('1. starts the registry as documented (on a free port instead of 5000)', async () => {
    const step = steps.find((s) => s.section.startsWith('1.'));
    expect(step?.commands).toHaveLength(1);
    const command = step!.commands[0]!;
    expect(command).toMatch(/^signet serve --addr 127\.0\.0\.1:5000 /);
    const onFreePort = `exec ${command.replace(DOC_REGISTRY, '127.0.0.1:0')}`;
    serve = spawn('sh', ['-c', onFreePort], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    host = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`signet serve did not start: ${output}`)), 30_000);
      const onData = (b: Buffer): void => {
        output += b.toString();
        const m = /listening on http:\/\/(127\.0\.0\.1:\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      serve!.stdout!.on('data', onData);
      serve!.stderr!.on('data', onData);
      serve!.once('exit', (code) => reject(new Error(`signet serve exited with ${code}: ${output}`)));
    });
    expect(existsSync(join(cwd, 'registry'))).toBe(true);
  });

  it('2. pushes an artifact and its SBOM, and discovers the SBOM', async () => {
    const [push, , discover] = await runSection('2.');
    expect(push!.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(discover!.stdout).toContain('application/spdx+json');
  }, 120_000);

  it('3. makes a root CA and a signing key it issues', async () => {
    const [, , list] = await runSection('3.');
    expect(list!.stdout).toMatch(/root\s+EC-secp384r1\s+CA/);
    expect(list!.stdout).toMatch(/\* release\s+EC-prime256v1/);
  }, 120_000);

  it('4. trusts the root for the repository', async () => {
    const ran4 = await runSection('4.');
    expect(await readFile(join(cwd, 'root.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const policy = JSON.parse(ran4.at(-1)!.stdout) as { trustPolicies: Array<{ registryScopes: string[] }> };
    expect(policy.trustPolicies.map((s) => s.registryScopes)).toEqual([[`${host}/demo/app`]]);
  }, 120_000);

  it('5. signs (JWS and COSE) and verifies', async () => {
    const [jws, cose, ls, inspect, verify] = await runSection('5.');
    expect(jws!.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(cose!.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ls!.stdout).toContain(jws!.stdout.trim());
    expect(ls!.stdout).toContain(cose!.stdout.trim());
    const inspected = JSON.parse(inspect!.stdout) as { signatures: Array<{ envelopeMediaType: string }> };
    const envelopes = inspected.signatures.map((s) => s.envelopeMediaType).sort();
    expect(envelopes).toEqual(['application/cose', 'application/jose+json']);
    expect(verify!.stdout).toMatch(/✓ Verified/);
  }, 120_000);

  it('6. copies into a tarball, verifies it offline under the repository scope, copies it on', async () => {
    const [copy, verify, onward] = await runSection('6.');
    expect(copy!.stdout).toMatch(/Copied sha256:[0-9a-f]{64} to oci:\.\/airgap\.tar/);
    expect(existsSync(join(cwd, 'airgap.tar'))).toBe(true);
    expect(verify!.stdout).toMatch(/✓ Verified/);
    expect(onward!.stdout).toContain(`to ${offline.host}/demo/app`);
    // the signatures and the SBOM came along into the disconnected registry
    const discover = await sh(`signet discover ${offline.host}/demo/app:v1 -o json`);
    const tree = JSON.parse(discover.stdout) as { referrers: Array<{ artifactType?: string }> };
    const notary = 'application/vnd.cncf.notary.signature';
    expect(tree.referrers.map((r) => r.artifactType).sort()).toEqual(['application/spdx+json', notary, notary]);
    // without --scope the repository statement does not apply to the layout: a failure, not a pass
    const unscoped = await sh('signet verify oci:./airgap.tar:v1');
    expect(unscoped.code).toBe(1);
    // and a layout written without oci: is a usage error that says how to write it
    const bare = await sh('signet verify ./airgap.tar:v1 --scope ' + `${host}/demo/app`);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('write oci:./airgap.tar:v1');
  }, 120_000);

  it('"From Node" runs against the same registry, policy and trust store', async () => {
    const markdown = await readFile(DOC, 'utf8');
    const block = /^## From Node\n[\s\S]*?^```ts\n([\s\S]*?)^```$/m.exec(markdown)?.[1];
    expect(block).toBeDefined();
    const source = block!
      .replace("from 'signet'", `from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'src', 'index.ts')).href)}`)
      .replace('registry.example.com/app:v1', `${host}/demo/app:v1`)
      .replace('/etc/signet/trustpolicy.json', join(work, 'home', 'trustpolicy.json'))
      .replace('/etc/signet/truststore', join(work, 'home', 'truststore'));
    await writeFile(join(work, 'from-node.mts'), source);
    const script = join(work, 'from-node.mts');
    const r = await collect(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, env });
    expect(r.code, r.stderr).toBe(0);
    const [reference, verdict] = r.stdout.trim().split(' ');
    expect(reference).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(reference!.startsWith(`${host}/demo/app@`)).toBe(true);
    expect(verdict).toBe('verified');
  }, 120_000);
});
