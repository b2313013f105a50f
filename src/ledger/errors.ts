/**
 * Domain errors carry a `code` with a domain prefix where it helps, and the HTTP
 * layer maps codes to statuses in one table (src/http/errors.ts). `terminal`
 * tells a job that retrying cannot help.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly terminal = true,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;
