import WebSocket from "ws";

/** A test WebSocket client speaking the JSON protocol; records everything it receives. */
export class TestWsClient {
  readonly messages: any[] = [];
  closeCode: number | null = null;
  closeReason = "";
  private nextId = 1;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      for (const line of data.toString().split("\n")) if (line.trim()) this.messages.push(JSON.parse(line));
      this.wake();
    });
    ws.on("close", (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
    ws.on("error", () => undefined);
  }

  /** `options`: headers of the upgrade request (Cookie, Origin...), as a browser would send them. */
  static async open(url: string, options?: WebSocket.ClientOptions): Promise<TestWsClient> {
    const ws = new WebSocket(url, options);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new TestWsClient(ws);
  }

  /** Opens and sends connect; resolves with the connect result. */
  static async connect(url: string, token?: string): Promise<TestWsClient> {
    const c = await TestWsClient.open(url);
    const r = await c.call({ connect: token ? { token } : {} });
    if (r.error) throw new Error(`connect failed: ${JSON.stringify(r.error)}`);
    return c;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  sendRaw(text: string | Buffer): void {
    this.ws.send(text);
  }

  /** Sends one command with a fresh id and waits for its reply. */
  async call(cmd: Record<string, unknown>, timeoutMs = 5000): Promise<any> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, ...cmd }));
    return this.waitFor((m) => m.id === id, timeoutMs);
  }

  /** Waits for a received message matching `pred`. */
  async waitFor(pred: (m: any) => boolean, timeoutMs = 5000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (Date.now() > end) throw new Error(`timed out; received: ${JSON.stringify(this.messages).slice(0, 2000)}`);
      if (this.closeCode !== null) throw new Error(`closed (${this.closeCode} ${this.closeReason}) while waiting`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (this.closeCode === null) {
      if (Date.now() > end) throw new Error("not closed in time");
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closeCode;
  }

  pubs(channel?: string): any[] {
    return this.messages.filter((m) => m.push?.pub && (!channel || m.push.channel === channel)).map((m) => m.push.pub);
  }

  close(): void {
    this.ws.close();
  }
}
