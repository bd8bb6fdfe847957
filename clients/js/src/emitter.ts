/** A tiny typed event emitter: `on(event, fn)` returns the function that removes `fn`. */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(arg: never) => void>>();

  on<K extends keyof Events>(event: K, fn: (arg: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => this.off(event, fn);
  }

  off<K extends keyof Events>(event: K, fn: (arg: Events[K]) => void): void {
    this.listeners.get(event)?.delete(fn);
  }

  /** A throwing listener is reported and skipped: it must not break the connection logic. */
  protected emit<K extends keyof Events>(event: K, arg: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as (arg: Events[K]) => void)(arg);
      } catch (err) {
        console.error(`realtime-hub: a "${String(event)}" listener threw`, err);
      }
    }
  }
}
