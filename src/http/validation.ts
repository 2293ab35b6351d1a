import type { z } from 'zod';
import { ApiError } from '../shared/errors';

export type InputLocation = 'body' | 'query' | 'path' | 'header';

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined), input);
}

function paramName(path: PropertyKey[]): string {
  return path.reduce<string>((name, key) => (typeof key === 'number' ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)), '');
}

/** Turns the first zod issue into the public error: a stable code, the offending field, a sentence. */
function toApiError(error: z.ZodError, input: unknown, where: InputLocation): ApiError {
  const issue = error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const param = paramName([...issue.path, issue.keys[0]]);
    return new ApiError(400, 'invalid_request_error', 'parameter_unknown', `Received unknown parameter: ${param}.`, { param });
  }
  const param = paramName(issue.path) || where;
  if (valueAt(input, issue.path) === undefined && issue.code === 'invalid_type') {
    return new ApiError(400, 'invalid_request_error', 'parameter_missing', `Missing required parameter: ${param}.`, { param });
  }
  return new ApiError(400, 'invalid_request_error', 'parameter_invalid', `Invalid ${param}: ${issue.message}.`, { param });
}

export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: InputLocation): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw toApiError(result.error, input, where);
  return result.data;
}
