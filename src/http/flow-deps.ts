import type { Context } from "koa";
import type { FlowDeps } from "../flows/deps.js";
import type { AppDeps } from "./deps.js";

/** The flows' dependencies for one request, logging through the request's logger (with its request_id). */
export const flowDeps = (deps: AppDeps, ctx: Context): FlowDeps => ({
  config: deps.config,
  db: deps.db,
  stripe: deps.stripe,
  metrics: deps.metrics,
  log: ctx.state.log,
});
