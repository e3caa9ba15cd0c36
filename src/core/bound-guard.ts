/**
 * @module core/bound-guard
 * A SessionGuard bound to one client address: one small object with the defence and the
 * address, whose methods live on the prototype.
 *
 * Why: the guard was three arrow functions closing over the address, which every session
 * held while idle (three closures and their context, about 200 bytes of heap; issue 14, heap
 * snapshot of 1,000 idle sessions). This one is two fields.
 * Must not: decide anything itself (the local defender or the shared protection does).
 */
import type { SessionGuard } from './session-guard.js';

/** What a guard forwards to: the local defender, or the protection shared by replicas. */
export interface AddressDefence {
  loginFailed(address: string, user: string): number | Promise<number>;
  loginSucceeded(address: string, user: string): void;
  record(address: string, event: 'commands-before-login' | 'data-refused'): void;
}

export class BoundGuard implements SessionGuard {
  readonly #defence: AddressDefence;
  readonly #address: string;

  constructor(defence: AddressDefence, address: string) {
    this.#defence = defence;
    this.#address = address;
  }

  loginFailed(username: string): number | Promise<number> {
    return this.#defence.loginFailed(this.#address, username);
  }

  loginSucceeded(username: string): void {
    this.#defence.loginSucceeded(this.#address, username);
  }

  report(event: 'commands-before-login' | 'data-refused'): void {
    this.#defence.record(this.#address, event);
  }
}
