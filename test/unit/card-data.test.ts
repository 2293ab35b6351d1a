import { findCardData, looksLikeCardNumber } from '../../src/privacy/card-data';

// Luhn-valid test numbers (published by the card networks, or completed with a Luhn check digit).
const VISA = '4111111111111111';
const AMEX = '378282246310005';
const VISA_13 = '4222222222222';
const DISCOVER_19 = '6011000000000000001';
const LUHN_VALID_12 = '411111111117';
const LUHN_VALID_20 = '41111111111111111115';

describe('a card number in a string', () => {
  test.each([
    ['a 16-digit Visa', VISA],
    ['a 15-digit Amex', AMEX],
    ['a 13-digit Visa', VISA_13],
    ['a 19-digit card', DISCOVER_19],
    ['dash-separated groups', '4242-4242-4242-4242'],
    ['space-separated groups', '4242 4242 4242 4242'],
    ['Amex grouping', '3782 822463 10005'],
    ['a number inside a sentence', 'my card is 4242 4242 4242 4242, thanks'],
    ['a number after other text with digits', 'order 7: 4111-1111-1111-1111 exp 12/28'],
  ])('is found: %s', (_case, text) => {
    expect(looksLikeCardNumber(text)).toBe(true);
  });

  test.each([
    ['a Luhn-invalid 16-digit run', '4111111111111112'],
    ['a Luhn-valid 12-digit run', LUHN_VALID_12],
    ['a Luhn-valid 20-digit run', LUHN_VALID_20],
    ['groups separated by two spaces', '4242  4242  4242  4242'],
    ['a US phone number', '+1 (415) 555-2671'],
    ['a Chinese mobile number', '+86 138-0013-8000'],
    ['a UK phone number', '+44 20 7946 0958'],
    ['a UUID', '123e4567-e89b-12d3-a456-426614174000'],
    ['another UUID', '550e8400-e29b-41d4-a716-446655440000'],
    ['an ISO date', '2026-11-27'],
    ['an ISO timestamp', '2026-11-27T16:40:18.123Z'],
    ['a date and time', '2026-11-27 16:40:18'],
    ['an empty string', ''],
  ])('is not flagged: %s', (_case, text) => {
    expect(looksLikeCardNumber(text)).toBe(false);
  });

  test('is found when the expiry follows it after a single space', () => {
    expect(looksLikeCardNumber('4242 4242 4242 4242 12/28 123')).toBe(true);
  });
});

describe('findCardData in a request body', () => {
  test('reports the dotted path of a nested field', () => {
    expect(findCardData({ sku: 'gems_600', device: { id: 'dev_1', model: `iPhone ${VISA}` } })).toBe('device.model');
  });

  test('reports the indexed path of a field inside an array', () => {
    expect(findCardData({ items: [{ note: 'fine' }, { note: '4242-4242-4242-4242' }] })).toBe('items[1].note');
  });

  test('reports a top-level string as the body itself', () => {
    expect(findCardData(AMEX)).toBe('(body)');
    expect(findCardData([AMEX])).toBe('[0]');
  });

  test('finds a card number used as an object key', () => {
    expect(findCardData({ metadata: { [VISA]: true } })).toEqual(expect.stringMatching(/^metadata/));
  });

  test('never repeats a card number used as an object key in the reported path', () => {
    const found = findCardData({ metadata: { '4111 1111 1111 1111': true } });

    expect(found).toBeDefined();
    expect(looksLikeCardNumber(found!)).toBe(false);
  });

  test('ignores numbers, booleans, null and card-free strings', () => {
    expect(findCardData({ amount: 4111111111111111, ok: true, none: null, sku: 'gems_600', at: '2026-11-27' })).toBeUndefined();
  });
});
