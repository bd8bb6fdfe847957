import type { Transport, TransportHandlers } from "./transport.js";

/**
 * One receive-only event stream from `/connection/sse` (its URL: stream-url.ts): the connect
 * reply, the subscribe replies and the pushes arrive as events, one JSON line each; `{}`
 * events are pings.
 */
export class SseTransport implements Transport {
  readonly name = "sse";
  private readonly es: EventSource;

  /** Throws when the stream cannot even be created (no EventSource in this environment, a bad URL). */
  constructor(url: string, Impl: typeof EventSource | undefined, handlers: Pick<TransportHandlers, "onMessage" | "onClose">) {
    if (!Impl) throw new Error("no EventSource in this environment");
    const es = new Impl(url);
    es.onmessage = (ev: MessageEvent) => handlers.onMessage(String(ev.data));
    // EventSource would retry by itself with one Last-Event-ID; the client reconnects itself
    // instead, so every channel resumes from its own position, with backoff. EventSource does
    // not show the HTTP error of a refused stream: the client learns only that it closed.
    es.onerror = () => {
      es.close();
      handlers.onClose({ code: 0, reason: "event stream closed" });
    };
    this.es = es;
  }

  close(): void {
    this.es.close();
  }
}
