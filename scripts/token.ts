import jwt from "jsonwebtoken";
import { loadConfigOrExit } from "../src/config.js";

/** `npm run token -- <sub> [admin]`: prints a one-hour HS256 token signed with AUTH_JWT_SECRET, for local use. */
const config = loadConfigOrExit();
const [sub, role] = process.argv.slice(2);
if (!sub) {
  process.stderr.write("usage: npm run token -- <user-id> [admin]\n");
  process.exit(2);
}
process.stdout.write(
  `${jwt.sign(role === "admin" ? { role: "admin" } : {}, config.AUTH_JWT_SECRET, { algorithm: "HS256", subject: sub, expiresIn: 3600 })}\n`,
);
