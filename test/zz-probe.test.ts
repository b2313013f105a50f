import { it, expect } from "vitest";
import { startSystem } from "./support/system.js";
import { sign } from "./support/events.js";
import http from "node:http";

it("probe chunked 413", async () => {
  const sys = await startSystem({ workers: 0 });
  try {
    const body = JSON.stringify({ pad: "x".repeat(2 * 1024 * 1024) });
    const u = new URL(sys.url);
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path: "/webhooks/stripe", method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": sign(body), "transfer-encoding": "chunked" } }, (r) => {
        let t = ""; r.on("data", (d) => (t += d)); r.on("end", () => resolve({ status: r.statusCode!, text: t }));
      });
      req.on("error", reject);
      for (let i = 0; i < body.length; i += 65536) req.write(body.slice(i, i + 65536));
      req.end();
    });
    console.log(res.status, res.text.slice(0, 200));
    expect(res.status).toBe(413);
  } finally { await sys.stop(); }
});
