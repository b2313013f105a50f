import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { freePort } from "../../scripts/free-port.js";

const ROOT = new URL("../../", import.meta.url).pathname;

/** `src/web.ts` as its own process, as production runs it (several may share one Redis). */
export interface WebProc {
  url: string;
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export { freePort };

export async function spawnWeb(env: Record<string, string>): Promise<WebProc> {
  const port = await freePort();
  const proc = spawn(process.execPath, ["--import", "tsx", "src/web.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: WebProc["lines"] = [];
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  let buf = "";
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          lines.push(parsed);
          if (parsed.msg === "web listening") resolve();
        } catch {
          /* not JSON */
        }
      }
    });
    void exited.then(() => reject(new Error(`web exited early: ${stderr.slice(0, 2000)}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    proc,
    lines,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** One request on its own connection, optionally from a chosen local address (127.0.0.x). */
export function send(
  url: string,
  method: string,
  path: string,
  o: { headers?: Record<string, string>; body?: string; localAddress?: string } = {},
): Promise<Answer> {
  const target = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method,
        headers: { connection: "close", ...o.headers },
        ...(o.localAddress && { localAddress: o.localAddress }),
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}
