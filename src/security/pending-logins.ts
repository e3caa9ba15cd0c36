/**
 * @module security/pending-logins
 * Owns the bookkeeping of connections that have not logged in yet (slow-loris defence): how
 * many each client address holds, and which one has waited longest, so admission can refuse
 * an address that holds too many and make room for a newcomer by closing the oldest waiting
 * connection instead of refusing the newcomer (a legitimate client logs in within moments;
 * a slow-loris connection is by nature the one that has waited longest).
 */
export class PendingLogins<T> {
  /** In arrival order (Set iteration order = insertion order). */
  readonly #pending = new Set<T>();
  readonly #address = new Map<T, string>();
  readonly #perAddress = new Map<string, number>();

  get size(): number {
    return this.#pending.size;
  }

  countFor(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  has(item: T): boolean {
    return this.#pending.has(item);
  }

  add(item: T, address: string): void {
    if (this.#pending.has(item)) return;
    this.#pending.add(item);
    this.#address.set(item, address);
    this.#perAddress.set(address, this.countFor(address) + 1);
  }

  /** Logged in or gone. Idempotent. */
  delete(item: T): void {
    if (!this.#pending.delete(item)) return;
    const address = this.#address.get(item) ?? '';
    this.#address.delete(item);
    const left = this.countFor(address) - 1;
    if (left <= 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, left);
  }

  /** The connection that has waited longest, if any. */
  oldest(): T | undefined {
    const first = this.#pending.values().next();
    return first.done ? undefined : first.value;
  }
}
