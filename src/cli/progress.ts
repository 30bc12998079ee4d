import cliProgress from 'cli-progress';
import type { CopyEvent } from '../index.ts';

/**
 * Copy progress for people: on a TTY a live bar (bytes, rate) on stderr plus one line per
 * finished artifact; otherwise one plain line per finished item. Quiet prints nothing.
 */
export function copyProgress(mode: 'auto' | 'quiet'): { onProgress: (e: CopyEvent) => void; stop: () => void } {
  if (mode === 'quiet') return { onProgress: () => {}, stop: () => {} };
  const tty = Boolean(process.stderr.isTTY);
  const short = (d: string): string => d.replace(/^(sha\d+:)(.{12}).*$/, '$1$2');
  const line = (e: CopyEvent, what: string): void => {
    const msg = `${what.padEnd(7)} ${short(e.desc.digest)} ${e.desc.mediaType} (${e.desc.size} bytes)\n`;
    if (bar) bar.log(msg);
    else process.stderr.write(msg);
  };
  let bar: cliProgress.MultiBar | null = null;
  let total: cliProgress.SingleBar | null = null;
  let sum = 0;
  let expected = 0;
  const partial = new Map<string, number>();
  if (tty) {
    bar = new cliProgress.MultiBar(
      {
        format: ' {bar} {percentage}% | {value}/{total} bytes | {rate} MB/s',
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic
    );
    total = bar.create(1, 0, { rate: '0.0' });
  }
  const started = Date.now();
  return {
    onProgress(e) {
      if (e.kind === 'start') {
        expected += e.desc.size;
        total?.setTotal(Math.max(expected, 1));
      } else if (e.kind === 'progress') {
        const prev = partial.get(e.desc.digest) ?? 0;
        partial.set(e.desc.digest, e.bytes);
        sum += e.bytes - prev;
        const secs = Math.max((Date.now() - started) / 1000, 0.001);
        total?.update(sum, { rate: (sum / 1e6 / secs).toFixed(1) });
      } else if (e.kind === 'done') {
        if (!partial.has(e.desc.digest)) sum += e.desc.size;
        total?.update(sum);
        line(e, 'copied');
      } else if (e.kind === 'skip') line(e, 'exists');
      else if (e.kind === 'mount') line(e, 'mounted');
    },
    stop() {
      bar?.stop();
    },
  };
}
