import { InitialSchema1732700000000 } from './1732700000000-initial-schema';

/** Every migration, oldest first. Listed explicitly so the same classes run under node, tsx and jest. */
export const migrations = [InitialSchema1732700000000];
