import { CommandPost } from "./command-post.js";
import type { CommandTransport, TransportHandlers } from "./transport.js";

/** Response header of the first request: the secret every later poll presents. */
const SECRET_HEADER = "X-Poll-Secret";

/**
 * Long-polling from `/connection/poll` (its first URL: stream-url.ts), for networks where
 * neither a WebSocket nor an event stream gets through. The first request connects and
 * subscribes and answers at once (the connect reply, the subscribe replies); then one poll at
 * a time waits until the hub has something (newline-separated JSON) or answers empty when its
 * wait is over. Commands go with POSTs to `/connection/emulation` (command-post.ts) under the
 * same secret as the polls; their replies come with the polls.
 *
 * Unlike SSE, fetch reads a refused request's body: the hub's `{"error":{...}}` of a refused
 * first request is reported as a message (then the close), so the client learns why.
 */
export class LongPollTransport implements CommandTransport {
  readonly name = "longpoll";
  private readonly abort = new AbortController();
  private readonly commands: CommandPost | null = null;
  private ended = false;

  /** Throws when there is no fetch in this environment. */
  constructor(
    url: string,
    fetchImpl: typeof fetch | undefined,
    private readonly handlers: Pick<TransportHandlers, "onMessage" | "onClose">,
  ) {
    if (!fetchImpl) throw new Error("no fetch in this environment");
    this.commands = new CommandPost(url, fetchImpl, this.abort.signal, (reason) => this.end(reason));
    void this.run(url, fetchImpl);
  }

  /** Sends one command line (POST /connection/emulation, once the first answer gave the secret). */
  send(line: string): void {
    this.commands?.send(line);
  }

  close(): void {
    this.abort.abort();
  }

  /** The connection is over, by the polls or by a command request: reported once. */
  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.abort.abort();
    this.handlers.onClose({ code: 0, reason });
  }

  private async run(url: string, fetchImpl: typeof fetch): Promise<void> {
    const signal = this.abort.signal;
    try {
      const first = await fetchImpl(url, { signal, cache: "no-store" });
      const text = await first.text();
      if (signal.aborted) return;
      if (!first.ok) {
        if (text.trimStart().startsWith("{")) this.handlers.onMessage(text);
        return this.end(`long poll refused: HTTP ${first.status}`);
      }
      const client = clientIdOf(text);
      const secret = first.headers.get(SECRET_HEADER);
      this.handlers.onMessage(text);
      if (signal.aborted) return;
      if (!client || !secret) return this.end(`long poll: no client id or ${SECRET_HEADER} header (a proxy that drops it?)`);
      this.commands?.ready(client, secret);
      const poll = new URL(url);
      poll.search = "";
      poll.searchParams.set("client", client);
      poll.searchParams.set("secret", secret);
      for (;;) {
        const res = await fetchImpl(poll, { signal, cache: "no-store" });
        const body = await res.text();
        if (signal.aborted) return;
        // 404: the session is gone (closed by the hub after its disconnect push, or reaped).
        if (!res.ok) return this.end(`long poll ended: HTTP ${res.status}`);
        // An empty answer too: the poll's wait ended, the hub is alive.
        this.handlers.onMessage(body);
        if (signal.aborted) return;
      }
    } catch (err) {
      if (signal.aborted) return;
      this.end(`long poll failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** The connection's id, from the connect reply among the first answer's lines. */
function clientIdOf(text: string): string {
  for (const line of text.split("\n")) {
    if (!line.includes('"connect"')) continue;
    try {
      const msg = JSON.parse(line) as { connect?: { client?: string } };
      if (msg.connect?.client) return msg.connect.client;
    } catch {
      // the client reports malformed lines when it handles the message
    }
  }
  return "";
}
