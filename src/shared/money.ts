/** Money is an integer count of the currency's minor unit plus an ISO 4217 code; never a float. */
export interface Money {
  amount: number;
  currency: string;
}

/** Minor-unit exponents for the currencies the catalog may use (ISO 4217). */
const EXPONENTS: Record<string, number> = {
  CNY: 2, USD: 2, EUR: 2, GBP: 2, HKD: 2, TWD: 2, SGD: 2, AUD: 2, CAD: 2, KRW: 0, JPY: 0,
};

export const SUPPORTED_CURRENCIES = Object.keys(EXPONENTS);

export function currencyExponent(currency: string): number {
  const exponent = EXPONENTS[currency];
  if (exponent === undefined) throw new Error(`Unsupported currency ${currency}`);
  return exponent;
}

/** Largest amount we accept in one payment: keeps every sum of refunds inside safe integers and int8 columns. */
export const MAX_AMOUNT = 99_999_999_99;

export function assertMinorUnits(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount < 0 || amount > MAX_AMOUNT) throw new Error(`Invalid minor-unit amount ${amount}`);
}

/** "12345" fen → "123.45": string arithmetic, so no binary floating point ever touches money. */
export function formatMajorUnits({ amount, currency }: Money): string {
  assertMinorUnits(amount);
  const exponent = currencyExponent(currency);
  if (exponent === 0) return String(amount);
  const digits = String(amount).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** "123.45" → 12345 when the string has exactly the currency's decimals (or fewer); undefined if malformed. */
export function parseMajorUnits(value: string, currency: string): number | undefined {
  const exponent = currencyExponent(currency);
  const match = /^(\d{1,12})(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) return undefined;
  return Number(match[1]) * 10 ** exponent + Number(fraction.padEnd(exponent, '0') || '0');
}
