import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { RegistryClient, defaultPlainHttp, transportHint } from '../../../../src/store/registry/client.ts';

const coded = (code: string, message: string, cause?: Error): Error =>
  Object.assign(new Error(message, cause ? { cause } : undefined), { code });

describe('transport hints', () => {
  it('HTTPS to a plain HTTP server: add --plain-http, by code or by OpenSSL text', () => {
    const cases = [
      coded('ERR_SSL_WRONG_VERSION_NUMBER', 'ssl3_get_record:wrong version number'),
      coded('EPROTO', 'write EPROTO'),
      new Error('error:0A0000C6:SSL routines::packet length too long'),
      new TypeError('fetch failed', { cause: coded('ERR_SSL_PACKET_LENGTH_TOO_LONG', 'x') }),
    ];
    for (const err of cases)
      expect(transportHint(err, 'reg.example:5000', 'https')).toBe(
        'the registry at reg.example:5000 seems to speak plain HTTP: add --plain-http (or SIGNET_PLAIN_HTTP=1)'
      );
  });

  it('a certificate that does not verify: add --insecure or NODE_EXTRA_CA_CERTS', () => {
    for (const code of [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'CERT_HAS_EXPIRED',
    ])
      expect(transportHint(coded(code, 'tls'), 'r:1', 'https')).toBe(
        'its certificate is not trusted: add --insecure for a test registry, or NODE_EXTRA_CA_CERTS=ca.pem'
      );
    expect(transportHint(new Error('unable to verify the first certificate'), 'r:1', 'https')).toMatch(/--insecure/);
    expect(
      transportHint(
        coded('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
        'r:1',
        'https'
      )
    ).toBe(
      'its certificate does not name r:1: add --insecure for a test registry, or use the name the certificate carries'
    );
  });

  it('plain HTTP hung up on: the way to HTTPS depends on why plain HTTP was chosen', () => {
    const hangup = coded('UND_ERR_SOCKET', 'other side closed');
    expect(transportHint(hangup, 'r:1', 'plain-http')).toMatch(/if it speaks HTTPS, drop --plain-http/);
    expect(transportHint(hangup, 'r:1', 'plain-http-env')).toMatch(/unset SIGNET_PLAIN_HTTP/);
    expect(transportHint(hangup, 'r:1', 'plain-http-loopback')).toMatch(/add --insecure .*or SIGNET_PLAIN_HTTP=0/);
    // nothing to say about an unrelated failure, or a hang-up over HTTPS
    expect(transportHint(coded('ENOTFOUND', 'getaddrinfo ENOTFOUND r'), 'r:1', 'https')).toBeUndefined();
    expect(transportHint(coded('ECONNREFUSED', 'connect ECONNREFUSED'), 'r:1', 'plain-http')).toBeUndefined();
    expect(transportHint(hangup, 'r:1', 'https')).toBeUndefined();
  });

  describe('SIGNET_PLAIN_HTTP and the loopback default', () => {
    const saved = process.env.SIGNET_PLAIN_HTTP;
    afterEach(() => {
      if (saved === undefined) delete process.env.SIGNET_PLAIN_HTTP;
      else process.env.SIGNET_PLAIN_HTTP = saved;
    });

    it('loopback names speak HTTP unless SIGNET_PLAIN_HTTP=0; --insecure means HTTPS', () => {
      delete process.env.SIGNET_PLAIN_HTTP;
      expect(defaultPlainHttp('127.0.0.1:5000')).toBe(true);
      expect(defaultPlainHttp('registry.example.com')).toBe(false);
      expect(new RegistryClient({ registry: '127.0.0.1:5000' }).transport).toBe('plain-http-loopback');
      expect(new RegistryClient({ registry: '127.0.0.1:5000', insecure: true }).base).toBe('https://127.0.0.1:5000');
      expect(new RegistryClient({ registry: 'r.example', plainHttp: true }).transport).toBe('plain-http');
      process.env.SIGNET_PLAIN_HTTP = '0';
      expect(defaultPlainHttp('127.0.0.1:5000')).toBe(false);
      process.env.SIGNET_PLAIN_HTTP = '1';
      expect(defaultPlainHttp('registry.example.com')).toBe(true);
      expect(new RegistryClient({ registry: '127.0.0.1:5000' }).transport).toBe('plain-http-env');
    });
  });

  describe('a server that answers plain HTTP with 400 "HTTP request to an HTTPS server"', () => {
    let server: Server | undefined;
    afterEach(async () => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

    it('the error says the registry speaks HTTPS', async () => {
      server = createServer((_req, res) => {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('Client sent an HTTP request to an HTTPS server.\n');
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
      const client = new RegistryClient({ registry: host, plainHttp: true });
      try {
        const res = await client.send('GET', '/v2/', { scopes: [] });
        const err = await client.errorFrom(res, 'GET /v2/');
        expect(err.code).toBe('UNAVAILABLE');
        expect(err.message).toBe(
          `${host}: GET /v2/: HTTP 400: the registry at ${host} speaks HTTPS: drop --plain-http (add --insecure for a self-signed test registry)`
        );
      } finally {
        await client.close();
      }
    });
  });
});
