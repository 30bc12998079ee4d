/**
 * The registry's bearer tokens: what `signet serve --auth` reads from an `Authorization: Bearer`
 * header (TokenAuthorizer.check, jose's HS256 JWT verification, then the token's `access` claims).
 * Inputs are mutations of tokens the server minted itself, structure-aware `header.payload.sig`
 * strings, and (prefix `S`) arbitrary JSON payloads signed with the server's own secret, so that
 * validly signed but oddly shaped claims reach the access check too.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import fc from 'fast-check';
import { parseAuthConfig, TokenAuthorizer, type Access } from '../../../src/server/auth/index.ts';
import { expectModel, OracleViolation, type FuzzTarget } from '../harness.ts';
import { bytes, mutatedBytes, mutatedJson, textFrom, utf8 } from '../mutate.ts';

interface Ctx {
  auth: TokenAuthorizer;
  secret: Uint8Array;
  /** Tokens the server minted (as strings), and the access each was asked for. */
  minted: string[];
  claims: unknown[];
}

const SECRET = new Uint8Array(32).fill(7);
const NEEDED: Access[] = [{ type: 'repository', name: 'team/app', actions: ['pull'] }];

function request(authorization: string, url = '/v2/'): IncomingMessage {
  return {
    url,
    headers: { authorization, host: '127.0.0.1:5000' },
    socket: { localAddress: '127.0.0.1', localPort: 5000 },
  } as unknown as IncomingMessage;
}

/** A token from the server's own token endpoint, for the scope asked. */
async function mint(auth: TokenAuthorizer, scope: string): Promise<string> {
  let body = '';
  const res = {
    writeHead: () => res,
    end: (b: string) => void (body = b),
  } as unknown as ServerResponse;
  const basic = `Basic ${Buffer.from('alice:pw').toString('base64')}`;
  await auth.handleToken(request(basic, `/token?service=signet&scope=${encodeURIComponent(scope)}`), res);
  return (JSON.parse(body) as { token: string }).token;
}

/** The bytes a token's three parts decode to (what the signature covers, and the signature). */
function parts(token: string): string[] {
  return token.split('.').map((p) => Buffer.from(p, 'base64url').toString('hex'));
}

export const bearerToken: FuzzTarget<Ctx> = {
  name: 'bearer-token',
  description: "the registry's bearer tokens (TokenAuthorizer.check: jose HS256 verification and the access claims)",
  weight: 2,
  async setup() {
    // alice's password is "pw" (bcrypt cost 4: the minting below stays fast)
    const { hashSync } = await import('bcryptjs');
    const config = parseAuthConfig(
      JSON.stringify({
        users: { alice: hashSync('pw', 4) },
        access: [{ repository: 'team/*', users: ['alice'], actions: ['pull', 'push'] }],
      }),
      '/'
    );
    const auth = new TokenAuthorizer(config, { secret: SECRET });
    const minted = [
      await mint(auth, 'repository:team/app:pull'),
      await mint(auth, 'repository:team/app:pull,push'),
      await mint(auth, 'repository:other:pull'),
    ];
    const claims = minted.map(
      (t) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString('utf8')) as unknown
    );
    return { auth, secret: SECRET, minted, claims };
  },
  arbitrary: (ctx) =>
    fc.oneof(
      { weight: 4, arbitrary: mutatedBytes(ctx.minted.map((t) => bytes(t))) },
      {
        weight: 2,
        arbitrary: textFrom(
          ['eyJ', 'hbGciOiJIUzI1NiJ9', '.', '..', '=', '+', '/', '-', '_', 'A'.repeat(64), ' ', '\u0000', '%'],
          ctx.minted
        ),
      },
      // a payload signed with the server's secret: the access claims are then read
      {
        weight: 2,
        arbitrary: mutatedJson(ctx.claims).map((b) => new Uint8Array(Buffer.concat([bytes('S'), b]))),
      }
    ),
  async run(ctx, input) {
    let token: string;
    const signed = input[0] === 0x53; /* S */
    if (signed) {
      // HS256 over the bytes as given (JWS compact form, RFC 7515 §7.1): any payload, however nested
      const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');
      const signingInput = `${b64('{"alg":"HS256","typ":"JWT"}')}.${b64(input.subarray(1))}`;
      token = `${signingInput}.${createHmac('sha256', ctx.secret).update(signingInput).digest('base64url')}`;
    } else token = utf8(input);
    // check() answers; it never throws whatever the header holds
    const r = await ctx.auth.check(request(`Bearer ${token}`), NEEDED);
    expectModel(typeof r.ok === 'boolean', 'an answer');
    if (!r.ok) {
      expectModel(r.status === 401 && typeof r.challenge === 'string' && r.challenge.startsWith('Bearer '), 'a 401');
      return;
    }
    if (signed) return; // a payload the secret signed may grant what it says
    // An unsigned mutation passes only when the bytes the signature covers (and the signature) are a
    // minted token's: base64url with other trailing bits decodes to the same bytes.
    const p = parts(token.trim());
    const same = ctx.minted.some((m) => {
      const q = parts(m);
      return q.length === p.length && q.every((x, i) => x === p[i]);
    });
    if (!same) throw new OracleViolation(`a token that is no minted token was accepted: ${token.slice(0, 200)}`);
  },
};
