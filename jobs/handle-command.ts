import { syncPaymentIntent, type EventCtx } from "../src/flows/payment-intent.js";
import type { FlowDeps } from "../src/flows/deps.js";
import { assertNever, type Command } from "../src/stripe/commands.js";

/** Runs one command. The switch is exhaustive: a new command kind fails to compile until handled here. */
export async function handleCommand(deps: FlowDeps, command: Command, ev: EventCtx): Promise<string> {
  switch (command.kind) {
    case "sync_payment_intent":
      return syncPaymentIntent(deps, command.paymentIntentId, ev);
    case "none":
      ev.log.info({ reason: command.reason }, "event needs no action");
      return "no_action";
    default:
      return assertNever(command);
  }
}
