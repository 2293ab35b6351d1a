import { z } from 'zod';

/** One problem with one setting; start-up prints one line per issue. */
export interface SettingIssue {
  setting: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: SettingIssue[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue.setting}: ${issue.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/** Parses `env` with `schema`, turning every zod issue into a SettingIssue named after the variable. */
export function parseSettings<S extends z.ZodType>(schema: S, env: Env): { value?: z.infer<S>; issues: SettingIssue[] } {
  const result = schema.safeParse(env);
  if (result.success) return { value: result.data, issues: [] };
  const issues = result.error.issues.map((issue) => ({
    setting: issue.path.length > 0 ? issue.path.join('.') : '(settings)',
    message: issue.message,
  }));
  return { issues };
}

/** The environment names a settings schema reads: the keys of its object, seen through any transform. */
export function settingNamesOf(schema: z.ZodType): string[] {
  if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
  if (schema instanceof z.ZodPipe) return settingNamesOf(schema.in as z.ZodType);
  throw new Error('settingNamesOf: a settings schema is an object, or a transform of one');
}
