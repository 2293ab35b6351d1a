import { ConfigError, Env, loadConfig } from '../../src/config';

/** The ConfigError loadConfig throws for `env`; fails the test when the configuration is accepted. */
export function configErrorFor(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected loadConfig to refuse ${JSON.stringify(Object.keys(env))}`);
}

/** The variables named by the issues, in order. */
export function settingsNamed(env: Env): string[] {
  return configErrorFor(env).issues.map((issue) => issue.setting);
}
