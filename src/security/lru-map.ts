/**
 * @module security/lru-map
 * Owns a Map with a fixed maximum size that forgets its least recently used entry when full,
 * so state keyed by something a hostile client chooses (its address, a user name) can never
 * grow without bound. Uses the Map's insertion order: a touched entry is re-inserted last.
 */
export class LruMap<K, V> {
  readonly #map = new Map<K, V>();
  readonly maxSize: number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;

  constructor(maxSize: number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new RangeError(`LruMap size must be a positive integer, got ${maxSize}`);
    this.maxSize = maxSize;
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#map.size;
  }

  /** Looks up without changing the order (for hot read paths and listings). */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Looks up and marks the entry as recently used. */
  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): void {
    if (this.#map.has(key)) this.#map.delete(key);
    else if (this.#map.size >= this.maxSize) this.#evictOldest();
    this.#map.set(key, value);
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  entries(): IterableIterator<[K, V]> {
    return this.#map.entries();
  }

  #evictOldest(): void {
    const oldest = this.#map.entries().next();
    if (oldest.done) return;
    this.#map.delete(oldest.value[0]);
    this.#onEvict?.(oldest.value[0], oldest.value[1]);
  }
}
