/**
 * The console's only way to the server: the ops API on this origin, with the staff token as a bearer header.
 * The token lives in sessionStorage (gone when the tab closes; never a cookie, so no request carries it
 * unless this code adds it, and cross-site requests cannot ride on it).
 */
const TOKEN_KEY = 'kalos.staffToken';

export interface Staff {
  id: string;
  roles: string[];
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const signIn = (value: string) => sessionStorage.setItem(TOKEN_KEY, value);
export const signOut = () => sessionStorage.removeItem(TOKEN_KEY);

export async function api<T>(method: string, path: string, options: { body?: unknown; idempotencyKey?: string } = {}): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token() ?? ''}` };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
  const response = await fetch(path, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), credentials: 'omit', cache: 'no-store' });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } }).error ?? {};
    throw new ApiFailure(response.status, error.code ?? 'unknown', error.message ?? `HTTP ${response.status}`);
  }
  return body as T;
}
