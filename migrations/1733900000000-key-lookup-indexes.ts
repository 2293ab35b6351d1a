import { indexMigration, IndexSpec } from './indexes';

const INDEXES: IndexSpec[] = [
  // Start-up asks which master keys wrap stored data keys (src/privacy/vault.ts): with this index it skips
  // from one key id to the next instead of reading every subject's row.
  { name: 'subject_keys_master_key_idx', on: 'subject_keys (master_key_id)' },
  // The retention sweep deletes staff members' keys by age (src/retention/rules.ts).
  { name: 'staff_idempotency_keys_created_idx', on: 'staff_idempotency_keys (created_at)' },
];

export class KeyLookupIndexes1733900000000 extends indexMigration('KeyLookupIndexes1733900000000', INDEXES) {}
