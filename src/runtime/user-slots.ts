/**
 * @module runtime/user-slots
 * Owns limits.maxSessionsPerUser across protocols: an FTP and an SFTP session of the same
 * user take slots from one count. Counted on this replica, or, with cluster.redis.url, as
 * leases in the shared store so the cap holds for the whole service.
 */
import type { SharedProtection } from '../cluster/shared-protection.js';

/** A slot's release (idempotent), or null when the user has all the slots. */
export type SlotClaim = (() => void) | null;

export class UserSlots {
  readonly #max: number;
  readonly #shared: () => SharedProtection | null;
  readonly #counts = new Map<string, number>();

  /** `shared`: the shared store once the runtime has joined the cluster (null without one). */
  constructor(maxPerUser: number, shared: () => SharedProtection | null) {
    this.#max = maxPerUser;
    this.#shared = shared;
  }

  /** One of `user`'s slots for session `sessionId` (a promise when replicas share the count). */
  claim(user: string, sessionId: string): SlotClaim | Promise<SlotClaim> {
    const shared = this.#shared();
    if (shared && this.#max > 0) return shared.claimSession(user, sessionId);
    return this.#claimLocal(user);
  }

  #claimLocal(user: string): SlotClaim {
    const count = this.#counts.get(user) ?? 0;
    if (this.#max > 0 && count >= this.#max) return null;
    this.#counts.set(user, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#counts.get(user) ?? 1) - 1;
      if (left <= 0) this.#counts.delete(user);
      else this.#counts.set(user, left);
    };
  }
}
