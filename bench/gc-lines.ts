// Preloaded (node --import) into the bench's server processes, the real `vxfab` CLI included, so
// that the bench can tell which slow answers a pause of that process explains and how much memory
// the whole process holds, without any hook in the product itself. Writes to stdout:
//   "gc START_EPOCH_MS DURATION_MS KIND" for every GC pause (the bench looks at those inside the
//   windows it measures);
//   "mem HEAP_USED ARRAY_BUFFERS RSS" (bytes, after a full GC when --expose-gc) on SIGUSR2.
import { performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

function kind(e: PerformanceEntry): string {
  const k = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
  return ({ 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' } as Record<number, string>)[k] ?? String(k);
}

new PerformanceObserver((list) => {
  for (const e of list.getEntries()) process.stdout.write(`gc ${(performance.timeOrigin + e.startTime).toFixed(3)} ${e.duration.toFixed(3)} ${kind(e)}\n`);
}).observe({ entryTypes: ['gc'] });
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  process.stdout.write(`mem ${m.heapUsed} ${m.arrayBuffers} ${m.rss}\n`);
});
