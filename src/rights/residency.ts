import type { Sql } from '../db/database';
import type { ProviderName } from '../providers/types';
import { permissionDenied } from '../shared/errors';
import { hasConsent } from './consents';

/** Where personal data may be kept: mainland China, or outside it. */
export const REGIONS = ['CN', 'INTL'] as const;
export type Region = (typeof REGIONS)[number];

/**
 * Where each provider processes what we send it. The sandbox runs inside the gateway, so it is wherever the
 * gateway is. A new provider must say where it is before it compiles.
 */
export const PROVIDER_REGIONS: Record<ProviderName, Region | 'local'> = {
  sandbox: 'local',
  stripe: 'INTL',
  alipay: 'CN',
};

export function crossesBorder(dataRegion: Region | undefined, provider: ProviderName): boolean {
  const region = PROVIDER_REGIONS[provider];
  return dataRegion !== undefined && region !== 'local' && region !== dataRegion;
}

const crossBorderConsentRequired = (provider: string) =>
  permissionDenied(
    'cross_border_consent_required',
    `Paying with ${provider} sends this payment's details abroad. Give the cross_border_transfer consent (PUT /v1/me/consents) or choose another provider.`,
  );

/**
 * Checked before a checkout stores anything: a provider outside DATA_REGION needs the payer's current
 * `cross_border_transfer` consent. What such a provider then receives is de-identified by construction:
 * a session carries our payment id, the amount, the currency and the catalog item (CreateSessionInput),
 * never the user id, device, IP or location.
 */
export function createResidencyCheck(deps: { db: Sql; dataRegion: Region | undefined }) {
  return async (userHash: string, provider: ProviderName): Promise<void> => {
    if (!crossesBorder(deps.dataRegion, provider)) return;
    if (!(await hasConsent(deps.db, userHash, 'cross_border_transfer'))) throw crossBorderConsentRequired(provider);
  };
}
