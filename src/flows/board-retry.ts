import type { Job } from "bullmq";
import { getEvent } from "../db/stores/events.js";
import { DomainError } from "../ledger/errors.js";
import type { JobData, QueueName } from "../queue/names.js";
import type { Queues } from "../queue/queues.js";
import type { FlowDeps } from "./deps.js";
import { replayEvent } from "./replay-event.js";

type Deps = FlowDeps & { queues: Queues };
interface Who {
  actor: string;
  requestId: string;
}

/**
 * Bull Board's Retry, made to mean what it says for an event job. The job only claims its
 * event row, so re-running the job of a `failed` event finds the row final and skips it:
 * the board turns green while the event stays failed. Such a retry re-opens the event
 * through the admin replay instead (re-open, audit `event.replay`, re-add the job). A retry
 * whose event is `processed` would change nothing, so it is refused and says so. A job that
 * is not an event's, or whose event is still open, is the board's to retry (null).
 */
export async function retryEventJob(
  deps: Deps,
  r: Who & { queue: QueueName; jobId: string },
): Promise<"replayed" | null> {
  const job = await deps.queues[r.queue].getJob(r.jobId);
  if (!job) return null; // the board answers 404 itself
  const decision = await decideFor(deps, job);
  if (decision.kind === "board") return null;
  if (decision.kind === "processed") {
    throw new DomainError(
      "event_not_replayable",
      `event ${decision.eventId} is already processed: retrying its job would change nothing, so nothing was retried`,
      { event_id: decision.eventId, event_status: "processed" },
    );
  }
  await replay(deps, r, decision.eventId, r.jobId);
  return "replayed";
}

/** How many jobs one read of the state takes. */
const PAGE = 100;

/**
 * The board's "Retry all" on one state of a queue: each event job as above, except that a
 * processed event's job is counted as skipped rather than refusing the whole batch.
 *
 * Replayed and retried jobs leave the state; a processed event's job stays where it was. So
 * the read moves past the jobs that stayed: after a page, the `offset` jobs before it and the
 * ones of it that stayed are all looked at, and the next page starts after them. (Reading the
 * head again and again ends once a whole page stays, and never reaches the jobs behind it.)
 * A job that fails meanwhile lands at the head, before the offset: it is not this click's,
 * and at worst pushes looked-at jobs back into the next page, where `seen` counts them as
 * staying. It ends at the tail (an empty page). Bounded by the jobs in the state at the
 * click: without such arrivals each pass takes a whole page of new jobs, so twice the passes
 * those need is a cap that only a queue failing jobs faster than the board reads them meets.
 */
export async function retryAllJobs(
  deps: Deps,
  r: Who & { queue: QueueName; state: "failed" | "completed" },
): Promise<{ retried: number; skipped: number; replayed: number }> {
  const out = { retried: 0, skipped: 0, replayed: 0 };
  const queue = deps.queues[r.queue];
  const atClick = await queue.getJobCountByTypes(r.state);
  const seen = new Set<string>();
  let offset = 0;
  for (let pass = 0; pass < 2 * Math.ceil(atClick / PAGE) + 2; pass++) {
    const page = await queue.getJobs([r.state], offset, offset + PAGE - 1);
    if (page.length === 0) break;
    let stayed = 0;
    for (const job of page) {
      if (seen.has(`${job.id}`)) {
        stayed++;
        continue;
      }
      seen.add(`${job.id}`);
      const decision = await decideFor(deps, job);
      if (decision.kind === "processed") {
        out.skipped++;
        stayed++;
      } else if (decision.kind === "replay") {
        await replay(deps, r, decision.eventId, `${job.id}`);
        out.replayed++;
      } else {
        await job.retry(r.state);
        out.retried++;
      }
    }
    offset += stayed;
  }
  return out;
}

type Decision =
  { kind: "board" } | { kind: "processed"; eventId: string } | { kind: "replay"; eventId: string };

async function decideFor(deps: Deps, job: Job<JobData>): Promise<Decision> {
  const eventId = "eventId" in job.data ? job.data.eventId : undefined;
  if (typeof eventId !== "string") return { kind: "board" };
  const row = await getEvent(deps.db, eventId);
  if (row?.status === "processed") return { kind: "processed", eventId };
  // replayEvent takes ignored ones too, or says why not (no queue handles the type).
  if (row?.status === "failed" || row?.status === "ignored") return { kind: "replay", eventId };
  return { kind: "board" }; // still open: the job claims it as usual
}

async function replay(deps: Deps, who: Who & { queue: QueueName }, eventId: string, jobId: string) {
  await replayEvent(deps, {
    eventId,
    actor: who.actor,
    requestId: who.requestId,
    reason: `Bull Board retry of ${who.queue} job ${jobId}`,
  });
}
