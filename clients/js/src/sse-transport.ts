import { CommandPost } from "./command-post.js";
import type { CommandTransport, TransportHandlers } from "./transport.js";

/**
 * One event stream from `/connection/sse` (its URL: stream-url.ts): the connect reply, the
 * subscribe replies and the pushes arrive as events, one JSON line each; `{}` events are
 * pings. With `emulation=1` the hub first sends a `session` event (the client id and the
 * session's secret: EventSource cannot read response headers), and commands go with fetch
 * POSTs to `/connection/emulation` (command-post.ts); their replies arrive on the stream.
 */
export class SseTransport implements CommandTransport {
  readonly name = "sse";
  private readonly es: EventSource;
  private readonly abort = new AbortController();
  private readonly commands: CommandPost | null;

  /** Throws when the stream cannot even be created (no EventSource in this environment, a bad URL). */
  constructor(url: string, Impl: typeof EventSource | undefined, handlers: Pick<TransportHandlers, "onMessage" | "onClose">, fetchImpl?: typeof fetch) {
    if (!Impl) throw new Error("no EventSource in this environment");
    const streamUrl = new URL(url);
    if (fetchImpl) streamUrl.searchParams.set("emulation", "1");
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      this.close();
      handlers.onClose({ code: 0, reason });
    };
    this.commands = fetchImpl ? new CommandPost(url, fetchImpl, this.abort.signal, end) : null;
    const es = new Impl(streamUrl.toString());
    es.addEventListener("session", (ev: MessageEvent) => {
      try {
        const s = JSON.parse(String(ev.data)) as { client?: string; secret?: string };
        if (s.client && s.secret) this.commands?.ready(s.client, s.secret);
      } catch {
        // not ours: commands then wait and time out
      }
    });
    es.onmessage = (ev: MessageEvent) => handlers.onMessage(String(ev.data));
    // EventSource would retry by itself with one Last-Event-ID; the client reconnects itself
    // instead, so every channel resumes from its own position, with backoff. EventSource does
    // not show the HTTP error of a refused stream: the client learns only that it closed.
    es.onerror = () => end("event stream closed");
    this.es = es;
  }

  /** Sends one command line (POST /connection/emulation); without fetch, it is dropped and times out. */
  send(line: string): void {
    this.commands?.send(line);
  }

  close(): void {
    this.es.close();
    this.abort.abort();
  }
}
