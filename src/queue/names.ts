import { QUEUE_NAMES } from "../config.js";

export { QUEUE_NAMES };
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Every job about a Stripe event carries only the event id; the payload is read from Postgres. */
export interface EventJob {
  eventId: string;
}
