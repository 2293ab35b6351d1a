import { z } from 'zod';
import { envString } from '../../config/env';

/** Alipay settings: the provider is switched on by ALIPAY_APP_ID once it exists (next step). */
export const alipaySettingsSchema = z
  .object({
    ALIPAY_APP_ID: envString(),
  })
  .transform((s) => (s.ALIPAY_APP_ID ? { enabled: true as const, appId: s.ALIPAY_APP_ID } : { enabled: false as const }));

export type AlipaySettings = z.infer<typeof alipaySettingsSchema>;
