/** HTTP header values the registry client parses: WWW-Authenticate challenges (parseChallenge). */
import { parseChallenge } from '../../../src/store/registry/client.ts';
import { expectModel, type FuzzTarget } from '../harness.ts';
import { textFrom, utf8 } from '../mutate.ts';

export const wwwAuthenticate: FuzzTarget<null> = {
  name: 'www-authenticate',
  description: 'WWW-Authenticate challenges (parseChallenge of the registry client)',
  setup: async () => null,
  arbitrary: () =>
    textFrom(
      [
        'Bearer ',
        'Basic ',
        'bearer',
        'realm=',
        'service=',
        'scope=',
        'error=',
        '"',
        '\\"',
        '\\',
        ',',
        ' ',
        '=',
        'https://auth.example.com/token',
        'repository:a/b:pull,push',
        '\t',
        'a'.repeat(200),
        '"'.repeat(50),
        '\\'.repeat(50),
      ],
      [
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:app:pull"',
        'Basic realm="signet registry", charset="UTF-8"',
        'Bearer realm=https://h/t,service=h,error="invalid_token"',
      ]
    ),
  run(_ctx, input) {
    const c = parseChallenge(utf8(input));
    if (c === null) return;
    expectModel(c.scheme === 'basic' || c.scheme === 'bearer', `scheme ${String(c.scheme)}`);
    for (const [k, v] of Object.entries(c.params))
      expectModel(typeof k === 'string' && typeof v === 'string', `param ${k}`);
  },
};
