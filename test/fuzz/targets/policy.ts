/** Policies and configuration: Notary trust policies, containers policy.json, registries.d, the registry's auth config, docker config.json. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { loadAuthConfig, parseAuthConfig, parseHtpasswd } from '../../../src/server/auth/index.ts';
import { dockerCredentials } from '../../../src/store/index.ts';
import { loadRegistriesD } from '../../../src/signature/index.ts';
import { loadContainersPolicy, loadTrustPolicyFile, selectPolicy } from '../../../src/trust/index.ts';
import { expectModel, FIXTURES, type FuzzTarget } from '../harness.ts';
import { bytes, encodeJson, jsonInputs, mutatedBytes, mutatedJson, seedsOf, textFrom, utf8 } from '../mutate.ts';

interface FileCtx {
  dir: string;
  seeds: unknown[];
}

const tmp = (p: string): string => mkdtempSync(join(tmpdir(), `signet-fuzz-${p}-`));

export const trustPolicy: FuzzTarget<FileCtx> = {
  name: 'trust-policy',
  description: 'Notary Project trust policy files (loadTrustPolicyFile, selectPolicy)',
  async setup() {
    const d = join(FIXTURES, 'notary/trustpolicies');
    return {
      dir: tmp('tpolicy'),
      seeds: readdirSync(d).map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')) as unknown),
    };
  },
  async teardown(ctx) {
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  arbitrary: (ctx) => jsonInputs(ctx.seeds),
  async run(ctx, input) {
    const path = join(ctx.dir, 'trustpolicy.json');
    writeFileSync(path, input);
    const doc = await loadTrustPolicyFile(path);
    expectModel(Array.isArray(doc.statements) && doc.statements.length > 0, 'statements');
    for (const st of doc.statements) {
      expectModel(typeof st.name === 'string' && st.name.length > 0, 'statement name');
      expectModel(typeof st.level === 'string', 'statement level');
    }
    selectPolicy(doc, `registry.example.com/app@sha256:${'a'.repeat(64)}`);
  },
};

const CONTAINERS_SEED = {
  default: [{ type: 'reject' }],
  transports: {
    docker: {
      'registry.example.com': [
        { type: 'signedBy', keyType: 'GPGKeys', keyData: Buffer.from('not a key').toString('base64') },
      ],
      'example.org/app': [
        {
          type: 'sigstoreSigned',
          keyData: Buffer.from('-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n').toString('base64'),
          signedIdentity: { type: 'matchRepository' },
        },
      ],
      'a.io': [{ type: 'insecureAcceptAnything' }],
      'b.io': [
        {
          type: 'signedBy',
          keyType: 'GPGKeys',
          keyPath: 'k.gpg',
          signedIdentity: { type: 'exactReference', dockerReference: 'b.io/x:1' },
        },
      ],
    },
    'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] },
  },
};

export const containersPolicy: FuzzTarget<FileCtx> = {
  name: 'containers-policy',
  description: 'containers-policy.json(5) (loadContainersPolicy)',
  async setup() {
    const dir = tmp('cpolicy');
    writeFileSync(join(dir, 'k.gpg'), 'not a key');
    return { dir, seeds: [CONTAINERS_SEED] };
  },
  async teardown(ctx) {
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  arbitrary: (ctx) => jsonInputs(ctx.seeds),
  async run(ctx, input) {
    const path = join(ctx.dir, 'policy.json');
    writeFileSync(path, input);
    const p = await loadContainersPolicy(path);
    expectModel(Array.isArray(p.default), 'default requirements');
    for (const [, reqs] of p.docker) expectModel(Array.isArray(reqs), 'scope requirements');
  },
};

const REGISTRIES_SEEDS = [
  'default-docker:\n  lookaside: https://sigs.example.com/\n',
  'docker:\n  registry.example.com/app:\n    lookaside: file:///var/lib/sigs\n    lookaside-staging: file:///var/lib/staging\n  example.org:\n    use-sigstore-attachments: true\n',
];

export const registriesD: FuzzTarget<FileCtx> = {
  name: 'registries-d',
  description: 'containers-registries.d(5) YAML (loadRegistriesD)',
  async setup() {
    return { dir: tmp('regd'), seeds: [] };
  },
  async teardown(ctx) {
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  arbitrary: () =>
    fc.oneof(
      textFrom(
        [
          'docker:\n',
          'default-docker:\n',
          '  ',
          '    ',
          'lookaside: ',
          'lookaside-staging: ',
          'use-sigstore-attachments: ',
          'true',
          'x',
          ':',
          '\n',
          '- ',
          '&a ',
          '*a ',
          '!!binary ',
          '[',
          ']',
          '{',
          '}',
          '"',
          "'",
          '#',
          'https://h/',
          'file:///',
          '<<: *a\n',
        ],
        REGISTRIES_SEEDS
      ),
      // YAML alias bombs ("billion laughs")
      fc.integer({ min: 2, max: 12 }).map((n) => {
        let y = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
        for (let i = 1; i <= n; i++)
          y += `a${i}: &a${i} [${Array(10)
            .fill(`*a${i - 1}`)
            .join(', ')}]\n`;
        return bytes(`${y}docker:\n  h.io:\n    lookaside: *a${n}\n`);
      })
    ),
  async run(ctx, input) {
    writeFileSync(join(ctx.dir, 'a.yaml'), input);
    const r = await loadRegistriesD(ctx.dir);
    for (const [scope, v] of r.docker) {
      expectModel(typeof scope === 'string', 'scope');
      if (v.lookaside !== undefined) expectModel(typeof v.lookaside === 'string', 'lookaside');
    }
  },
};

const AUTH_SEED = {
  users: { alice: `$2y$10$${'a'.repeat(53)}`, bob: `$2b$04$${'b'.repeat(53)}` },
  access: [
    { repository: 'team/*', users: ['alice'], actions: ['pull', 'push'] },
    { repository: '*', users: ['anonymous'], actions: ['pull'] },
    { repository: 'signed/app', users: ['bob'], actions: ['sign'] },
  ],
};

export const authConfig: FuzzTarget<FileCtx> = {
  name: 'auth-config',
  description: "the registry's auth config (parseAuthConfig, loadAuthConfig) and htpasswd (parseHtpasswd)",
  async setup() {
    const dir = tmp('auth');
    writeFileSync(join(dir, 'htpasswd'), `carol:$2y$05$${'c'.repeat(53)}\n`);
    return { dir, seeds: [AUTH_SEED, { ...AUTH_SEED, htpasswd: 'htpasswd' }] };
  },
  async teardown(ctx) {
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  arbitrary: (ctx) =>
    fc.oneof(
      { weight: 4, arbitrary: jsonInputs(ctx.seeds) },
      {
        weight: 1,
        arbitrary: textFrom(
          ['carol', ':', '$2y$05$', '$2a$', '$apr1$', '{SHA}', '\n', '\r\n', '#', 'c'.repeat(53)],
          [`carol:$2y$05$${'c'.repeat(53)}\n`]
        ).map((b) => new Uint8Array(Buffer.concat([bytes('H'), b]))),
      }
    ),
  run(ctx, input) {
    if (input[0] === 0x48 /* H: an htpasswd file */) {
      const users = parseHtpasswd(utf8(input.subarray(1)));
      for (const [u, h] of users) expectModel(typeof u === 'string' && /^\$2[aby]\$/.test(h), `htpasswd user ${u}`);
      return;
    }
    const c = parseAuthConfig(utf8(input), ctx.dir);
    expectModel(c.users instanceof Map && Array.isArray(c.access), 'auth config');
    const path = join(ctx.dir, 'auth.json');
    writeFileSync(path, input);
    loadAuthConfig(path);
  },
};

