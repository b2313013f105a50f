import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { paramError } from "../errors.js";
import type { FormObject } from "../form.js";
import { newId, nowSeconds, randomBase62 } from "../ids.js";
import { LIST_PARAMS, paginate } from "../list.js";
import * as p from "../params.js";
import { PLATFORM } from "../state.js";
import { bankAccountObject } from "./external-account-flow.js";

type Session = Stripe.FinancialConnections.Session;
type BankLink = Stripe.FinancialConnections.Account;

declare module "../state.js" {
  interface ObjectTypes {
    "financial_connections.session": Stripe.FinancialConnections.Session;
    "financial_connections.account": Stripe.FinancialConnections.Account;
  }
}

const PERMISSIONS = ["balances", "ownership", "payment_method", "transactions"];
const SUBCATEGORIES = ["checking", "credit_card", "line_of_credit", "mortgage", "savings"];

function missing(param: string): Error {
  return paramError(`Missing required param: ${param}.`, param, "parameter_missing");
}

function stringsFrom(params: FormObject, name: string, allowed: readonly string[], param = name): string[] {
  const values = p.optStringArray(params, name) ?? [];
  const bad = values.find((v) => !allowed.includes(v));
  if (bad !== undefined) throw paramError(`Invalid ${param}: must be one of ${allowed.join(", ")}`, param);
  return values;
}

/** Whose bank account this is: a connected account (checked) or a customer (taken on trust). */
function accountHolder(ctx: ApiContext): Stripe.FinancialConnections.Session.AccountHolder {
  const holder = p.optObject(ctx.params, "account_holder");
  if (holder === undefined) throw missing("account_holder");
  const type = p.optEnum(holder, "type", ["account", "customer"]);
  if (type === undefined) throw missing("account_holder[type]");
  if (type === "customer") {
    // The stand-in has no Customers API, so any cus_… id is accepted.
    const customer = p.optString(holder, "customer");
    if (customer === undefined) throw missing("account_holder[customer]");
    return { type, customer };
  }
  const id = p.optString(holder, "account");
  if (id === undefined) throw missing("account_holder[account]");
  return { type, account: ctx.store.require(PLATFORM, "account", id, "account_holder[account]").id };
}

/** `filters[countries][]` (older) or `filters[country]`; both end up as the one country. */
function filters(ctx: ApiContext): Stripe.FinancialConnections.Session.Filters | undefined {
  const given = p.optObject(ctx.params, "filters");
  if (given === undefined) return undefined;
  const countries = p.optStringArray(given, "countries");
  const subcategories = stringsFrom(
    given,
    "account_subcategories",
    SUBCATEGORIES,
    "filters[account_subcategories]",
  );
  return {
    account_subcategories: subcategories.length > 0 ? subcategories : null,
    country: p.optString(given, "country") ?? countries?.[0] ?? null,
  };
}

/** A session the frontend opens with its client secret; no account is linked until the control. */
function createSession(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["account_holder", "permissions", "filters", "prefetch", "return_url", "expand"]);
  const permissions = stringsFrom(ctx.params, "permissions", PERMISSIONS);
  if (permissions.length === 0) throw missing("permissions");
  const prefetch = stringsFrom(ctx.params, "prefetch", ["balances", "ownership", "transactions"]);
  const holder = accountHolder(ctx);
  const sessionFilters = filters(ctx);
  const returnUrl = p.optString(ctx.params, "return_url");
  const session: Session = {
    id: newId("fcsess"),
    object: "financial_connections.session",
    account_holder: holder,
    accounts: { object: "list", data: [], has_more: false, url: "/v1/financial_connections/accounts" },
    client_secret: `fcsess_client_secret_${randomBase62(24)}`,
    ...(sessionFilters ? { filters: sessionFilters } : {}),
    livemode: false,
    permissions,
    prefetch,
    ...(returnUrl === undefined ? {} : { return_url: returnUrl }),
  };
  return ctx.store.insert(ctx.scope, "financial_connections.session", session);
}

export interface LinkInput {
  institution_name?: string | undefined;
  last4?: string | undefined;
}

