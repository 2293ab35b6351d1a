import { z } from 'zod';

/** Risk engine settings; owned by the risk domain. */
export const riskSettingsSchema = z.object({}).transform(() => ({}));

export type RiskSettings = z.infer<typeof riskSettingsSchema>;
