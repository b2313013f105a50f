import type Stripe from "stripe";
import type { ApiContext, Route } from "../context.js";
import { pathParam } from "../context.js";
import { StripeApiError, paramError } from "../errors.js";
import { newId, nowSeconds } from "../ids.js";
import type { FormObject } from "../form.js";
import { LIST_PARAMS, paginate, rangeFilter } from "../list.js";
import * as p from "../params.js";
import { PLATFORM } from "../state.js";

declare module "../state.js" {
  interface ObjectTypes {
    account: Stripe.Account;
  }
}

/** What Stripe asks of a new US individual before it enables charges and payouts. */
export const ONBOARDING_REQUIREMENTS = [
  "business_profile.mcc",
  "business_profile.url",
  "external_account",
  "individual.address.city",
  "individual.address.line1",
  "individual.address.postal_code",
  "individual.address.state",
  "individual.dob.day",
  "individual.dob.month",
  "individual.dob.year",
  "individual.email",
  "individual.first_name",
  "individual.last_name",
  "individual.phone",
  "individual.ssn_last_4",
  "tos_acceptance.date",
  "tos_acceptance.ip",
];

// Capabilities Coffer can ask for; anything else is refused so a typo cannot pass silently.
const CAPABILITIES = ["transfers", "card_payments"] as const;
type Capability = (typeof CAPABILITIES)[number];

const EURO = "at be de es fi fr ie it lu nl pt".split(" ");
const CURRENCY_OF: Record<string, string> = { US: "usd", GB: "gbp", CA: "cad", AU: "aud", JP: "jpy" };

function defaultCurrency(country: string): string {
  return EURO.includes(country.toLowerCase()) ? "eur" : (CURRENCY_OF[country] ?? "usd");
}

export function requirements(due: string[]): Stripe.Account.Requirements {
  return {
    alternatives: [],
    current_deadline: null,
    currently_due: [...due],
    disabled_reason: due.length > 0 ? "requirements.past_due" : null,
    errors: [],
    eventually_due: [...due],
    past_due: [],
    pending_verification: [],
  };
}

const CONTROLLERS: Record<string, Stripe.Account.Controller> = {
  express: {
    fees: { payer: "application_express" },
    is_controller: true,
    losses: { payments: "application" },
    requirement_collection: "stripe",
    stripe_dashboard: { type: "express" },
    type: "application",
  },
  custom: {
    fees: { payer: "application_custom" },
    is_controller: true,
    losses: { payments: "application" },
    requirement_collection: "application",
    stripe_dashboard: { type: "none" },
    type: "application",
  },
  standard: { is_controller: true, stripe_dashboard: { type: "full" }, type: "application" },
};

/**
 * `capabilities[transfers][requested]=true` → `{transfers: "inactive"}` until onboarding ends.
 * A Custom account must request what it needs, as Stripe requires of accounts whose platform
 * collects the requirements (the wording is the stand-in's). For Express accounts, none requested
 * means transfers: Coffer's Express accounts exist to receive them.
 */
function requestedCapabilities(ctx: ApiContext, type: string): Stripe.Account.Capabilities {
  const given = p.optObject(ctx.params, "capabilities");
  if (given === undefined && type === "custom") {
    throw paramError(
      "Custom accounts must request at least one capability, e.g. capabilities[transfers][requested]=true.",
      "capabilities",
      "parameter_missing",
    );
  }
  return capabilitiesFrom(given ?? { transfers: { requested: "true" } });
}

function capabilitiesFrom(given: FormObject): Stripe.Account.Capabilities {
  const out: Partial<Record<Capability, "inactive">> = {};
  for (const [name, value] of Object.entries(given)) {
    const capability = CAPABILITIES.find((c) => c === name);
    if (capability === undefined || typeof value !== "object" || Array.isArray(value)) {
      throw paramError(`Invalid capability: ${name}`, `capabilities[${name}]`);
    }
    if (p.optBool(value, "requested") === true) out[capability] = "inactive";
  }
  return out;
}