/**
 * The user picked a bank account in the session. Like Stripe, the linked account carries only
 * the institution and last4; `account_numbers` stays null and no routing number exists at all.
 */
export function linkBankAccount(ctx: ApiContext, session: Session, input: LinkInput): BankLink {
  const institution = input.institution_name ?? "StripeBank";
  const link: BankLink = {
    id: newId("fca"),
    object: "financial_connections.account",
    account_holder: session.account_holder ? { ...session.account_holder } : null,
    account_numbers: null,
    balance: null,
    balance_refresh: null,
    category: "cash",
    created: nowSeconds(),
    display_name: `${institution} Checking`,
    institution_name: institution,
    last4: input.last4 ?? "6789",
    livemode: false,
    ownership: null,
    ownership_refresh: null,
    permissions: [...session.permissions],
    status: "active",
    subcategory: "checking",
    subscriptions: [],
    supported_payment_method_types: ["us_bank_account"],
    transaction_refresh: null,
  };
  ctx.store.insert(ctx.scope, "financial_connections.account", link);
  // The stored account itself, so a later disconnect shows on the session too.
  session.accounts.data.push(link);
  if (payoutSession(session)) session.bank_account_token = bankAccountToken(ctx, link);
  ctx.emit("financial_connections.account.created", link);
  return link;
}

/**
 * A session for a connected account with the `payment_method` permission is Stripe's Connect-payouts
 * integration (stripe.js `collectBankAccountToken`): linking yields a single-use bank-account token
 * on the session, which the platform attaches with `POST /v1/accounts/:id/external_accounts`.
 */
const payoutSession = (session: Session) =>
  session.account_holder?.type === "account" && session.permissions.includes("payment_method");

function bankAccountToken(ctx: ApiContext, link: BankLink): Stripe.Token {
  const token: Stripe.Token = {
    id: newId("btok"),
    object: "token",
    bank_account: bankAccountObject({
      bankName: link.institution_name,
      last4: link.last4 ?? "6789",
      currency: "usd", // Financial Connections links US accounts only
      country: "US",
    }),
    client_ip: null,
    created: nowSeconds(),
    livemode: false,
    type: "bank_account",
    used: false,
  };
  return ctx.store.insert(PLATFORM, "token", token);
}

function retrieveSession(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "financial_connections.session", pathParam(ctx, "id"));
}

function retrieveAccount(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(ctx.scope, "financial_connections.account", pathParam(ctx, "id"));
}

function listAccounts(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "session", "account_holder"]);
  const sessionId = p.optString(ctx.params, "session");
  const holder = p.optObject(ctx.params, "account_holder") ?? {};
  const account = p.optString(holder, "account");
  const customer = p.optString(holder, "customer");
  const inSession = sessionId
    ? ctx.store.require(ctx.scope, "financial_connections.session", sessionId, "session").accounts.data
    : undefined;
  const items = ctx.store.sequence(ctx.scope, "financial_connections.account");
  return paginate(
    items,
    ctx.params,
    "/v1/financial_connections/accounts",
    "financial_connections.account",
    (a) =>
      (inSession === undefined || inSession.includes(a)) &&
      (account === undefined || a.account_holder?.account === account) &&
      (customer === undefined || a.account_holder?.customer === customer),
  );
}

/** The user or the platform cut the link; Stripe tells with its own event, once. */
function disconnect(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  const link = ctx.store.require(ctx.scope, "financial_connections.account", pathParam(ctx, "id"));
  if (link.status === "disconnected") return link;
  const previous = link.status;
  link.status = "disconnected";
  ctx.emit("financial_connections.account.disconnected", link, { status: previous });
  return link;
}

const BASE = "/v1/financial_connections";
export const financialConnectionsRoutes: Route[] = [
  { method: "POST", path: `${BASE}/sessions`, handler: createSession },
  { method: "GET", path: `${BASE}/sessions/:id`, handler: retrieveSession },
  { method: "GET", path: `${BASE}/accounts`, handler: listAccounts },
  { method: "GET", path: `${BASE}/accounts/:id`, handler: retrieveAccount },
  { method: "POST", path: `${BASE}/accounts/:id/disconnect`, handler: disconnect },
];
