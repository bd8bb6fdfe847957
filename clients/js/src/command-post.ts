/** Most command lines the hub takes in one request (MAX_EMULATION_COMMANDS). */
const MAX_LINES = 64;
/** Largest body the client batches lines into, counted as `line.length` counts (as the WebSocket's frames). */
const MAX_BATCH_CHARS = 32 * 1024;

/**
 * The command half of an SSE or long-poll connection: command lines go to the hub with
 * `POST /connection/emulation?client=<id>&secret=<secret>` (beside the stream's endpoint), and
 * their replies come back on the stream like any push. One request at a time, so the hub runs
 * the commands in the order they were written; lines written meanwhile share the next one.
 * Lines written before the session is known (`ready`) wait for it.
 */
export class CommandPost {
  private lines: string[] = [];
  private target: URL | null = null;
  private busy = false;

  constructor(
    /** The stream's URL: the command endpoint is its sibling, `emulation`. */
    private readonly streamUrl: string,
    private readonly fetchImpl: typeof fetch,
    private readonly signal: AbortSignal,
    /** A request the hub refused or that failed: the connection is over (its commands fail with it). */
    private readonly failed: (reason: string) => void,
  ) {}

  /** The session's id and secret are known: send what waited. */
  ready(client: string, secret: string): void {
    const target = new URL("emulation", this.streamUrl);
    target.search = "";
    target.searchParams.set("client", client);
    target.searchParams.set("secret", secret);
    this.target = target;
    void this.flush();
  }

  send(line: string): void {
    this.lines.push(line);
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.busy || !this.target || this.lines.length === 0 || this.signal.aborted) return;
    this.busy = true;
    let n = 0;
    let chars = 0;
    // At least one line, however long: the hub says 413 for one it will not take.
    while (n < this.lines.length && n < MAX_LINES && (n === 0 || chars + this.lines[n]!.length <= MAX_BATCH_CHARS)) chars += this.lines[n++]!.length + 1;
    const body = this.lines.splice(0, n).join("\n");
    try {
      // text/plain: a simple request, no CORS preflight.
      const res = await this.fetchImpl(this.target, { method: "POST", body, headers: { "Content-Type": "text/plain" }, signal: this.signal, cache: "no-store" });
      if (this.signal.aborted) return;
      if (!res.ok) return this.failed(`command request refused: HTTP ${res.status}${await errorOf(res)}`);
    } catch (err) {
      if (!this.signal.aborted) this.failed(`command request failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    } finally {
      this.busy = false;
    }
    void this.flush();
  }
}

/** ` (message)` of the hub's `{"error":{...}}` body, or "". */
async function errorOf(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { message?: string } };
    return body.error?.message ? ` (${body.error.message})` : "";
  } catch {
    return "";
  }
}
