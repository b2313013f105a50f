import { syncBankAccount, syncExternalAccount } from "./bank-accounts.js";
import { syncAccount } from "./connect.js";
import { syncDispute } from "./dispute.js";
import { syncPrice, syncProduct } from "./plans.js";
import { syncSetupIntent } from "./setup-intent.js";
import { bookInvoicePayment } from "./subscription-revenue.js";
import { syncInvoice, syncSubscription } from "./subscription-sync.js";
import { syncPayout, syncTransfer } from "./withdrawal-outcome.js";
import { syncCharge, syncPaymentIntent, type EventCtx } from "./payment-intent.js";
import { syncChargeRefunds, syncRefund } from "./refund.js";
import type { FlowDeps } from "./deps.js";
import { assertNever, type Command } from "../stripe/commands.js";

/**
 * Runs one command. The switch is exhaustive: a new command kind fails to compile until handled here.
 * Only the credit commands finish their event inside their own (one) transaction; every other
 * flow may commit several times, and its event is finished by the job after the last.
 */
export async function handleCommand(deps: FlowDeps, command: Command, own: EventCtx): Promise<string> {
  const { finish: _finish, ...ev } = own;
  switch (command.kind) {
    case "sync_payment_intent":
      return syncPaymentIntent(deps, command.paymentIntentId, own, command.snapshot);
    case "sync_charge":
      return syncCharge(deps, command.charge, own);
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
    case "sync_price":
      return syncPrice(deps, { view: command.price, deleted: command.deleted, asOf: command.eventCreated });
    case "sync_product":
      return syncProduct(deps, command.product, command.eventCreated);
    case "sync_setup_intent":
      return syncSetupIntent(deps, command.setupIntent, command.eventCreated, ev);
    case "sync_subscription":
      return syncSubscription(deps, command.subscription, command.eventCreated, command.trialWillEnd);
    case "sync_invoice":
      return syncInvoice(deps, command.invoice, command.eventCreated, command.paymentFailed);
    case "book_invoice_payment":
      return bookInvoicePayment(deps, command.payment, ev);
    case "none":
      ev.log.info({ reason: command.reason }, "event needs no action");
      return "no_action";
    default:
      return assertNever(command);
  }
}
