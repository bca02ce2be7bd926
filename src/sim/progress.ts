// A one-line progress bar on stderr for long runs; nothing when stderr is not a terminal.
import type { Progress } from './timeline.js';

const LABEL: Record<Progress['phase'], string> = { create: 'creating objects', agents: 'starting agents', boot: 'converging', steps: 'timeline' };

export function progressBar(stream: NodeJS.WriteStream = process.stderr): { update(p: Progress): void; done(): void } {
  if (!stream.isTTY) return { update: () => undefined, done: () => undefined };
  let last = 0;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && p.done < p.total) return;
      last = now;
      const width = 30;
      const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width);
      stream.write(`\r${LABEL[p.phase].padEnd(17)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}\x1b[K`);
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
