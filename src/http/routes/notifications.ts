import type Router from "@koa/router";
import { z } from "zod";
import { listNotifications, markDelivered, type NotificationRow } from "../../db/stores/notifications.js";
import type { AppDeps } from "../deps.js";
import { httpError } from "../errors.js";
import { operation, route } from "../openapi/operation.js";
import { list } from "../present.js";
import { codedAs, pageQuery, toPage } from "../validate.js";

/** Ids are the table's sequence; as text in the API, like every other id. */
const isId = (s: string | undefined): s is string => s !== undefined && /^[1-9]\d{0,15}$/.test(s);

export const Notification = z
  .object({
    id: z.string().meta({
      description:
        "Unique; the last one of a page is the cursor of the next (ids within a page need not increase)",
    }),
    user_id: z.string(),
    kind: z.enum(["trial_will_end", "invoice_payment_failed"]),
    subscription_id: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()).meta({
      description:
        "trial_will_end: {subscription_id, price_id, trial_end}; invoice_payment_failed: {invoice_id, subscription_id, amount_due_minor, currency, attempt_count, next_payment_attempt}",
    }),
    created_at: z.iso.datetime(),
    delivered_at: z.iso.datetime().nullable(),
  })
  .meta({ id: "Notification" });

const present = (n: NotificationRow): z.output<typeof Notification> => ({
  id: String(n.id),
  user_id: n.user_id,
  kind: n.kind,
  subscription_id: n.subscription_id,
  payload: n.payload,
  created_at: n.created_at.toISOString(),
  delivered_at: n.delivered_at?.toISOString() ?? null,
});

export const adminListNotifications = operation({
  method: "get",
  path: "/admin/notifications",
  operationId: "adminListNotifications",
  summary: "What the main application should tell users (a trial ending, a failed payment), oldest first",
  description:
    "One per fact, however often Stripe sent its event. Page with `starting_after`; acknowledge each with POST /admin/notifications/{id}/delivered. " +
    "A notification is listed once the transaction that recorded it, and every older one still running, has ended, and in the order of those transactions; so one that commits late is listed after the cursor, never skipped. `has_more` is false while the newest wait for that: poll again.",
  security: "admin",
  query: z.strictObject({
    ...pageQuery,
    delivered: codedAs(
      z
        .enum(["true", "false"])
        .meta({ description: "Only acknowledged (true) or unacknowledged (false) ones" }),
      "invalid_field",
      "delivered must be true or false",
    ).optional(),
  }),
  responses: { 200: { description: "A page of notifications", body: list(Notification) } },
  errors: [400],
});

export const adminMarkNotificationDelivered = operation({
  method: "post",
  path: "/admin/notifications/{id}/delivered",
  operationId: "adminMarkNotificationDelivered",
  summary:
    "Acknowledge a notification as delivered; idempotent: a repeat answers the same, first, delivered_at",
  security: "admin",
  params: { id: "The notification's id" },
  responses: { 200: { description: "The notification, delivered", body: Notification } },
  errors: [404],
});

export function notificationRoutes(router: Router, deps: AppDeps): void {
  route(router, adminListNotifications, async (ctx, { query }) => {
    const page = toPage(query);
    if (page.startingAfter !== undefined && !isId(page.startingAfter))
      throw httpError("invalid_cursor", "starting_after must be an id from a previous page", {
        param: "starting_after",
      });
    const { data, hasMore } = await listNotifications(deps.db, {
      limit: page.limit,
      ...(page.startingAfter !== undefined && { startingAfter: Number(page.startingAfter) }),
      ...(query.delivered !== undefined && { delivered: query.delivered === "true" }),
    });
    ctx.body = { data: data.map(present), has_more: hasMore };
  });

  route(router, adminMarkNotificationDelivered, async (ctx, { params }) => {
    const row = isId(params.id) ? await markDelivered(deps.db, Number(params.id)) : undefined;
    if (!row) throw httpError("not_found", "no such notification");
    ctx.body = present(row);
  });
}
