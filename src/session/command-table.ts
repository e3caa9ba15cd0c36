/**
 * @module session/command-table
 * Every verb the server implements, keyed by verb. Dispatch, HELP and FEAT all read this
 * table, so a verb that is not here gets 502 and is never advertised.
 */
import type { CommandSpec } from './command-spec.js';
import { AUTH_COMMANDS } from './handlers/auth.js';
import { DATA_SETUP_COMMANDS } from './handlers/data-setup.js';
import { FILE_COMMANDS } from './handlers/files.js';
import { HASH_COMMANDS } from './handlers/hash.js';
import { introspectionCommands } from './handlers/introspection.js';
import { LISTING_COMMANDS } from './handlers/listing.js';
import { MISC_COMMANDS } from './handlers/misc.js';
import { NAVIGATION_COMMANDS } from './handlers/navigation.js';
import { PARAM_COMMANDS } from './handlers/params.js';
import { SECURITY_COMMANDS } from './handlers/security.js';
import { SITE_COMMANDS } from './handlers/site.js';
import { TRANSFER_COMMANDS } from './handlers/transfer.js';

const table = new Map<string, CommandSpec>(
  [
    ...AUTH_COMMANDS,
    ...SECURITY_COMMANDS,
    ...MISC_COMMANDS,
    ...PARAM_COMMANDS,
    ...NAVIGATION_COMMANDS,
    ...FILE_COMMANDS,
    ...DATA_SETUP_COMMANDS,
    ...TRANSFER_COMMANDS,
    ...LISTING_COMMANDS,
    ...HASH_COMMANDS,
    ...SITE_COMMANDS,
  ].map((spec) => [spec.verb, spec]),
);
// FEAT and HELP describe the table they belong to: they are given it rather than importing
// this module, which would make an import cycle.
for (const spec of introspectionCommands(table)) table.set(spec.verb, spec);

export const COMMANDS: ReadonlyMap<string, CommandSpec> = table;
