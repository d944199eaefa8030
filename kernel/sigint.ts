// Raising SIGINT safely from the I/O thread.
//
// Cells are stopped by vm's breakOnSigint, and Node has two short windows around every such
// run in which a SIGINT kills the whole process instead (Node 20, verified by experiment):
//   (a) entering: vm removes every 'SIGINT' listener (libuv restores the default action)
//       before its C++ watchdog installs its own handler;
//   (b) leaving: the watchdog, when it stops, installs an exit-on-SIGINT handler until vm
//       re-adds the listeners (and libuv its handler).
// The main thread marks these phases in shared memory by wrapping the two process methods vm
// uses (removeAllListeners('SIGINT') at entry, addListener('SIGINT') at exit); the I/O
// thread holds a SIGINT back until the run is at least SETTLE_MS old, by which time the
// watchdog is installed. Window (b) stays open only for the instant between the script's
// end and the listener's return, which a SIGINT that is itself stopping the script cannot
// hit (the next repeat comes 100 ms later).
//
// Layout of the shared Int32Array: [0] = 1 while inside a breakOnSigint run, else 0;
// [1] = ms since `epoch` when that run began.

export const SETTLE_MS = 30;

export interface SigintState {
  flags: Int32Array;
  epoch: number;
}

export function newSigintState(): { buffer: SharedArrayBuffer; epoch: number } {
  return { buffer: new SharedArrayBuffer(8), epoch: Date.now() };
}

/** Main thread: track vm's breakOnSigint runs through the process methods it calls. */
export function trackBreakOnSigint(state: SigintState): void {
  const { flags, epoch } = state;
  const removeAll = process.removeAllListeners;
  const add = process.addListener as (event: string | symbol, listener: (...args: unknown[]) => void) => NodeJS.Process;
  process.removeAllListeners = function (this: NodeJS.Process, event?: string | symbol) {
    if (event === "SIGINT") {
      Atomics.store(flags, 1, Date.now() - epoch);
      Atomics.store(flags, 0, 1);
    }
    return removeAll.call(this, event);
  } as NodeJS.Process["removeAllListeners"];
  process.addListener = function (this: NodeJS.Process, event: string | symbol, listener: (...args: unknown[]) => void) {
    const r = add.call(this, event, listener);
    // The first listener back re-registers libuv's handler: SIGINT is safe again.
    if (event === "SIGINT") Atomics.store(flags, 0, 0);
    return r;
  } as NodeJS.Process["addListener"];
}

/** I/O thread: ms to wait before a SIGINT is safe to raise (0 = now). */
export function sigintDelay(state: SigintState): number {
  if (Atomics.load(state.flags, 0) === 0) return 0;
  const age = Date.now() - state.epoch - Atomics.load(state.flags, 1);
  return age >= SETTLE_MS ? 0 : SETTLE_MS - age;
}

/** I/O thread: raise SIGINT in this process once it is safe to. */
export function raiseSigint(state: SigintState, then?: () => void): void {
  const wait = sigintDelay(state);
  if (wait > 0) {
    setTimeout(() => raiseSigint(state, then), wait);
    return;
  }
  process.kill(process.pid, "SIGINT");
  then?.();
}
