import type { QueueName } from "../queue/names.js";
import { EVENT_TABLE, isRouted } from "./event-table.js";

/** Which queue works an event type, from the same table the worker maps commands from; null is `ignored`. */
export function queueForEvent(type: string): QueueName | null {
  return isRouted(type) ? EVENT_TABLE[type].queue : null;
}
