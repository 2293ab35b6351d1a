import { loadConfig } from '../../src/config';
import { crossesBorder } from '../../src/rights/residency';
import { settingsNamed } from './config-issues';

describe('user-rights settings', () => {
  test('default to no declared region, policy version 1 and five requests an hour', () => {
    expect(loadConfig({}).rights).toEqual({ dataRegion: undefined, policyVersion: '1', requestsPerHour: 5, exportBatchSize: 200 });
    expect(loadConfig({ DATA_REGION: '' }).rights.dataRegion).toBeUndefined();
    expect(loadConfig({ DATA_REGION: 'CN' }).rights.dataRegion).toBe('CN');
  });

  test('refuse an unknown region, a policy version with spaces and a zero budget, one line each', () => {
    expect(settingsNamed({ DATA_REGION: 'EU', PRIVACY_POLICY_VERSION: 'v 2', RIGHTS_REQUESTS_PER_HOUR: '0' })).toEqual([
      'DATA_REGION',
      'PRIVACY_POLICY_VERSION',
      'RIGHTS_REQUESTS_PER_HOUR',
    ]);
  });
});

describe('which checkouts cross a border', () => {
  test.each([
    [undefined, 'stripe', false],
    [undefined, 'alipay', false],
    ['CN', 'stripe', true],
    ['CN', 'alipay', false],
    ['CN', 'sandbox', false],
    ['INTL', 'alipay', true],
    ['INTL', 'stripe', false],
    ['INTL', 'sandbox', false],
  ] as const)('DATA_REGION=%s, provider %s: %s', (region, provider, crosses) => {
    expect(crossesBorder(region, provider)).toBe(crosses);
  });
});
