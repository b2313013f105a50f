import { Runtime } from "../../src/standin/runtime.js";
import { closeServer, createStandinServer, listen } from "../../src/standin/server.js";
import { BENCH_STANDIN_LIMITS } from "./reconcile-env.js";
import { STANDIN_CONFIG, dayFromJson, seedStandin } from "./reconcile-seed.js";

/**
 * The reconciliation bench's stand-in in a process of its own (the default), so
 * the bench process holds only what the reconciliation holds, as a worker would,
 * and Stripe's side of the day is not counted in its memory. It fills its store
 * with the day from BENCH_RECONCILE_DAY, then announces its address and the
 * day's net on one line.
 */
const text = process.env.BENCH_RECONCILE_DAY;
if (!text) throw new Error("BENCH_RECONCILE_DAY is not set");
const rt = new Runtime(
  STANDIN_CONFIG,
  { info: () => {}, warn: () => {} },
  { rateLimits: BENCH_STANDIN_LIMITS },
);
const { netMinor } = await seedStandin(rt, dayFromJson(text));
const server = createStandinServer(rt);
const { host, port } = await listen(server, 0);
rt.store.publicUrl = `http://${host}:${port}`;
process.stdout.write(`stand-in ready ${JSON.stringify({ url: rt.store.publicUrl, netMinor })}\n`);
process.once("SIGTERM", () => {
  rt.webhooks.close();
  void closeServer(server).finally(() => process.exit(0));
});
