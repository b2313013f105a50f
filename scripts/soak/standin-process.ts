/**
 * The stand-in (Stripe) as a process of its own in the soak, so that Stripe answers at its own
 * pace however busy the soak's harness is (on a 2-core machine a single process holding both
 * was starved, and Coffer met a Stripe that timed out). The soak starts it with an IPC channel
 * (standin-handle.ts) and asks it, as it would ask Stripe's Dashboard, for the events created so
 * far; deliveries are the soak's (delivery.ts), so the stand-in delivers nothing itself.
 *   argv[2]: JSON of { webhookSecret, connectWebhookSecret, availableAfterS }
 */
import { startStandin } from "../../src/standin/index.js";

const opts = JSON.parse(process.argv[2] ?? "{}") as {
  webhookSecret: string;
  connectWebhookSecret: string;
  availableAfterS: number;
};
const logger = {
  info: () => undefined,
  warn: (o: object, m?: string) => process.stdout.write(`${JSON.stringify({ ...o, msg: m })}\n`),
};
const standin = await startStandin({ ...opts, rateLimits: "test", logger });
standin.setWebhook(undefined);

type StandinRequest =
  { id: number; op: "events"; since: number } | { id: number; op: "stats" } | { id: number; op: "close" };

process.on("message", (m: StandinRequest) => {
  const reply = (result: unknown) => process.send?.({ id: m.id, result });
  switch (m.op) {
    case "events":
      return reply(standin.events(m.since));
    case "stats": {
      const requests = standin.requests();
      return reply({ requests: requests.length, rateLimited: requests.filter((r) => r.rateLimited).length });
    }
    case "close":
      return void standin.close().then(() => (reply(true), process.exit(0)));
  }
});
// The soak gone (even killed) means this stand-in is no one's: never outlive it.
process.on("disconnect", () => process.exit(0));
process.send?.({ ready: { url: standin.url, host: standin.host, port: standin.port } });
