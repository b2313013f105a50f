import type Stripe from "stripe";
import type { Config } from "../config.js";
import type { GroupCommit } from "../db/group-commit.js";
import type { Db } from "../db/knex.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";

/** What flows need from the outside world; passed in, never imported, so tests wire real instances. */
export interface FlowDeps {
  config: Config;
  db: Db;
  stripe: Stripe;
  metrics: Metrics;
  log: Logger;
  /**
   * The clock for what a flow decides by elapsed time (how long a withdrawal has waited for
   * funds). Absent: the system clock. A test passes one it can move to simulate days.
   */
  now?: () => Date;
  /** A worker's group commit (src/db/group-commit.ts); absent, each flow commits on its own. */
  groupCommit?: GroupCommit;
}

export const nowOf = (deps: Pick<FlowDeps, "now">): Date => deps.now?.() ?? new Date();
