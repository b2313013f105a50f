import { z } from "zod";
import type { ApiContext } from "../context.js";
import { createContext } from "../context.js";
import type { ControlReply } from "../control.js";
import { StripeApiError, errorPayload } from "../errors.js";
import type { Runtime } from "../runtime.js";
import { PLATFORM } from "../state.js";
import { BILLING_CONTROLS } from "./billing-controls.js";
import { CONNECT_CONTROLS } from "./connect-controls.js";
import { clearBankDebit, failBankDebit } from "./bank-debit-flow.js";
import { closeDispute, openDispute, updateDispute } from "./dispute-flow.js";
import { DISPUTE_REASONS } from "./disputes.js";
import { settleRefund } from "./refund-flow.js";

/** control.ts's JSON body parser, passed in so this file does not import control.ts at runtime. */
export type BodyParser = <T>(
  schema: z.ZodType<T>,
  raw: string,
) => { ok: true; data: T } | { ok: false; reply: ControlReply };

export interface LifecycleControl<T> {
  /** Matches `METHOD /path`; group 1 is the object id. */
  pattern: RegExp;
  schema: z.ZodType<T>;
  /**
   * Act as the connected account the id names, so events carry `account`: the account object
   * lives on the platform, but Stripe reports changes to it on the account itself.
   */
  actAsAccount?: boolean;
  act(ctx: ApiContext, id: string, body: T): object;
}

// Declared through this helper so each entry's body type is checked against its schema.
function control<T>(c: LifecycleControl<T>): LifecycleControl<unknown> {
  return c as LifecycleControl<unknown>;
}

/**
 * Stripe's side of refund, dispute and bank-debit lifecycles, which no API call can trigger: the
 * card network settling or bouncing a refund, a cardholder's bank opening and deciding a dispute
 * (and an appeal of it), a bank clearing or returning a debit.
 */
const CONTROLS: readonly LifecycleControl<unknown>[] = [
  control({
    pattern: /^POST \/_standin\/refunds\/([^/]+)\/succeed$/,
    schema: z.strictObject({}),
    act: (ctx, id) => settleRefund(ctx, ctx.store.require(ctx.scope, "refund", id), "succeeded"),
  }),
  control({
    pattern: /^POST \/_standin\/refunds\/([^/]+)\/fail$/,
    schema: z.strictObject({ failure_reason: z.string().min(1).optional() }),
    act: (ctx, id, body) =>
      settleRefund(ctx, ctx.store.require(ctx.scope, "refund", id), "failed", body.failure_reason),
  }),
  control({
    pattern: /^POST \/_standin\/charges\/([^/]+)\/dispute$/,
    schema: z.strictObject({
      amount: z.int().positive().optional(),
      reason: z.enum(DISPUTE_REASONS).optional(),
      inquiry: z.boolean().optional(),
      prevented: z.boolean().optional(),
    }),
    act: (ctx, id, body) => openDispute(ctx, ctx.store.require(ctx.scope, "charge", id), body),
  }),
  control({
    pattern: /^POST \/_standin\/disputes\/([^/]+)\/update$/,
    schema: z.strictObject({
      status: z.enum([
        "needs_response",
        "under_review",
        "warning_needs_response",
        "warning_under_review",
        "appeal_needs_response",
        "appeal_under_review",
      ]),
    }),
    act: (ctx, id, body) => updateDispute(ctx, ctx.store.require(ctx.scope, "dispute", id), body.status),
  }),
  control({
    pattern: /^POST \/_standin\/disputes\/([^/]+)\/close$/,
    schema: z.strictObject({ outcome: z.enum(["won", "lost"]) }),
    act: (ctx, id, body) => closeDispute(ctx, ctx.store.require(ctx.scope, "dispute", id), body.outcome),
  }),
  control({
    // The customer's bank pays a bank debit (`py_…`) days after it was made.
    pattern: /^POST \/_standin\/charges\/([^/]+)\/succeed$/,
    schema: z.strictObject({}),
    act: (ctx, id) => clearBankDebit(ctx, ctx.store.require(ctx.scope, "charge", id)),
  }),
  control({
    // ...or returns it (ACH return codes map to Stripe's failure codes).
    pattern: /^POST \/_standin\/charges\/([^/]+)\/fail$/,
    schema: z.strictObject({
      failure_code: z
        .enum(["insufficient_funds", "account_closed", "no_account", "debit_not_authorized"])
        .optional(),
    }),
    act: (ctx, id, body) =>
      failBankDebit(
        ctx,
        ctx.store.require(ctx.scope, "charge", id),
        body.failure_code ?? "insufficient_funds",
      ),
  }),
  ...CONNECT_CONTROLS,
  ...BILLING_CONTROLS,
];

/**
 * Runs a matching control in whichever account holds the object. Events it emits carry no request,
 * as Stripe's own (not API-triggered) events do. Returns undefined when no control matches.
 */
export function handleLifecycleControl(
  rt: Runtime,
  route: string,
  rawBody: string,
  parse: BodyParser,
): ControlReply | undefined {
  for (const c of CONTROLS) {
    const raw = c.pattern.exec(route)?.[1];
    if (raw === undefined) continue;
    const id = decodeURIComponent(raw);
    const body = parse(c.schema, rawBody);
    if (!body.ok) return body.reply;
    const scope = c.actAsAccount ? id : (rt.store.scopeOf(id) ?? PLATFORM);
    const ctx = createContext(rt, {
      pathParams: { id },
      params: {},
      account: scope === PLATFORM ? undefined : scope,
      requestId: null,
      idempotencyKey: undefined,
    });
    try {
      return { status: 200, body: c.act(ctx, id, body.data) };
    } catch (err) {
      if (err instanceof StripeApiError) return { status: err.status, body: errorPayload(err) };
      throw err;
    }
  }
  return undefined;
}
