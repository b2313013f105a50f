import { syncBankAccount, syncExternalAccount } from "./bank-accounts.js";
import { syncAccount } from "./connect.js";
import { syncDispute } from "./dispute.js";
import { syncPayout, syncTransfer } from "./withdrawal-outcome.js";
import { syncCharge, syncPaymentIntent, type EventCtx } from "./payment-intent.js";
import { syncChargeRefunds, syncRefund } from "./refund.js";
import type { FlowDeps } from "./deps.js";
import { assertNever, type Command } from "../stripe/commands.js";

/** Runs one command. The switch is exhaustive: a new command kind fails to compile until handled here. */
export async function handleCommand(deps: FlowDeps, command: Command, ev: EventCtx): Promise<string> {
  switch (command.kind) {
    case "sync_payment_intent":
      return syncPaymentIntent(deps, command.paymentIntentId, ev, command.snapshot);
    case "sync_charge":
      return syncCharge(deps, command.charge, ev);
    case "sync_refund":
      return syncRefund(deps, command.refund, ev);
    case "sync_charge_refunds":
      return syncChargeRefunds(deps, command.charge, ev);
    case "sync_dispute":
      return syncDispute(deps, command.dispute, command.eventCreated, ev);
    case "sync_account":
      return syncAccount(deps, command.accountId, command.eventCreated);
    case "sync_payout":
      return syncPayout(deps, command.payoutId, command.account, ev);
    case "sync_transfer":
      return syncTransfer(deps, command.transferId, ev);
    case "sync_external_account":
      return syncExternalAccount(deps, command, ev);
    case "sync_bank_account":
      return syncBankAccount(deps, command.financialAccountId);
    case "none":
      ev.log.info({ reason: command.reason }, "event needs no action");
      return "no_action";
    default:
      return assertNever(command);
  }
}
