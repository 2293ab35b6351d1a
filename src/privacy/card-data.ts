/**
 * Card numbers must never reach us: card entry happens in the provider's SDK. Any string that holds a
 * Luhn-valid run of 13–19 digits (single spaces or dashes allowed between digits) is refused before the
 * request is processed, and the offending value is neither stored, logged nor echoed.
 */
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;

function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * A run like "4242 4242 4242 4242 12/28" or "qty 2 4242424242424242" holds a card number next to other
 * digits, so every stretch of whole separator-delimited groups is tried. An unbroken run of 20+ digits is
 * not split: any long number has Luhn-valid slices, and refusing them all would refuse ordinary ids.
 */
function holdsCardNumber(run: string): boolean {
  const groups = run.split(/[ -]/);
  for (let first = 0; first < groups.length; first++) {
    let digits = '';
    for (let last = first; last < groups.length && digits.length < 19; last++) {
      digits += groups[last];
      if (digits.length >= 13 && digits.length <= 19 && passesLuhn(digits)) return true;
    }
  }
  return false;
}

/** Replaces card numbers in free text (a logged path, say) with a mask, leaving other digits alone. */
export function maskCardNumbers(text: string): string {
  return text.replace(DIGIT_RUN, (run) => (holdsCardNumber(run) ? '[card number removed]' : run));
}

/**
 * True when a JSON value nests deeper than `limit`; checked without recursion, so a hostile body of
 * thousands of nested arrays cannot exhaust the stack before it is refused.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: { node: unknown; depth: number }[] = [{ node: value, depth: 0 }];
  while (pending.length > 0) {
    const { node, depth } = pending.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(node)) pending.push({ node: child, depth: depth + 1 });
  }
  return false;
}

export function looksLikeCardNumber(text: string): boolean {
  for (const match of text.matchAll(DIGIT_RUN)) {
    if (holdsCardNumber(match[0])) return true;
  }
  return false;
}

/** Returns the dotted path of the first string field (or object key) that holds card data, if any. */
export function findCardData(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return looksLikeCardNumber(value) ? path || '(body)' : undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findCardData(item, `${path}[${index}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      // A card number used as a key is reported by its parent, so the number is never echoed back.
      if (looksLikeCardNumber(key)) return path || '(body)';
      const childPath = path ? `${path}.${key}` : key;
      const found = findCardData(item, childPath);
      if (found) return found;
    }
  }
  return undefined;
}
