import jwt from "jsonwebtoken";
import { loadConfigOrExit } from "../src/config.js";
import { OFFLINE_STRIPE_API_BASE } from "../src/runtime.js";

/**
 * `npm run demo:top-up [user] [amount_minor] [currency]`: against a running
 * offline system (`npm start`), tops a wallet up end to end: creates the top-up
 * through the API, pays it as the customer would (via the stand-in), and polls
 * the wallet until Stripe's webhook has been applied.
 */
const config = loadConfigOrExit();
const [user = "demo-user", amountArg = "2500", currency = "usd"] = process.argv.slice(2);
const base = process.env.COFFER_URL ?? `http://127.0.0.1:${config.PORT}`;
const standin = config.STRIPE_API_BASE ?? OFFLINE_STRIPE_API_BASE;
const token = jwt.sign({}, config.AUTH_JWT_SECRET, { algorithm: "HS256", subject: user, expiresIn: 600 });
const auth = { authorization: `Bearer ${token}` };

const before = await balance();
const res = await fetch(`${base}/v1/wallet/top-ups`, {
  method: "POST",
  headers: { ...auth, "content-type": "application/json", "idempotency-key": `demo-${Date.now()}` },
  body: JSON.stringify({ amount_minor: Number(amountArg), currency }),
});
const topUp = (await res.json()) as { payment_intent_id?: string; error?: unknown };
if (res.status !== 201 || !topUp.payment_intent_id)
  throw new Error(`top-up refused: ${res.status} ${JSON.stringify(topUp)}`);
console.log(`created top-up`, topUp);

const paid = await fetch(`${standin}/_standin/payment_intents/${topUp.payment_intent_id}/pay`, {
  method: "POST",
});
if (!paid.ok) throw new Error(`stand-in refused the payment: ${paid.status} ${await paid.text()}`);
console.log(`paid ${topUp.payment_intent_id} at the stand-in; waiting for the webhook to be applied`);

for (let i = 0; i < 100; i++) {
  const now = await balance();
  if (now > before) {
    console.log(`wallet of ${user}: ${currency} available_minor ${before} -> ${now}`);
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 200));
}
throw new Error("the wallet was not credited within 20 s: are the worker and stand-in running (npm start)?");

async function balance(): Promise<number> {
  const r = await fetch(`${base}/v1/wallet`, { headers: auth });
  const body = (await r.json()) as { balances: Array<{ currency: string; available_minor: number }> };
  return body.balances.find((b) => b.currency === currency)?.available_minor ?? 0;
}
