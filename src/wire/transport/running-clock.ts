// Time that counts only while this process runs.
//
// Why: Node runs due timers before it reads the sockets that became readable meanwhile. A process
// starved of CPU (a loaded host, a VM's stolen time, a long GC, the simulator's thousand agents on
// one thread) therefore wakes up, finds every timeout overdue, and fails calls and sessions whose
// answers are already sitting unread in its socket buffers, then retries them: more work for a
// process that had too little time already (measured in the 1,000-host simulation under busy loops:
// 309k controller calls instead of 49k). A timeout here means "the peer had this long while we were
// able to listen", so time the process spent not running is not counted.

/** A tick later than its period by more than this is a stall of the process, not peer time. */
export const STALL_TOLERANCE_MS = 100;

/**
 * Follows a clock from one tick to the next: each tick() returns how much of the time since the
 * last tick counts (all of it, or, when the tick is late by more than the tolerance, only the
 * period it was armed for).
 */
export class RunningClock {
  private last: number;

  constructor(private readonly periodMs: number, private readonly now: () => number = Date.now) {
    this.last = now();
  }

  /** Counted time since the previous tick (or construction). */
  tick(): number {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last);
    this.last = t;
    return elapsed > this.periodMs + STALL_TOLERANCE_MS ? this.periodMs : elapsed;
  }

  /** Starts counting from now (after a pause in ticking). */
  reset(): void {
    this.last = this.now();
  }
}

/**
 * setTimeout whose `ms` counts only running time: it wakes every `stepMs` (or sooner) and fires
 * once the counted time reaches `ms`. The fn runs in a timer phase after at least one poll phase
 * that followed the last stall, so answers that arrived during a stall are read first. Returns a
 * cancel function.
 */
export function runningTimeout(fn: () => void, ms: number, stepMs = 250): () => void {
  const clock = new RunningClock(stepMs);
  let counted = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer = setTimeout(() => {
      counted += clock.tick();
      if (counted >= ms) fn();
      else arm();
    }, Math.min(stepMs, Math.max(1, ms - counted)));
  };
  arm();
  return () => clearTimeout(timer);
}
