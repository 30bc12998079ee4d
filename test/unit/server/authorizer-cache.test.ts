import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import bcrypt from 'bcryptjs';
import { TokenAuthorizer } from '../../../src/server/auth/authorizer.ts';

const req = (user: string, password: string): IncomingMessage =>
  ({
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
    socket: { localAddress: '127.0.0.1', localPort: 5000 },
  }) as unknown as IncomingMessage;

describe('Basic credentials remembered after bcrypt passed them', () => {
  const config = {
    users: new Map([
      ['alice', bcrypt.hashSync('wonderland', 4)],
      ['bob', bcrypt.hashSync('builder', 4)],
    ]),
    access: [{ repository: 'team/*', users: ['alice', 'bob'], actions: ['pull' as const] }],
  };
  const pull = [{ type: 'repository' as const, name: 'team/app', actions: ['pull' as const] }];

  it('a remembered success never lets a wrong password, or another user, through', async () => {
    const auth = new TokenAuthorizer(config);
    expect((await auth.check(req('alice', 'wonderland'), pull)).ok).toBe(true);
    expect((await auth.check(req('alice', 'wonderland'), pull)).ok).toBe(true);
    expect((await auth.check(req('alice', 'wonderlan'), pull)).ok).toBe(false);
    expect((await auth.check(req('bob', 'wonderland'), pull)).ok).toBe(false);
    expect((await auth.check(req('alice\u0000', 'wonderland'), pull)).ok).toBe(false);
    expect((await auth.check(req('bob', 'builder'), pull)).ok).toBe(true);
  });
});
