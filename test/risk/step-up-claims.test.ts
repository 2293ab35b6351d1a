import { stepUpFailure } from '../../src/risk/step-up';
import { settingsWith } from './support';

const now = new Date('2026-11-27T12:00:00Z');
const nowSeconds = now.getTime() / 1000;
const check = (claims: Record<string, unknown>, env: Record<string, string> = {}) =>
  stepUpFailure(claims, { userId: 'alice', now, settings: settingsWith(env).stepUp });

describe('step-up token claims', () => {
  it('accept the same subject with amr mfa and a recent auth_time', () => {
    expect(check({ sub: 'alice', jti: 'token-1', amr: ['pwd', 'mfa'], auth_time: nowSeconds - 299 })).toBeUndefined();
  });

  it('refuse a token without a jti: without it a token could not be held to one use', () => {
    expect(check({ sub: 'alice', amr: ['mfa'], auth_time: nowSeconds })).toBe('jti_missing');
    expect(check({ sub: 'alice', jti: '', amr: ['mfa'], auth_time: nowSeconds })).toBe('jti_missing');
    expect(check({ sub: 'alice', jti: 42, amr: ['mfa'], auth_time: nowSeconds })).toBe('jti_missing');
  });

  it('refuse another subject, a missing or weak method, and an old or future auth_time', () => {
    expect(check({ sub: 'bob', amr: ['mfa'], auth_time: nowSeconds })).toBe('wrong_subject');
    expect(check({ sub: 'alice', auth_time: nowSeconds })).toBe('method_missing');
    expect(check({ sub: 'alice', amr: 'mfa', auth_time: nowSeconds })).toBe('method_missing');
    expect(check({ sub: 'alice', amr: ['mfa'], auth_time: nowSeconds - 301 })).toBe('auth_too_old');
    expect(check({ sub: 'alice', amr: ['mfa'], auth_time: nowSeconds + 60 })).toBe('auth_too_old');
    expect(check({ sub: 'alice', amr: ['mfa'] })).toBe('auth_too_old');
  });

  it('accept the configured acr instead of amr, and a configured amr other than mfa', () => {
    const acr = { RISK_STEP_UP_ACR: 'urn:example:loa:2' };
    expect(check({ sub: 'alice', jti: 'token-2', acr: 'urn:example:loa:2', auth_time: nowSeconds }, acr)).toBeUndefined();
    expect(check({ sub: 'alice', acr: 'urn:example:loa:1', auth_time: nowSeconds }, acr)).toBe('method_missing');
    expect(check({ sub: 'alice', acr: 'urn:example:loa:2', auth_time: nowSeconds })).toBe('method_missing');
    expect(check({ sub: 'alice', jti: 'token-3', amr: ['hwk'], auth_time: nowSeconds }, { RISK_STEP_UP_AMR: 'hwk' })).toBeUndefined();
  });
});
