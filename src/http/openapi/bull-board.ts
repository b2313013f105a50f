import { z } from "zod";
import { BULL_BOARD_PATH, LOGIN_PATH, LOGOUT_PATH } from "../bull-board-session.js";
import { operation } from "./operation.js";

/**
 * Bull Board (src/http/bull-board.ts) is mounted on the app, not on a router: documented here,
 * with the cookie a browser uses and the session pages that set it. Its own /api/* requests
 * are its UI's business and not described; each state-changing one is audited.
 */
operation({
  method: "get",
  path: BULL_BOARD_PATH,
  operationId: "bullBoard",
  summary: "Bull Board: the queues' web UI, for admins; every action it takes is audited",
  description:
    "A browser without a valid cookie is sent to the login page (303); a bearer token works too. Retrying a failed event's job re-opens the event through the admin replay.",
  security: "admin",
  alsoCookie: true,
  mounted: "outside-router",
  responses: {
    200: { description: "The Bull Board page", contentType: "text/html" },
    303: { description: "A browser without a valid cookie: to the login page", headers: ["Location"] },
  },
});

operation({
  method: "get",
  path: LOGIN_PATH,
  operationId: "bullBoardLoginPage",
  summary: "Bull Board's login page: a form for an admin token",
  security: "none",
  mounted: "outside-router",
  responses: { 200: { description: "The form", contentType: "text/html" } },
});

operation({
  method: "post",
  path: LOGIN_PATH,
  operationId: "bullBoardLogin",
  summary:
    "Turns a valid admin token into Bull Board's cookie (HttpOnly, SameSite=Strict, the board's path only)",
  description: "Refused (403) when another site's page sent it.",
  security: "none",
  mounted: "outside-router",
  rawBody: {
    description: "The admin's bearer token",
    schema: z.object({ token: z.string().max(8192) }),
    contentTypes: ["application/x-www-form-urlencoded", "application/json"],
  },
  responses: {
    303: { description: "To the board, with the cookie set", headers: ["Location", "Set-Cookie"] },
  },
  errors: [400, 401, 403, 413],
});

operation({
  method: "post",
  path: LOGOUT_PATH,
  operationId: "bullBoardLogout",
  summary: "Clears Bull Board's cookie",
  security: "none",
  mounted: "outside-router",
  responses: {
    303: { description: "To the login page, the cookie cleared", headers: ["Location", "Set-Cookie"] },
  },
  errors: [403],
});
