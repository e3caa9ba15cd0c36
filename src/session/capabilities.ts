/**
 * @module session/capabilities
 * What the storage behind a session can do, as its adapter declares it (StorageCapabilities),
 * for the commands whose advertisement depends on it (FEAT, HELP). Before login that is the
 * provider's declaration, after login the user's backend's.
 */
import type { StorageCapabilities } from '../storage/types.js';
import type { SessionContext } from './context.js';

export function storageCapabilities(ctx: SessionContext): StorageCapabilities {
  const login = ctx.state.login;
  return login.phase === 'logged-in' ? login.storage.capabilities : ctx.deps.storage.capabilities;
}
