import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadContainersPolicy, requirementsFor } from '../../../src/trust/index.ts';
import { loadRegistriesD, lookasideFor } from '../../../src/signature/index.ts';
import { parseRegistryReference } from '../../../src/oci/index.ts';
import { SignetError } from '../../../src/util/index.ts';

let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'signet-cpol-schema-'));
  await writeFile(join(dir, 'k.gpg'), 'key bytes');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function policyFile(doc: unknown): Promise<string> {
  const p = join(dir, `policy-${n++}.json`);
  await writeFile(p, JSON.stringify(doc));
  return p;
}

async function refusal(p: Promise<unknown>): Promise<SignetError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(err).toBeInstanceOf(SignetError);
  return err as SignetError;
}

const gpg = (extra: Record<string, unknown> = {}) => ({
  type: 'signedBy',
  keyType: 'GPGKeys',
  keyPath: 'k.gpg',
  ...extra,
});

describe('containers policy.json schema', () => {
  it.each<[string, unknown, string, string]>([
    [
      'a misspelled keyPath',
      { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPth: 'k.gpg' }] },
      'keyPth',
      'default[0]',
    ],
    [
      'a misspelled signedIdentity in a docker scope',
      {
        default: [{ type: 'reject' }],
        transports: { docker: { 'reg.io/app': [gpg({ signedIdentty: { type: 'matchExact' } })] } },
      },
      'signedIdentty',
      'transports.docker["reg.io/app"][0]',
    ],
    [
      'an unknown field inside signedIdentity',
      { default: [gpg({ signedIdentity: { type: 'exactReference', dockerRefrence: 'reg.io/app:v1' } })] },
      'dockerRefrence',
      'default[0].signedIdentity',
    ],
    ['an unknown top-level field', { default: [{ type: 'reject' }], defualt: [] }, 'defualt', '(top level)'],
    ['an extra field on reject', { default: [{ type: 'reject', keyPath: 'k.gpg' }] }, 'keyPath', 'default[0]'],
    [
      'an unknown field in another transport',
      {
        default: [{ type: 'reject' }],
        transports: { 'docker-daemon': { '': [{ type: 'insecureAcceptAnything', why: 1 }] } },
      },
      'why',
      'transports.docker-daemon[""][0]',
    ],
    [
      'an unknown field in a sigstoreSigned fulcio block',
      { default: [{ type: 'sigstoreSigned', keyPath: 'k.gpg', fulcio: { caPath: 'x', oidcIsuer: 'y' } }] },
      'oidcIsuer',
      'default[0].fulcio',
    ],
  ])('refuses %s, naming the field and where it is', async (_what, doc, field, where) => {
    const path = await policyFile(doc);
    const err = await refusal(loadContainersPolicy(path));
    expect(err.code).toBe('POLICY_INVALID');
    expect(err.kind).toBe('usage');
    expect(err.message).toContain(`unknown field "${field}"`);
    expect(err.message).toContain(`in ${where}`);
    expect(err.message).toContain(path);
  });

  it('refuses a field of the wrong type, naming it', async () => {
    const err = await refusal(loadContainersPolicy(await policyFile({ default: [gpg({ keyPaths: 'k.gpg' })] })));
    expect(err).toMatchObject({ code: 'POLICY_INVALID', kind: 'usage' });
    expect(err.message).toContain('default[0].keyPaths');
  });

  it('keeps accepting valid documents: every requirement and identity type, other transports, c/image fields', async () => {
    const path = await policyFile({
      default: [{ type: 'reject' }],
      transports: {
        docker: {
          'reg.io': [{ type: 'insecureAcceptAnything' }],
          'reg.io/team': [
            gpg(),
            gpg({ keyPath: undefined, keyPaths: ['k.gpg'], signedIdentity: { type: 'matchRepository' } }),
          ],
          'reg.io/team/a': [gpg({ signedIdentity: { type: 'exactReference', dockerReference: 'reg.io/team/a:v1' } })],
          'reg.io/team/b': [gpg({ signedIdentity: { type: 'exactRepository', dockerRepository: 'reg.io/team/b' } })],
          'mirror.io': [
            gpg({ signedIdentity: { type: 'remapIdentity', prefix: 'mirror.io', signedPrefix: 'reg.io' } }),
          ],
          'reg.io/c': [
            gpg({ signedIdentity: { type: 'matchExact' } }),
            gpg({ signedIdentity: { type: 'matchRepoDigestOrExact' } }),
          ],
          'reg.io/sig': [
            { type: 'sigstoreSigned', keyData: Buffer.from('k').toString('base64'), rekorPublicKeyPath: 'k.gpg' },
          ],
          '*.example.com': [
            { type: 'sigstoreSigned', keyDatas: ['aw=='], signedIdentity: { type: 'matchRepository' } },
          ],
        },
        'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] },
        atomic: { 'reg.io': [gpg()] },
      },
    });
    const p = await loadContainersPolicy(path);
    expect(requirementsFor(p, parseRegistryReference('reg.io/team/x:1')).requirements.map((r) => r.type)).toEqual([
      'signedBy',
      'signedBy',
    ]);
    expect(requirementsFor(p, parseRegistryReference('reg.io/sig:1')).requirements[0]!.type).toBe('sigstoreSigned');
    expect(p.default).toEqual([{ type: 'reject' }]);
  });

  it('keeps the existing messages for semantic errors', async () => {
    await expect(loadContainersPolicy(await policyFile({ default: [{ type: 'sometimes' }] }))).rejects.toThrow(
      /unknown requirement type "sometimes"/
    );
    await expect(
      loadContainersPolicy(await policyFile({ default: [gpg({ signedIdentity: { type: 'matchWhatever' } })] }))
    ).rejects.toThrow(/unknown signedIdentity type "matchWhatever"/);
  });
});

