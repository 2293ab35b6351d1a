import type { RiskSettings } from './settings';
import type { RiskEngine } from './types';
import type { Database } from '../db/database';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { BlindIndex } from '../privacy/keyring';

export interface RiskEngineDeps {
  db: Database;
  redis?: Redis;
  logger: Logger;
  blindIndex: BlindIndex;
}

/**
 * Until the rules engine lands (next step), every checkout is allowed with score 0 and nothing is
 * journaled. The real engine keeps this signature.
 */
export function createRiskEngine(settings: RiskSettings, deps: RiskEngineDeps): RiskEngine & { close(): Promise<void>; reload(): void } {
  void settings;
  void deps;
  return {
    async assess() {
      return { decision: 'allow', score: 0, journal: null };
    },
    async record() {},
    async close() {},
    reload() {},
  };
}
