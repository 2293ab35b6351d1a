/**
 * Card numbers must never reach us: card entry happens in the provider's SDK. Any string that holds a
 * Luhn-valid run of 13–19 digits is refused before the request is processed, and the offending value is
 * neither stored, logged nor echoed.
 *
 * Text is first normalised the way a person would read it: NFKC (full-width digits as CJK keyboards type
 * them become 0–9, a no-break or ideographic space becomes a space), and the digits of other scripts
 * (Arabic-Indic, Devanagari…) become 0–9. Between two digits, a short run (up to three characters) of
 * whitespace, dashes, dots, commas, slashes, underscores, bullets or invisible format characters counts as
 * a separator: "4242  4242", "4242 · 4242" and "4242\u200b4242" are one run.
 */
const SEPARATOR = String.raw`[\s\p{Pd}.,/\\_·•∙\p{Cf}]`;
const DIGIT_RUN = new RegExp(String.raw`\d(?:${SEPARATOR}{0,3}\d)*`, 'gu');
const SEPARATORS = new RegExp(`${SEPARATOR}+`, 'u');
const OTHER_SCRIPT_DIGIT = /(?![0-9])\p{Nd}/gu;
const IS_DIGIT = /^\p{Nd}$/u;

/**
 * A decimal digit of any script as 0–9. Unicode lays each script's digits out as ten consecutive code
 * points from zero, so a digit's value is how many digits precede it in its block, modulo ten.
 */
function digitValue(char: string): string {
  let codePoint = char.codePointAt(0)!;
  let value = 0;
  while (IS_DIGIT.test(String.fromCodePoint(codePoint - 1))) {
    codePoint--;
    value++;
  }
  return String(value % 10);
}

/** The text as the card check reads it (see above). */
export function normaliseForCardCheck(text: string): string {
  return text.normalize('NFKC').replace(OTHER_SCRIPT_DIGIT, digitValue);
}

const SHORTEST_CARD_NUMBER = 13;

/**
 * True for ASCII text with fewer than 13 digits, which cannot hold a card number: NFKC leaves ASCII as it
 * is and it has no digits of other scripts, so its digits can be counted as they stand. Nearly every value
 * a request carries is such text, and is spared the normalisation and the pattern scan.
 */
function plainlyNoCardNumber(text: string): boolean {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return false;
    if (code >= 0x30 && code <= 0x39 && ++digits >= SHORTEST_CARD_NUMBER) return false;
  }
  return true;
}

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
  const groups = run.split(SEPARATORS);
  for (let first = 0; first < groups.length; first++) {
    let digits = '';
    for (let last = first; last < groups.length && digits.length < 19; last++) {
      digits += groups[last];
      if (digits.length >= SHORTEST_CARD_NUMBER && digits.length <= 19 && passesLuhn(digits)) return true;
    }
  }
  return false;
}

/** Replaces card numbers in free text (a logged path, an error message) with a mask, leaving other digits alone. */
export function maskCardNumbers(text: string): string {
  if (plainlyNoCardNumber(text)) return text;
  return normaliseForCardCheck(text).replace(DIGIT_RUN, (run) => (holdsCardNumber(run) ? '[card number removed]' : run));
}

/**
 * A URL path as a person reads it: every valid %XX escape decoded, bytes that are not UTF-8 shown as
 * U+FFFD. Unlike decodeURIComponent it never fails, so one malformed escape cannot hide the rest of the
 * path from the card check.
 */
export function decodePath(rawPath: string): string {
  if (!rawPath.includes('%') && /^[\x00-\x7f]*$/.test(rawPath)) return rawPath;
  const bytes: number[] = [];
  for (let i = 0; i < rawPath.length; i++) {
    const escape = rawPath[i] === '%' ? /^[0-9A-Fa-f]{2}$/.exec(rawPath.slice(i + 1, i + 3)) : null;
    if (escape) {
      bytes.push(parseInt(escape[0], 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(rawPath[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
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
  if (plainlyNoCardNumber(text)) return false;
  for (const match of normaliseForCardCheck(text).matchAll(DIGIT_RUN)) {
    if (holdsCardNumber(match[0])) return true;
  }
  return false;
}

/** An IMEI: 15 digits whose last is a Luhn check digit; 34… and 37… are American Express card numbers, never IMEIs. */
const IMEI = /^(?!3[47])\d{15}$/;
const ALPHANUMERIC = /[\p{L}\p{N}]/u;

/**
 * `device.id` is an identifier an app reads from the platform (IDFV, Android ID, OAID, a Firebase
 * installation id, its own install UUID, a hash of one of them), not text a person types, so it is read as
 * one: an IMEI is accepted as it is, and digits glued to letters are part of the identifier (the tail of a
 * UUID, a stretch of a hex hash), not a card number. A card number that stands on its own (the whole value,
 * or a run set off by separators) is still refused.
 */
export function deviceIdHoldsCardNumber(id: string): boolean {
  if (plainlyNoCardNumber(id)) return false;
  const text = normaliseForCardCheck(id);
  if (IMEI.test(text) && passesLuhn(text)) return false;
  for (const match of text.matchAll(DIGIT_RUN)) {
    const before = text[match.index - 1];
    const after = text[match.index + match[0].length];
    const glued = (before !== undefined && ALPHANUMERIC.test(before)) || (after !== undefined && ALPHANUMERIC.test(after));
    if (!glued && holdsCardNumber(match[0])) return true;
  }
  return false;
}

/** Fields whose values are identifiers, read by their own rule rather than as free text. */
const IDENTIFIER_FIELDS: Record<string, (value: string) => boolean> = { 'device.id': deviceIdHoldsCardNumber };

/** Returns the dotted path of the first string field (or object key) that holds card data, if any. */
export function findCardData(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return (IDENTIFIER_FIELDS[path] ?? looksLikeCardNumber)(value) ? path || '(body)' : undefined;
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