describe('registries.d schema', () => {
  async function registriesD(files: Record<string, string>): Promise<string> {
    const d = join(dir, `registries-${n++}.d`);
    await mkdir(d, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(d, name), text);
    return d;
  }

  it.each<[string, string, string, string]>([
    ['a misspelled lookaside', 'docker:\n  reg.io:\n    lookasde: file:///tmp/x\n', 'lookasde', 'docker["reg.io"]'],
    ['a misspelled default-docker', 'default-dockr:\n  lookaside: file:///tmp/x\n', 'default-dockr', 'the top level'],
    [
      'an unknown field in default-docker',
      'default-docker:\n  lookaside: file:///tmp/x\n  staging: x\n',
      'staging',
      'default-docker',
    ],
  ])('refuses %s, naming the field, where it is and the file', async (_what, yaml, field, where) => {
    const d = await registriesD({ 'a.yaml': 'docker:\n  other.io:\n    lookaside: file:///tmp/o\n', 'b.yaml': yaml });
    const err = await refusal(loadRegistriesD(d));
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', kind: 'usage' });
    expect(err.message).toContain(`unknown field "${field}"`);
    expect(err.message).toContain(`in ${where}`);
    expect(err.message).toContain(join(d, 'b.yaml'));
  });

  it('refuses a value of the wrong type and a document that is not a mapping', async () => {
    const typed = await refusal(
      loadRegistriesD(await registriesD({ 'a.yaml': 'docker:\n  reg.io:\n    use-sigstore-attachments: maybe\n' }))
    );
    expect(typed).toMatchObject({ code: 'CONFIG_INVALID', kind: 'usage' });
    expect(typed.message).toContain('docker["reg.io"].use-sigstore-attachments');
    const list = await refusal(loadRegistriesD(await registriesD({ 'a.yaml': '- docker\n' })));
    expect(list.message).toMatch(/must be a mapping/);
  });

  it('keeps accepting valid documents, deprecated aliases and empty files included', async () => {
    const d = await registriesD({
      '00-empty.yaml': '# nothing configured here\n',
      '10-default.yml':
        'default-docker:\n  sigstore: file:///srv/default\n  sigstore-staging: file:///srv/default-staging\n',
      '20-docker.yaml': [
        'docker:',
        '  reg.io:',
        '    lookaside: https://sigs.example/reg',
        '    lookaside-staging: file:///srv/reg',
        '    use-sigstore-attachments: true',
        '  reg.io/team:',
        '    sigstore: https://sigs.example/team',
        '  attachments.io:',
        '    use-sigstore-attachments: true',
        '',
      ].join('\n'),
      'ignored.txt': 'not: yaml config',
    });
    const rd = await loadRegistriesD(d);
    expect(lookasideFor(rd, 'reg.io', 'app')).toBe('https://sigs.example/reg');
    expect(lookasideFor(rd, 'reg.io', 'app', true)).toBe('file:///srv/reg');
    expect(lookasideFor(rd, 'reg.io', 'team/app')).toBe('https://sigs.example/team');
    expect(lookasideFor(rd, 'elsewhere.io', 'app')).toBe('file:///srv/default');
    expect(lookasideFor(rd, 'elsewhere.io', 'app', true)).toBe('file:///srv/default-staging');
  });
});
