import { assertMinorUnits, formatMajorUnits, MAX_AMOUNT, parseMajorUnits } from '../../src/shared/money';

describe('formatMajorUnits', () => {
  test.each([
    [0, '0.00'],
    [1, '0.01'],
    [99, '0.99'],
    [100, '1.00'],
    [12345, '123.45'],
    [9999999, '99999.99'],
  ])('prints %i fen as %s yuan', (amount, expected) => {
    expect(formatMajorUnits({ amount, currency: 'CNY' })).toBe(expected);
  });

  test.each([
    [0, '0'],
    [1, '1'],
    [99, '99'],
    [100, '100'],
    [12345, '12345'],
    [9999999, '9999999'],
  ])('prints %i yen as %s, with no decimals', (amount, expected) => {
    expect(formatMajorUnits({ amount, currency: 'JPY' })).toBe(expected);
  });

  test('prints the largest accepted amount exactly', () => {
    expect(formatMajorUnits({ amount: MAX_AMOUNT, currency: 'USD' })).toBe('99999999.99');
  });

  test('refuses an unsupported currency and an amount that is not minor units', () => {
    expect(() => formatMajorUnits({ amount: 100, currency: 'XYZ' })).toThrow('Unsupported currency XYZ');
    expect(() => formatMajorUnits({ amount: 1.5, currency: 'CNY' })).toThrow('Invalid minor-unit amount');
  });
});

describe('parseMajorUnits', () => {
  test.each([0, 1, 99, 100, 12345, 9999999, MAX_AMOUNT])('reads back what formatMajorUnits printed for %i', (amount) => {
    for (const currency of ['CNY', 'JPY']) {
      expect(parseMajorUnits(formatMajorUnits({ amount, currency }), currency)).toBe(amount);
    }
  });

  test('accepts fewer decimals than the currency has', () => {
    expect(parseMajorUnits('1', 'CNY')).toBe(100);
    expect(parseMajorUnits('1.5', 'CNY')).toBe(150);
    expect(parseMajorUnits('0.07', 'CNY')).toBe(7);
  });

  test('avoids the floating-point error of multiplying by 100', () => {
    expect(parseMajorUnits('1.15', 'CNY')).toBe(115);
    expect(parseMajorUnits('19.99', 'USD')).toBe(1999);
  });

  test.each([
    ['1.234', 'CNY'],
    ['-1', 'CNY'],
    ['1e3', 'CNY'],
    ['abc', 'CNY'],
    ['', 'CNY'],
    ['1.', 'CNY'],
    ['.5', 'CNY'],
    ['1,00', 'CNY'],
    ['0x10', 'CNY'],
    ['1.5', 'JPY'],
    ['1.0', 'JPY'],
  ])('refuses %j for %s', (text, currency) => {
    expect(parseMajorUnits(text, currency)).toBeUndefined();
  });
});

describe('assertMinorUnits', () => {
  test('accepts zero and every whole amount up to MAX_AMOUNT', () => {
    for (const amount of [0, 1, 12345, MAX_AMOUNT]) expect(() => assertMinorUnits(amount)).not.toThrow();
  });

  test.each([0.5, 100.01, -1, MAX_AMOUNT + 1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('refuses %p', (amount) => {
    expect(() => assertMinorUnits(amount)).toThrow('Invalid minor-unit amount');
  });
});
