/**
 * @module core/principal
 * An authenticated user as the session sees it.
 */
import type { Permission } from './permissions.js';

export interface Principal {
  readonly name: string;
  /** Virtual path inside the storage root that becomes this user's "/". */
  readonly home: string;
  readonly permissions: ReadonlySet<Permission>;
  readonly anonymous: boolean;
}
