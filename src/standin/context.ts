import type { FormObject } from "./form.js";
import type { Funds } from "./funds.js";
import type { Runtime, StandinConfig } from "./runtime.js";
import { PLATFORM } from "./state.js";
import type { Store } from "./state.js";

/** What a resource handler sees of one API request and of the stand-in. */
export interface ApiContext {
  pathParams: Record<string, string>;
  /** Parsed form body (POST) or query string (GET), bracket nesting resolved. */
  params: FormObject;
  /** Connected account from the `Stripe-Account` header, if any. */
  account: string | undefined;
  /** Store scope: the connected account, or the platform. */
  scope: string;
  store: Store;
  /** Balances per scope and currency, as the balance transactions add up. */
  funds: Funds;
  config: StandinConfig;
  /**
   * Records an event for this request, tagged with its account and request id/idempotency key.
   * `onAccount` names the connected account it happened on when that is not the header's: the
   * platform managing `/v1/accounts/:id/…` causes Connect events on that account.
   */
  emit(type: string, object: object, previousAttributes?: Record<string, unknown>, onAccount?: string): void;
}

/** A handler returns the response body (always 200) or throws StripeApiError. */
export type Handler = (ctx: ApiContext) => object;

export interface Route {
  method: "GET" | "POST" | "DELETE";
  /** Express-style pattern, e.g. "/v1/payment_intents/:id/confirm". */
  path: string;
  handler: Handler;
}

export interface RequestInfo {
  pathParams: Record<string, string>;
  params: FormObject;
  account: string | undefined;
  requestId: string | null;
  idempotencyKey: string | undefined;
}

export function createContext(rt: Runtime, info: RequestInfo): ApiContext {
  const request = { id: info.requestId, idempotency_key: info.idempotencyKey ?? null };
  return {
    pathParams: info.pathParams,
    params: info.params,
    account: info.account,
    scope: info.account ?? PLATFORM,
    store: rt.store,
    funds: rt.funds,
    config: rt.config,
    emit(type, object, previousAttributes, onAccount) {
      rt.emit({ type, object, request, account: onAccount ?? info.account, previousAttributes });
    },
  };
}

/** A path parameter the route pattern guarantees. */
export function pathParam(ctx: ApiContext, name: string): string {
  const value = ctx.pathParams[name];
  if (value === undefined) throw new Error(`route has no :${name} parameter`);
  return value;
}
