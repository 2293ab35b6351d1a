import { z } from 'zod';
import { envInt, envString } from '../config/env';
import { REGIONS } from './residency';

/** User-rights settings; owned by the rights domain. */
export const rightsSettingsSchema = z
  .object({
    /**
     * Where personal data must stay (`CN` or `INTL`). Unset: the deployment declares no region, and no
     * provider counts as a transfer abroad.
     */
    DATA_REGION: envString().pipe(z.enum(REGIONS).optional()),
    /** The privacy policy version the app shows; a consent is recorded against it, and one for another version is refused. */
    PRIVACY_POLICY_VERSION: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, 'must be 1–32 letters, digits, dots, dashes or underscores').default('1'),
    /** Export and erasure requests per user per hour (each also needs a fresh step-up token). */
    RIGHTS_REQUESTS_PER_HOUR: envInt(5, 1, 1_000),
    RIGHTS_EXPORT_BATCH_SIZE: envInt(200, 1, 5_000),
  })
  .transform((env) => ({
    dataRegion: env.DATA_REGION,
    policyVersion: env.PRIVACY_POLICY_VERSION,
    requestsPerHour: env.RIGHTS_REQUESTS_PER_HOUR,
    exportBatchSize: env.RIGHTS_EXPORT_BATCH_SIZE,
  }));

export type RightsSettings = z.infer<typeof rightsSettingsSchema>;
