import { InitialSchema1732700000000 } from './1732700000000-initial-schema';
import { RiskEngine1732800000000 } from './1732800000000-risk-engine';
import { IdempotencyLeases1732900000000 } from './1732900000000-idempotency-leases';
import { IdempotencyLeaseOwner1733100000000 } from './1733100000000-idempotency-lease-owner';
import { PaymentFacts1733200000000 } from './1733200000000-payment-facts';
import { StepUpReplay1733000000000 } from './1733000000000-step-up-replay';
import { StaffOps1733500000000 } from './1733500000000-staff-ops';
import { RetentionTriggers1733600000000 } from './1733600000000-retention-triggers';
import { RetentionIndexes1733600000001 } from './1733600000001-retention-indexes';
import { JobEngineSchema1733600000002 } from './1733600000002-job-engine-schema';
import { UserRights1733700000000 } from './1733700000000-user-rights';
import { PaymentFactsVersion1733800000000 } from './1733800000000-payment-facts-version';
import { KeyLookupIndexes1733900000000 } from './1733900000000-key-lookup-indexes';

/** Every migration, oldest first. Listed explicitly so the same classes run under node, tsx and jest. */
export const migrations = [
  InitialSchema1732700000000,
  RiskEngine1732800000000,
  IdempotencyLeases1732900000000,
  StepUpReplay1733000000000,
  IdempotencyLeaseOwner1733100000000,
  PaymentFacts1733200000000,
  StaffOps1733500000000,
  RetentionTriggers1733600000000,
  RetentionIndexes1733600000001,
  JobEngineSchema1733600000002,
  UserRights1733700000000,
  PaymentFactsVersion1733800000000,
  KeyLookupIndexes1733900000000,
];