const DOCKER_SEED = {
  auths: {
    'registry.example.com': { auth: Buffer.from('u:p').toString('base64') },
    'https://index.docker.io/v1/': { username: 'u', password: 'p' },
  },
  credHelpers: { 'helper.example.com': 'signet-fuzz-no-such-helper' },
};

export const dockerConfig: FuzzTarget<FileCtx> = {
  name: 'docker-config',
  description: "docker's config.json (dockerCredentials: auths, credHelpers, credsStore)",
  async setup() {
    return { dir: tmp('docker'), seeds: [DOCKER_SEED] };
  },
  async teardown(ctx) {
    rmSync(ctx.dir, { recursive: true, force: true });
  },
  arbitrary: (ctx) =>
    fc.oneof(
      jsonInputs(ctx.seeds),
      mutatedJson(ctx.seeds, encodeJson),
      mutatedBytes(ctx.seeds.map((s) => bytes(JSON.stringify(s)))),
      seedsOf([bytes('null')])
    ),
  async run(ctx, input) {
    const path = join(ctx.dir, 'config.json');
    writeFileSync(path, input);
    const provider = dockerCredentials({ configPath: path });
    for (const registry of ['registry.example.com', 'docker.io']) {
      const c = await provider(registry);
      if (c) expectModel(typeof c.username === 'string' && typeof c.password === 'string', 'credentials');
    }
  },
};
