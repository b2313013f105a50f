import { z } from "zod";
import { paramError } from "../errors.js";
import { billingNow } from "./billing-clock.js";
import type { LifecycleControl } from "./lifecycle-controls.js";
import { deletePrice } from "./prices.js";
import { authenticateSetupIntent, confirmSetupIntent } from "./setup-intent-flow.js";
import { advanceCustomerClock } from "./subscription-flow.js";

// Declared through this helper so each entry's body type is checked against its schema.
function control<T>(c: LifecycleControl<T>): LifecycleControl<unknown> {
  return c as LifecycleControl<unknown>;
}

/**
 * Billing's side that no platform API call can do: the customer's browser confirming a
 * SetupIntent with its client secret and passing (or failing) the 3-D Secure challenge, a price
 * deleted in the Dashboard, and a test clock moving a customer's billing time forward.
 */
export const BILLING_CONTROLS: readonly LifecycleControl<unknown>[] = [
  control({
    // The browser confirms with a test card (default pm_card_visa): saved, declined or 3-D Secure.
    pattern: /^POST \/_standin\/setup_intents\/([^/]+)\/confirm$/,
    schema: z.strictObject({ payment_method: z.string().min(1).optional() }),
    act: (ctx, id, body) =>
      confirmSetupIntent(
        ctx,
        ctx.store.require(ctx.scope, "setup_intent", id),
        body.payment_method ?? "pm_card_visa",
      ),
  }),
  control({
    pattern: /^POST \/_standin\/setup_intents\/([^/]+)\/authenticate$/,
    schema: z.strictObject({ outcome: z.enum(["succeed", "fail"]) }),
    act: (ctx, id, body) =>
      authenticateSetupIntent(ctx, ctx.store.require(ctx.scope, "setup_intent", id), body.outcome),
  }),
  control({
    pattern: /^POST \/_standin\/prices\/([^/]+)\/delete$/,
    schema: z.strictObject({}),
    act: (ctx, id) => deletePrice(ctx, id),
  }),
  control({
    // Exactly one of: an absolute frozen_time, or seconds to move forward.
    pattern: /^POST \/_standin\/customers\/([^/]+)\/test_clock\/advance$/,
    schema: z.strictObject({
      frozen_time: z.int().positive().optional(),
      seconds: z.int().positive().optional(),
    }),
    act: (ctx, id, body) => {
      const customer = ctx.store.require(ctx.scope, "customer", id);
      if ((body.frozen_time === undefined) === (body.seconds === undefined)) {
        throw paramError("Give exactly one of frozen_time and seconds.", "frozen_time");
      }
      const to = body.frozen_time ?? billingNow(ctx.store, customer.id) + body.seconds!;
      return { customer: customer.id, frozen_time: advanceCustomerClock(ctx, customer.id, to) };
    },
  }),
];
