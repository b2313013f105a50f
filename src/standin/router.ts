import type { Handler, Route } from "./context.js";

interface Compiled {
  method: string;
  segments: string[];
  handler: Handler;
}

/** Segment-by-segment matching of "/v1/things/:id/action" patterns; no regex escaping pitfalls. */
export class Router {
  readonly #routes: Compiled[];

  constructor(routes: readonly Route[]) {
    this.#routes = routes.map((r) => ({ method: r.method, segments: r.path.split("/"), handler: r.handler }));
  }

  /** `pattern` is the route as declared ("/v1/refunds/:id"): the endpoint rate limits count. */
  match(
    method: string,
    path: string,
  ): { handler: Handler; pathParams: Record<string, string>; pattern: string } | undefined {
    const parts = path.split("/");
    for (const route of this.#routes) {
      if (route.method !== method || route.segments.length !== parts.length) continue;
      const pathParams: Record<string, string> = {};
      const ok = route.segments.every((seg, i) => {
        const part = parts[i] ?? "";
        if (seg.startsWith(":")) {
          if (part === "") return false;
          try {
            pathParams[seg.slice(1)] = decodeURIComponent(part);
            return true;
          } catch {
            return false; // malformed escape: no route matches, so Stripe's 404
          }
        }
        return seg === part;
      });
      if (ok) return { handler: route.handler, pathParams, pattern: route.segments.join("/") };
    }
    return undefined;
  }
}
