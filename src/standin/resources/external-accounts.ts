import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { StripeApiError, invalidRequest, paramError, resourceMissing } from "../errors.js";
import { LIST_PARAMS, paginate } from "../list.js";
import * as p from "../params.js";
import { PLATFORM } from "../state.js";
import { externalAccountProvided } from "./account-flow.js";
import {
  attachExternalAccount,
  changeExternalAccount,
  findExternalAccount,
  removeExternalAccount,
} from "./external-account-flow.js";

declare module "../state.js" {
  interface ObjectTypes {
    token: Stripe.Token;
  }
}

/**
 * `/v1/accounts/:account/external_accounts`: the platform managing a connected account's payout
 * destinations. Only tokens are taken (a `btok_` from a Financial Connections session, as Stripe's
 * Connect-payouts integration makes them): the stand-in never handles bank numbers.
 */

function accountOf(ctx: ApiContext): Stripe.Account {
  return ctx.store.require(PLATFORM, "account", pathParam(ctx, "account"), "account");
}

/**
 * Stripe lets the platform change external accounts only where it collects the requirements
 * (`controller.requirement_collection: application`, as for Custom accounts); an Express account's
 * holder manages them in Stripe's onboarding and dashboard. Stripe allows a create before the first
 * account link; Coffer links at once, so the stand-in refuses from the start (its own wording).
 */
function requirePlatformCollects(account: Stripe.Account): void {
  if (account.controller?.requirement_collection === "application") return;
  throw invalidRequest(
    `The external accounts of ${account.id} are managed by the account holder with Stripe ` +
      "(controller.requirement_collection is `stripe`): your platform cannot create, update or delete them.",
  );
}

function externalAccountOf(ctx: ApiContext, account: Stripe.Account): Stripe.ExternalAccount {
  const id = pathParam(ctx, "id");
  const found = findExternalAccount(account, id);
  if (!found) throw resourceMissing("external account", id);
  return found;
}

/** A single-use token, as Stripe has it: unknown is a 404, used is `token_already_used`. */
function takeToken(ctx: ApiContext): Stripe.Token {
  const given = ctx.params.external_account;
  if (typeof given !== "string" || given === "") {
    if (given === undefined)
      throw paramError("Missing required param: external_account.", "external_account", "parameter_missing");
    throw paramError(
      "The stand-in takes external accounts as tokens only (btok_…); it never handles bank numbers.",
      "external_account",
    );
  }
  const token = ctx.store.get(PLATFORM, "token", given);
  if (!token) throw resourceMissing("token", given, "external_account");
  if (token.used) {
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      code: "token_already_used",
      message: `You cannot use a Stripe token more than once: ${token.id}.`,
      param: "external_account",
    });
  }
  if (!token.bank_account) throw paramError("Only bank account tokens are supported.", "external_account");
  return token;
}

function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["external_account", "default_for_currency", "metadata", "expand"]);
  const account = accountOf(ctx);
  const defaultForCurrency = p.optBool(ctx.params, "default_for_currency");
  const metadata = p.applyMetadata({}, ctx.params);
  requirePlatformCollects(account);
  const token = takeToken(ctx);
  token.used = true;
  // The token's bank account becomes the account's: same id, now with `account` set.
  const bank = attachExternalAccount(ctx, account, token.bank_account as Stripe.BankAccount, {
    defaultForCurrency,
    metadata,
  });
  externalAccountProvided(ctx, account);
  return bank;
}

function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "object"]);
  const account = accountOf(ctx);
  const kind = p.optEnum(ctx.params, "object", ["bank_account", "card"]);
  const items = account.external_accounts?.data ?? [];
  const sequence = { items, indexOf: (id: string) => items.findIndex((x) => x.id === id) };
  return paginate(
    sequence,
    ctx.params,
    `/v1/accounts/${account.id}/external_accounts`,
    "external account",
    (x) => kind === undefined || x.object === kind,
  );
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return externalAccountOf(ctx, accountOf(ctx));
}

/**
 * Metadata, and becoming the default for its currency. Any update re-enables an `errored` bank
 * account, as Stripe's reference says ("performing an update call without ... changes").
 */
function update(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    "default_for_currency",
    "metadata",
    "account_holder_name",
    "account_holder_type",
    "account_type",
    "expand",
  ]);
  const account = accountOf(ctx);
  const bank = externalAccountOf(ctx, account);
  const defaultForCurrency = p.optBool(ctx.params, "default_for_currency");
  if (defaultForCurrency === false) {
    const message =
      "To stop using this account as the default, make another one the default for its currency.";
    throw paramError(message, "default_for_currency");
  }
  requirePlatformCollects(account);
  return changeExternalAccount(ctx, account, bank, {
    defaultForCurrency,
    metadata:
      ctx.params.metadata === undefined ? undefined : p.applyMetadata(bank.metadata ?? {}, ctx.params),
    status: bank.status === "errored" ? "new" : undefined,
  });
}

function remove(ctx: ApiContext): object {
  p.allowOnly(ctx.params, []);
  const account = accountOf(ctx);
  const bank = externalAccountOf(ctx, account);
  requirePlatformCollects(account);
  return removeExternalAccount(ctx, account, bank);
}

const BASE = "/v1/accounts/:account/external_accounts";
export const externalAccountRoutes: Route[] = [
  { method: "POST", path: BASE, handler: create },
  { method: "GET", path: BASE, handler: list },
  { method: "GET", path: `${BASE}/:id`, handler: retrieve },
  { method: "POST", path: `${BASE}/:id`, handler: update },
  { method: "DELETE", path: `${BASE}/:id`, handler: remove },
];
