import type { NextFunction, Request, Response } from 'express';
import type { AppUser, TokenVerifier } from '../auth/app-tokens';
import { authenticationFailed } from '../shared/errors';

export function bearerToken(req: Request): string {
  const header = req.get('authorization');
  if (!header) throw authenticationFailed('token_missing', 'Send an app token as "Authorization: Bearer <token>".');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw authenticationFailed('token_invalid', 'The Authorization header must be "Bearer <token>".');
  return match[1];
}

export function requireAppUser(tokens: TokenVerifier) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    res.locals.user = await tokens.verifyAppUser(bearerToken(req));
    next();
  };
}

export function appUser(res: Response): AppUser {
  const user = res.locals.user as AppUser | undefined;
  if (!user) throw new Error('appUser() used on a route without requireAppUser');
  return user;
}
