import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { connectUrls } from "../src/flows/connect.js";
import { signRefreshToken } from "../src/flows/connect-link-token.js";
import { api } from "./support/api.js";
import { startSystem, type System } from "./support/system.js";
import { JWT_SECRET, tokenFor } from "./support/tokens.js";

/**
 * The pages an account link sends the user's browser to, over HTTP: return_url and refresh_url
 * lead to Coffer's /connect/return and /connect/refresh under PUBLIC_URL, and the refresh page
 * renews the link only for the account its signed token names. A browser there has no bearer
 * token, so everything else about the token is refused and nothing is asked of Stripe.
 */
const PUBLIC_URL = "http://coffer.test:8080";
let sys: System;
beforeAll(async () => {
  sys = await startSystem({ workers: 0, env: { PUBLIC_URL: `${PUBLIC_URL}/` } });
});
afterAll(async () => sys?.stop());

/** POST /v1/connect/account, and the two URLs inside the Stripe link it returns. */
async function onboard(user: string) {
  const res = await api(sys.url, "POST", "/v1/connect/account", { user });
  expect(res.status).toBe(200);
  const link = new URL(res.body.onboarding_url as string);
  return {
    accountId: res.body.account_id as string,
    returnUrl: link.searchParams.get("return_url")!,
    refreshUrl: new URL(link.searchParams.get("refresh_url")!),
  };
}

/** A page as a browser asks for it, against this test's server (PUBLIC_URL is not resolvable). */
const open = (pathAndQuery: string, headers: Record<string, string> = {}) =>
  fetch(`${sys.url}${pathAndQuery}`, { redirect: "manual", headers });
const accountLinkCalls = () => sys.standin.requests().filter((r) => r.path === "/v1/account_links").length;
const refresh = (token: string) => open(`/connect/refresh?token=${encodeURIComponent(token)}`);

describe("Connect return and refresh pages", () => {
  it("derives both URLs from PUBLIC_URL, or from PORT without it", async () => {
    const { returnUrl, refreshUrl } = await onboard("pages-1");
    expect(returnUrl).toBe(`${PUBLIC_URL}/connect/return`);
    expect(`${refreshUrl.origin}${refreshUrl.pathname}`).toBe(`${PUBLIC_URL}/connect/refresh`);
    expect(refreshUrl.searchParams.get("token")).toMatch(/^v1\.[\w-]+\.[\w-]+$/);

    const bare = loadConfig({ PORT: "4321" });
    expect(connectUrls(bare)).toEqual({
      returnUrl: "http://127.0.0.1:4321/connect/return",
      refreshUrl: "http://127.0.0.1:4321/connect/refresh",
    });
    const own = loadConfig({ CONNECT_RETURN_URL: "https://app.example/done" });
    expect(connectUrls(own).returnUrl).toBe("https://app.example/done");
  });

  it("serves the return page to a browser without a token", async () => {
    const res = await open("/connect/return");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toMatch(/Your details are with Stripe/);
  });

  it("renews the link for the token's account and redirects there", async () => {
    const { accountId, refreshUrl } = await onboard("pages-2");
    const before = accountLinkCalls();
    const res = await open(`${refreshUrl.pathname}${refreshUrl.search}`);
    expect(res.status).toBe(303);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const next = new URL(res.headers.get("location")!);
    expect(next.pathname).toBe(`/_standin/onboarding/${accountId}`);
    expect(accountLinkCalls()).toBe(before + 1);
    // The new link renews itself the same way, with a token of its own for the same account.
    const again = new URL(next.searchParams.get("refresh_url")!);
    expect((await open(`${again.pathname}${again.search}`)).status).toBe(303);
  });

  it("refuses a token for someone else's account, forged, expired or unknown, asking Stripe nothing", async () => {
    const alice = await onboard("pages-alice");
    const bob = await onboard("pages-bob");
    const bobToken = bob.refreshUrl.searchParams.get("token")!;
    const [, , bobMac] = bobToken.split(".");
    const nowS = Math.floor(Date.now() / 1000);
    const aliceClaims = Buffer.from(JSON.stringify({ a: alice.accountId, e: nowS + 3600 })).toString(
      "base64url",
    );
    const before = accountLinkCalls();

    const cases: Array<[string, string, number, string]> = [
      ["bob's signature on alice's account", `v1.${aliceClaims}.${bobMac}`, 400, "connect_link_invalid"],
      [
        "another secret's",
        signRefreshToken("some-other-secret-16", alice.accountId, nowS),
        400,
        "connect_link_invalid",
      ],
      ["a JWT (the bearer kind)", tokenFor("pages-alice"), 400, "connect_link_invalid"],
      ["garbage", "v1.%%%.x", 400, "connect_link_invalid"],
      ["expired", signRefreshToken(JWT_SECRET, alice.accountId, nowS - 3601), 400, "connect_link_expired"],
      [
        "an account Coffer never made",
        signRefreshToken(JWT_SECRET, "acct_unknown123", nowS),
        404,
        "not_found",
      ],
    ];
    for (const [what, token, status, code] of cases) {
      const res = await refresh(token);
      expect(res.status, what).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code, what).toBe(code);
    }
    const missing = await open("/connect/refresh");
    expect(missing.status).toBe(422);
    expect(accountLinkCalls()).toBe(before);
  });

  it("a refresh token is no bearer token", async () => {
    const { refreshUrl } = await onboard("pages-3");
    const token = refreshUrl.searchParams.get("token")!;
    const res = await open("/v1/wallet", { authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
  });
});
