import { decodePath, deviceIdHoldsCardNumber, findCardData, looksLikeCardNumber, maskCardNumbers } from '../../src/privacy/card-data';

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
    ['groups separated by two spaces', '4242  4242  4242  4242'],
    ['groups separated by no-break spaces', '4242\u00a04242\u00a04242\u00a04242'],
    ['groups separated by ideographic spaces', '4242\u30004242\u30004242\u30004242'],
    ['full-width digits (a CJK keyboard)', '４２４２４２４２４２４２４２４２'],
    ['full-width digits in groups', '４２４２　４２４２　４２４２　４２４２'],
    ['Arabic-Indic digits', '٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢'],
    ['groups separated by dots', '4242.4242.4242.4242'],
    ['groups separated by " - "', '4242 - 4242 - 4242 - 4242'],
    ['groups separated by an en dash', '4242–4242–4242–4242'],
    ['groups separated by slashes', '4242/4242/4242/4242'],
    ['groups separated by zero-width spaces', '4242\u200b4242\u200b4242\u200b4242'],
  ])('is found: %s', (_case, text) => {
    expect(looksLikeCardNumber(text)).toBe(true);
  });

  test.each([
    ['a Luhn-invalid 16-digit run', '4111111111111112'],
    ['a Luhn-valid 12-digit run', LUHN_VALID_12],
    ['a Luhn-valid 20-digit run', LUHN_VALID_20],
    ['groups separated by four spaces (not a short run)', '4242    4242    4242    4242'],
    ['a US phone number', '+1 (415) 555-2671'],
    ['a Chinese mobile number', '+86 138-0013-8000'],
    ['a UK phone number', '+44 20 7946 0958'],
    ['a UUID', '123e4567-e89b-12d3-a456-426614174000'],
    ['another UUID', '550e8400-e29b-41d4-a716-446655440000'],
    ['an ISO date', '2026-11-27'],
    ['an ISO timestamp', '2026-11-27T16:40:18.123Z'],
    ['a date and time', '2026-11-27 16:40:18'],
    ['a date with slashes and a time', '27/11/2026 16:40'],
    ['a version string', '17.4.1'],
    ['an empty string', ''],
  ])('is not flagged: %s', (_case, text) => {
    expect(looksLikeCardNumber(text)).toBe(false);
  });

  // ASCII text with under 13 digits is passed without normalising; one non-ASCII digit or separator
  // must send it down the whole check.
  test.each([
    ['twelve ASCII digits and a full-width one', '422222222222２'],
    ['twelve ASCII digits and an Arabic-Indic one', '422222222222٢'],
    ['twelve ASCII digits and a mathematical bold one', '422222222222𝟐'],
  ])('is found with fewer than 13 ASCII digits: %s', (_case, text) => {
    expect(looksLikeCardNumber(text)).toBe(true);
    expect(maskCardNumbers(text)).toBe('[card number removed]');
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

describe('device.id, an identifier rather than text', () => {
  test.each([
    ['an IMEI (15 digits, valid check digit)', '490154203237518'],
    ['another IMEI', '356938035643809'],
    ['an IDFV whose last group, after a letter, passes Luhn', 'E621E1F8-C36C-495A-A456-426614174007'],
    ['a hex hash with a Luhn-valid stretch between letters', 'e3b0c4424111111111111711ab'],
    ['an Android ID', '9774d56d682e549c'],
  ])('accepts %s', (_case, id) => {
    expect(deviceIdHoldsCardNumber(id)).toBe(false);
    expect(findCardData({ device: { id } })).toBeUndefined();
  });

  test.each([
    ['a 16-digit Visa', VISA],
    ['a 15-digit Amex (34/37 is never an IMEI)', AMEX],
    ['a Visa in groups', '4111-1111-1111-1111'],
    ['a Visa after a prefix and a separator', 'dev_4111111111111111'],
    ['a Visa in full-width digits', '４１１１１１１１１１１１１１１１'],
  ])('refuses %s', (_case, id) => {
    expect(deviceIdHoldsCardNumber(id)).toBe(true);
    expect(findCardData({ device: { id } })).toBe('device.id');
  });

  test('accepts ids that the free-text rule would refuse: that is what the identifier rule is for', () => {
    for (const id of ['490154203237518', 'E621E1F8-C36C-495A-A456-426614174007', 'e3b0c4424111111111111711ab']) expect(looksLikeCardNumber(id)).toBe(true);
  });

  test('keeps reading every other field as text: an IMEI in device.model is a card-like number', () => {
    expect(findCardData({ device: { id: 'ok', model: '490154203237518' } })).toBe('device.model');
  });
});

describe('echoes of the request', () => {
  test('decodePath decodes every valid escape and survives malformed ones', () => {
    expect(decodePath('/v1/orders/4111%201111%201111%201111%ZZ')).toBe('/v1/orders/4111 1111 1111 1111%ZZ');
    expect(decodePath('/%E4%BD%A0%E5%A5%BD/%FF')).toBe('/你好/\ufffd');
    expect(decodePath('/v1/orders/pay_1')).toBe('/v1/orders/pay_1');
  });

  test('maskCardNumbers removes a card number however it is spelled, and leaves other digits', () => {
    expect(maskCardNumbers('card ４２４２\u00a04242  4242 4242, order 17')).toBe('card [card number removed], order 17');
  });
});
