import { DomainError } from "../ledger/errors.js";

const DAY_MS = 86_400_000;
/** A window longer than this is a typo, and a join over months of lines. */
export const MAX_WINDOW_DAYS = 31;

export interface Window {
  from: Date;
  to: Date;
}

/** The whole UTC day before `at`: what the daily run reconciles. */
export function previousUtcDay(at: Date): Window {
  const to = new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
  return { from: new Date(to.getTime() - DAY_MS), to };
}

/** `rec_day_20261130`: one scheduled run per day, whoever fires it. */
export const scheduledRunId = (from: Date) =>
  `rec_day_${from.toISOString().slice(0, 10).replaceAll("-", "")}`;

/** An on-demand window: both ends optional (default the last 24 hours), ordered, at most 31 days. */
export function requestedWindow(from: Date | undefined, to: Date | undefined, now = new Date()): Window {
  const end = to ?? now;
  const start = from ?? new Date(end.getTime() - DAY_MS);
  if (start.getTime() >= end.getTime()) {
    throw new DomainError("reconciliation_window_invalid", "`from` must be before `to`");
  }
  if (end.getTime() - start.getTime() > MAX_WINDOW_DAYS * DAY_MS) {
    throw new DomainError(
      "reconciliation_window_invalid",
      `a window may span at most ${MAX_WINDOW_DAYS} days`,
    );
  }
  return { from: start, to: end };
}
