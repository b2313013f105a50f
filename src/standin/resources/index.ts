import type { Route } from "../context.js";
import { accountLinkRoutes } from "./account-links.js";
import { accountRoutes } from "./accounts.js";
import { balanceTransactionRoutes } from "./balance-transactions.js";
import { balanceRoutes } from "./balance.js";
import { chargeRoutes } from "./charges.js";
import { customerRoutes } from "./customers.js";
import { disputeRoutes } from "./disputes.js";
import { eventRoutes } from "./events.js";
import { externalAccountRoutes } from "./external-accounts.js";
import { financialConnectionsRoutes } from "./financial-connections.js";
import { invoicePaymentRoutes } from "./invoice-payments.js";
import { invoiceRoutes } from "./invoices.js";
import { paymentIntentRoutes } from "./payment-intents.js";
import { payoutRoutes } from "./payouts.js";
import { priceRoutes } from "./prices.js";
import { productRoutes } from "./products.js";
import { refundRoutes } from "./refunds.js";
import { setupIntentRoutes } from "./setup-intents.js";
import { subscriptionRoutes } from "./subscriptions.js";
import { transferRoutes } from "./transfers.js";

/**
 * Every API route the stand-in serves. Adding a resource is a new file in this folder exporting
 * its routes (and augmenting ObjectTypes in ../state.ts for its object) plus one line here.
 */
export const apiRoutes: readonly Route[] = [
  ...paymentIntentRoutes,
  ...chargeRoutes,
  ...balanceTransactionRoutes,
  ...balanceRoutes,
  ...eventRoutes,
  ...refundRoutes,
  ...disputeRoutes,
  ...accountRoutes,
  ...externalAccountRoutes,
  ...accountLinkRoutes,
  ...transferRoutes,
  ...payoutRoutes,
  ...financialConnectionsRoutes,
  // Billing: plans, customers, saved cards, subscriptions and their invoices.
  ...productRoutes,
  ...priceRoutes,
  ...customerRoutes,
  ...setupIntentRoutes,
  ...subscriptionRoutes,
  ...invoiceRoutes,
  ...invoicePaymentRoutes,
];
