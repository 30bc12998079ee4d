import type { IncomingMessage, ServerResponse } from 'node:http';

/** One access the client needs for a request, as in the distribution token `scope`. */
export interface Access {
  type: 'repository' | 'registry';
  /** Repository name, or `catalog` for registry:catalog:*. */
  name: string;
  actions: Array<'pull' | 'push' | 'delete' | 'sign' | '*'>;
}

export type AuthResult =
  | { ok: true; subject?: string }
  | {
      ok: false;
      /** 401 with a `WWW-Authenticate` challenge when no/invalid credentials, 403 when authenticated but not allowed. */
      status: 401 | 403;
      code: 'UNAUTHORIZED' | 'DENIED';
      message: string;
      /** Value of the WWW-Authenticate header (for 401). */
      challenge?: string;
    };

/**
 * The server's authentication/authorisation hook. The registry routes call `check` for every
 * request with the accesses it needs, and hand `GET <tokenPath>` to `handleToken` (the
 * standard bearer-token flow, so docker-style clients work).
 */
export interface Authorizer {
  /** Path of the token endpoint, e.g. `/token`. */
  readonly tokenPath: string;
  check(req: IncomingMessage, access: Access[]): Promise<AuthResult>;
  handleToken(req: IncomingMessage, res: ServerResponse): Promise<void>;
}
