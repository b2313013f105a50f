import jwt from "jsonwebtoken";

export const JWT_SECRET = "test-secret-at-least-16-chars";
export const WEBHOOK_SECRET = "whsec_test_coffer_secret";

export function tokenFor(
  sub: string,
  opts: { role?: string; secret?: string; expiresInS?: number } = {},
): string {
  return jwt.sign(opts.role ? { role: opts.role } : {}, opts.secret ?? JWT_SECRET, {
    algorithm: "HS256",
    subject: sub,
    expiresIn: opts.expiresInS ?? 3600,
  });
}

export const bearer = (sub: string, opts?: Parameters<typeof tokenFor>[1]) => ({
  authorization: `Bearer ${tokenFor(sub, opts)}`,
});
