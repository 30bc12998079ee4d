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
    lines.push('# HELP signet_http_requests_total Requests answered, by route, method and status.');
    lines.push('# TYPE signet_http_requests_total counter');
    for (const [key, n] of [...this.requests].sort(([a], [b]) => a.localeCompare(b))) {
      const [route, method, status] = key.split('\u0000') as [string, string, string];
      lines.push(
        `signet_http_requests_total{route="${label(route)}",method="${label(method)}",status="${status}"} ${n}`
      );
    }
    lines.push('# HELP signet_http_received_bytes_total Bytes received from clients (headers and bodies).');
    lines.push('# TYPE signet_http_received_bytes_total counter');
    lines.push(`signet_http_received_bytes_total ${this.bytesIn}`);
    lines.push('# HELP signet_http_sent_bytes_total Bytes sent to clients (headers and bodies).');
    lines.push('# TYPE signet_http_sent_bytes_total counter');
    lines.push(`signet_http_sent_bytes_total ${this.bytesOut}`);
    if (enforcer) {
      lines.push('# HELP signet_verdicts_total Policy verdicts on manifest GETs, by outcome.');
      lines.push('# TYPE signet_verdicts_total counter');
      for (const [outcome, n] of Object.entries(enforcer.verdicts))
        lines.push(`signet_verdicts_total{outcome="${outcome}"} ${n}`);
      lines.push('# HELP signet_verdict_cache_hits_total Verdicts answered from the cache.');
      lines.push('# TYPE signet_verdict_cache_hits_total counter');
      lines.push(`signet_verdict_cache_hits_total ${enforcer.cacheHits}`);
      lines.push('# HELP signet_verdict_cache_misses_total Verdicts computed by the trust engine.');
      lines.push('# TYPE signet_verdict_cache_misses_total counter');
      lines.push(`signet_verdict_cache_misses_total ${enforcer.cacheMisses}`);
      lines.push('# HELP signet_verdict_cache_entries Verdicts held in the cache.');
      lines.push('# TYPE signet_verdict_cache_entries gauge');
      lines.push(`signet_verdict_cache_entries ${enforcer.cacheEntries}`);
    }
    return lines.join('\n') + '\n';
  }
}
