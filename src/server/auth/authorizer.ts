import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import bcrypt from 'bcryptjs';
import { jwtVerify, SignJWT } from 'jose';
import { grantedActions, loadAuthConfig, type Action, type AuthConfig } from './config.ts';
import type { Access, AuthResult, Authorizer } from './types.ts';

interface GrantedAccess {
  type: string;
  name: string;
  actions: string[];
}

// A fixed hash to compare against when the user does not exist, so that a wrong user name and a
// wrong password take the same time (no user enumeration).
/**
 * A hash for unknown users with the cost the known users' hashes have (the highest), so that a
 * wrong password for a real user and any password for an unknown one cost the same time.
 */
export function dummyHashFor(users: ReadonlyMap<string, string>): string {
  let cost = 0;
  for (const h of users.values()) cost = Math.max(cost, Number(/^\$2[aby]\$(\d\d)\$/.exec(h)?.[1] ?? 0));
  return bcrypt.hashSync('signet-no-such-user', cost >= 4 && cost <= 31 ? cost : 10);
}

function parseBasic(header: string | undefined): { user: string; password: string } | null {
  if (!header || !/^basic /i.test(header)) return null;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return null;
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

function scopeString(access: Access[]): string {
  return access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
}

function parseScope(scope: string): Access | null {
  const m = /^(repository|registry):([^:]+(?::\d+)?[^:]*):([a-z*,]+)$/.exec(scope);
  if (!m) return null;
  return { type: m[1] as Access['type'], name: m[2]!, actions: m[3]!.split(',') as Access['actions'] };
}

/** Bearer-token authorisation over htpasswd users and per-repository rules. */
export class TokenAuthorizer implements Authorizer {
  readonly tokenPath = '/token';
  private readonly secret: Uint8Array;
  private readonly service: string;
  private readonly ttl: number;
  private readonly realm: string | undefined;
  /** What an unknown user's password is checked against: the users' own bcrypt cost, so timing tells nothing. */
  private readonly dummyHash: string;

  constructor(
    private readonly config: AuthConfig,
    options: { realm?: string; service?: string; tokenTtlSeconds?: number; secret?: Uint8Array } = {}
  ) {
    this.secret = options.secret ?? randomBytes(32);
    this.service = options.service ?? 'signet';
    this.ttl = options.tokenTtlSeconds ?? 300;
    this.realm = options.realm;
    this.dummyHash = dummyHashFor(config.users);
  }

  /**
   * The token endpoint as the client reached this server. The Host header is the client's word:
   * only a plain host[:port] is used, anything else (quotes, spaces, commas) falls back to the
   * address the request arrived on, so no header can add parameters to the challenge.
   */
  private realmFor(req: IncomingMessage): string {
    if (this.realm) return this.realm;
    const host = req.headers.host ?? '';
    const plain = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host);
    const local = req.socket.localAddress ?? '127.0.0.1';
    const fallback = `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort ?? 80}`;
    return `http://${plain ? host : fallback}${this.tokenPath}`;
  }

  private challenge(req: IncomingMessage, access: Access[], error?: string): string {
    let c = `Bearer realm="${this.realmFor(req)}",service="${this.service}"`;
    if (access.length) c += `,scope="${scopeString(access)}"`;
    if (error) c += `,error="${error}"`;
    return c;
  }

  /**
   * Credentials that passed bcrypt recently, by the SHA-256 of user and password: a browser or a
   * client sending Basic on every request (the web view asks once per repository) costs one
   * bcrypt compare a minute, not one per request. Only successes are kept, so a wrong password
   * still costs a full compare, as an unknown user does.
   */
  private readonly recent = new Map<string, { user: string; until: number }>();

  /** Checks a password; null when wrong or unknown (same work either way). */
  private async authenticate(user: string, password: string): Promise<string | null> {
    const key = createHash('sha256').update(user).update('\u0000').update(password).digest('base64');
    const hit = this.recent.get(key);
    if (hit && hit.until > Date.now() && hit.user === user) return user;
    const hash = this.config.users.get(user);
    const ok = await bcrypt.compare(password, hash ?? this.dummyHash);
    if (!ok || !hash) return null;
    this.recent.delete(key);
    this.recent.set(key, { user, until: Date.now() + 60_000 });
    while (this.recent.size > 1000) this.recent.delete(this.recent.keys().next().value!);
    return user;
  }

  private grant(user: string | null, wanted: Access): GrantedAccess {
    if (wanted.type === 'registry') {
      // The catalog lists every repository: only principals that may pull everything see it.
      const all = grantedActions(this.config, user, '*');
      return { type: 'registry', name: wanted.name, actions: all.has('pull') ? ['*'] : [] };
    }
    const granted = grantedActions(this.config, user, wanted.name);
    const actions = wanted.actions.flatMap((a) => (a === '*' ? [...granted] : granted.has(a as Action) ? [a] : []));
    // Signing tools ask for `push`: a signer's token carries `sign` instead, and the registry
    // then lets it write only what signing writes.
    if (wanted.actions.includes('push') && granted.has('sign') && !actions.includes('sign')) actions.push('sign');
    return { type: wanted.type, name: wanted.name, actions };
  }

  private covers(granted: GrantedAccess[], needed: Access[]): boolean {
    return needed.every((n) =>
      n.actions.every((a) =>
        granted.some(
          (g) => g.type === n.type && g.name === n.name && (g.actions.includes(a) || g.actions.includes('*'))
        )
      )
    );
  }

  async check(req: IncomingMessage, access: Access[]): Promise<AuthResult> {
    const header = req.headers.authorization;
    if (header && /^bearer /i.test(header)) {
      try {
        const { payload } = await jwtVerify(header.slice(7).trim(), this.secret, {
          audience: this.service,
          issuer: 'signet',
          algorithms: ['HS256'],
        });
        const granted = (payload.access as GrantedAccess[] | undefined) ?? [];
        if (this.covers(granted, access)) return { ok: true, subject: String(payload.sub ?? '') };
        return {
          ok: false,
          status: 401,
          code: 'UNAUTHORIZED',
          message: 'token does not grant the access this request needs',
          challenge: this.challenge(req, access, 'insufficient_scope'),
        };
      } catch {
        return {
          ok: false,
          status: 401,
          code: 'UNAUTHORIZED',
          message: 'invalid or expired token',
          challenge: this.challenge(req, access, 'invalid_token'),
        };
      }
    }
    const basic = parseBasic(header);
    if (basic) {
      const user = await this.authenticate(basic.user, basic.password);
      if (!user)
        return {
          ok: false,
          status: 401,
          code: 'UNAUTHORIZED',
          message: 'authentication failed',
          challenge: this.challenge(req, access),
        };
      if (
        access.length === 0 ||
        this.covers(
          access.map((a) => this.grant(user, a)),
          access
        )
      )
        return { ok: true, subject: user };
      return { ok: false, status: 403, code: 'DENIED', message: `user ${user} may not ${scopeString(access)}` };
    }
    if (
      access.length > 0 &&
      this.covers(
        access.map((a) => this.grant(null, a)),
        access
      )
    )
      return { ok: true };
    return {
      ok: false,
      status: 401,
      code: 'UNAUTHORIZED',
      message: 'authentication required',
      challenge: this.challenge(req, access),
    };
  }

  async handleToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const basic = parseBasic(req.headers.authorization);
    let user: string | null = null;
    if (basic) {
      user = await this.authenticate(basic.user, basic.password);
      if (!user) {
        const body = JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication failed' }] });
        res.writeHead(401, { 'content-type': 'application/json', 'WWW-Authenticate': `Basic realm="${this.service}"` });
        res.end(body);
        return;
      }
    }
    const granted: GrantedAccess[] = [];
    for (const s of url.searchParams.getAll('scope').flatMap((s) => s.split(' '))) {
      const wanted = parseScope(s);
      if (!wanted) continue;
      // docker semantics: a token may grant less than asked; the registry then refuses the request.
      granted.push(this.grant(user, wanted));
    }
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access: granted })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('signet')
      .setAudience(this.service)
      .setSubject(user ?? '')
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttl)
      .sign(this.secret);
    const body = JSON.stringify({
      token,
      access_token: token,
      expires_in: this.ttl,
      issued_at: new Date(now * 1000).toISOString(),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(body);
  }
}

/** Builds the authorizer of `signet serve --auth FILE`. */
export async function createAuthorizer(
  file: string,
  options: { realm?: string; service?: string; tokenTtlSeconds?: number; secret?: Uint8Array } = {}
): Promise<Authorizer> {
  return new TokenAuthorizer(loadAuthConfig(file), options);
}
