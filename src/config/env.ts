import { z } from 'zod';

/** Helpers shared by the per-domain settings schemas. Every setting is read from the environment as a string. */

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);


/** Like envBoolean, but unset stays undefined so the caller can pick a default that depends on other settings. */
export const envOptionalBoolean = () =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      const word = value.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      ctx.addIssue({ code: 'custom', message: 'must be true or false' });
      return z.NEVER;
    });

export const envBoolean = (fallback: boolean) => envOptionalBoolean().transform((value) => value ?? fallback);

export const envInt = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return parsed;
    });

export const envUrl = (protocols: string[]) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      try {
        const url = new URL(value);
        if (!protocols.includes(url.protocol.replace(':', ''))) throw new Error('protocol');
        return url.toString();
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}` });
        return z.NEVER;
      }
    });

export const envString = () =>
  z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));

/** A secret is at least `minLength` characters; its value never appears in an error message. */
export const envSecret = (minLength: number) =>
  envString().refine((value) => value === undefined || value.length >= minLength, {
    message: `must be at least ${minLength} characters`,
  });