function create(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [
    "type",
    "country",
    "email",
    "capabilities",
    "metadata",
    "business_type",
    "settings",
    "expand",
  ]);
  const type = p.optEnum(ctx.params, "type", ["express", "custom", "standard"]) ?? "standard";
  const country = (p.optString(ctx.params, "country") ?? "US").toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw paramError(`Invalid country: ${country}`, "country");
  const businessType = p.optEnum(ctx.params, "business_type", ["individual", "company", "non_profit"]);
  const id = newId("acct");
  const account: Stripe.Account = {
    id,
    object: "account",
    business_type: businessType ?? null,
    capabilities: requestedCapabilities(ctx, type),
    charges_enabled: false,
    controller: CONTROLLERS[type],
    country,
    created: nowSeconds(),
    default_currency: defaultCurrency(country),
    details_submitted: false,
    email: p.optString(ctx.params, "email") ?? null,
    external_accounts: {
      object: "list",
      data: [],
      has_more: false,
      url: `/v1/accounts/${id}/external_accounts`,
    },
    future_requirements: requirements([]),
    metadata: p.applyMetadata({}, ctx.params),
    payouts_enabled: false,
    requirements: requirements(ONBOARDING_REQUIREMENTS),
    tos_acceptance: { date: null, ip: null, user_agent: null },
    type,
    // Only the payout schedule is modelled: Stripe's default for connected accounts is automatic
    // daily payouts, which Coffer must switch off to pay each withdrawal itself.
    settings: {
      payouts: { schedule: { interval: payoutInterval(ctx) } },
    } as unknown as Stripe.Account.Settings,
  };
  // Accounts belong to the platform whatever header came along; Stripe sends no event on create.
  return ctx.store.insert(PLATFORM, "account", account);
}

function payoutInterval(ctx: ApiContext): string {
  const settings = ctx.params.settings as { payouts?: { schedule?: { interval?: unknown } } } | undefined;
  const interval = settings?.payouts?.schedule?.interval;
  if (interval === undefined) return "daily";
  if (interval !== "manual" && interval !== "daily" && interval !== "weekly" && interval !== "monthly") {
    throw paramError(
      `Invalid settings[payouts][schedule][interval]: ${String(interval)}`,
      "settings[payouts][schedule][interval]",
    );
  }
  return interval;
}

function retrieve(ctx: ApiContext): object {
  p.allowOnly(ctx.params, ["expand"]);
  return ctx.store.require(PLATFORM, "account", pathParam(ctx, "id"));
}

function list(ctx: ApiContext): object {
  p.allowOnly(ctx.params, [...LIST_PARAMS, "created"]);
  const created = rangeFilter(ctx.params, "created");
  const items = ctx.store.sequence(PLATFORM, "account");
  return paginate(items, ctx.params, "/v1/accounts", "account", (a) => created(a.created ?? 0));
}

/**
 * The connected account named by the `Stripe-Account` header, or undefined for the platform.
 * An unknown account is Stripe's 403 `account_invalid`, which it gives rather than admit whether
 * the account exists.
 */
export function connectedAccount(ctx: ApiContext): Stripe.Account | undefined {
  if (ctx.account === undefined) return undefined;
  const account = ctx.store.get(PLATFORM, "account", ctx.account);
  if (account) return account;
  const message =
    `The provided key 'sk_test_***' does not have access to account '${ctx.account}' ` +
    `(or that account does not exist). Application access may have been revoked.`;
  throw new StripeApiError(403, { type: "invalid_request_error", code: "account_invalid", message }, false);
}

export const accountRoutes: Route[] = [
  { method: "POST", path: "/v1/accounts", handler: create },
  { method: "GET", path: "/v1/accounts", handler: list },
  { method: "GET", path: "/v1/accounts/:id", handler: retrieve },
];
