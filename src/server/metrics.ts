import type { EnforcerStats } from './enforcement/types.ts';

/**
 * The registry's counters, rendered in the Prometheus text exposition format (version 0.0.4).
 * A handful of counters with two labels needs no client library: the format is a few lines of
 * `name{label="value"} number`, and `prom-client` would add a registry and timers we do not use.
 */
export class RegistryMetrics {
  private readonly requests = new Map<string, number>();
  bytesIn = 0;
  bytesOut = 0;

  /** One finished request: its route (`manifest`, `blob`, `upload`, `web`, …), method and status. */
  record(route: string, method: string, status: number, bytesIn: number, bytesOut: number): void {
    const key = `${route}\u0000${method}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    this.bytesIn += Math.max(0, bytesIn);
    this.bytesOut += Math.max(0, bytesOut);
  }

  render(enforcer?: EnforcerStats): string {
    const lines: string[] = [];
    const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[string, number]>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    const requests = [...this.requests].sort(([a], [b]) => a.localeCompare(b));
    metric(
      'signet_http_requests_total',
      'counter',
      'Requests answered, by route, method and status.',
      requests.map(([key, n]) => {
        const [route, method, status] = key.split('\u0000') as [string, string, string];
        return [`{route="${label(route)}",method="${label(method)}",status="${status}"}`, n];
      })
    );
    metric('signet_http_received_bytes_total', 'counter', 'Bytes received from clients (headers and bodies).', [
      ['', this.bytesIn],
    ]);
    metric('signet_http_sent_bytes_total', 'counter', 'Bytes sent to clients (headers and bodies).', [
      ['', this.bytesOut],
    ]);
    if (enforcer) {
      metric(
        'signet_verdicts_total',
        'counter',
        'Policy verdicts on manifest GETs, by outcome.',
        Object.entries(enforcer.verdicts).map(([outcome, n]) => [`{outcome="${outcome}"}`, n])
      );
      metric('signet_verdict_cache_hits_total', 'counter', 'Verdicts answered from the cache.', [
        ['', enforcer.cacheHits],
      ]);
      metric('signet_verdict_cache_misses_total', 'counter', 'Verdicts computed by the trust engine.', [
        ['', enforcer.cacheMisses],
      ]);
      metric('signet_verdict_cache_entries', 'gauge', 'Verdicts held in the cache.', [['', enforcer.cacheEntries]]);
    }
    return lines.join('\n') + '\n';
  }
}
