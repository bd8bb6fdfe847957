import type { IncomingMessage, ServerResponse } from "node:http";
import type { Timer } from "../clock.js";
import type { Config } from "../config.js";
import { disconnectNoPong, disconnectNormal, errNotFound } from "../errors.js";
import type { SubscribeCommand } from "../gen/realtime/v1/client.js";
import type { HubNode } from "../node.js";
import { Frame } from "../protocol/frame.js";
import { Session } from "../session.js";
import { newSessionSecret, sameSecret, type EmulationSessions } from "./emulation.js";
import { writeHttpError } from "./http-error.js";
import { LongPollTransport } from "./longpoll.js";
import { subscriptionsFrom, type NewSession } from "./receive-only.js";

/** Response header of the first long-poll request: the secret every later poll must present. */
export const POLL_SECRET_HEADER = "X-Poll-Secret";

/**
 * GET /connection/poll: the first request connects and subscribes from the URL and answers
 * at once with the session's secret; later polls (`client` + `secret`) take what queued.
 * Sessions whose client stopped polling are closed (their presence goes too). The secret also
 * lets the client send commands (`emulation`, POST /connection/emulation).
 */
export class LongPollEndpoint {
  private readonly polls = new Map<string, { session: Session; transport: LongPollTransport; secret: string }>();
  private readonly reaper: Timer;

  constructor(
    private readonly node: HubNode,
    private readonly config: Config,
    private readonly newSession: NewSession,
    private readonly emulation: EmulationSessions,
  ) {
    this.reaper = node.clock.setInterval(() => this.reap(), 5000);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const max = this.config.longPollTimeoutSeconds;
    const timeoutMs = Math.min(Number(url.searchParams.get("timeout") ?? max) || 0, max) * 1000;
    const clientId = url.searchParams.get("client");
    if (clientId) {
      const entry = this.polls.get(clientId);
      // The client id is public (presence, join/leave, publication info): only the secret
      // proves the poller owns the session, and a wrong one looks exactly like no session.
      if (!entry || !sameSecret(entry.secret, url.searchParams.get("secret") ?? ""))
        return void writeHttpError(res, errNotFound("unknown or expired long-poll session: connect again"));
      entry.transport.poll(res, timeoutMs);
      if (entry.transport.closed) this.forget(clientId, entry.session);
      return;
    }
    const transport = new LongPollTransport(() => this.node.clock.now());
    const session = this.newSession(transport, req);
    if (!(session instanceof Session)) return void writeHttpError(res, session.error);
    let subs: SubscribeCommand[];
    try {
      subs = subscriptionsFrom(req, url, this.node);
      const result = await session.connect({ token: url.searchParams.get("token") ?? "" });
      session.write(new Frame({ id: 0, error: undefined, connect: result }));
    } catch (err) {
      session.close(disconnectNormal);
      return void writeHttpError(res, err);
    }
    const secret = newSessionSecret();
    this.polls.set(session.id, { session, transport, secret });
    this.emulation.add(session, secret);
    for (let i = 0; i < subs.length; i++) await session.subscribeAndStream(i + 1, subs[i]!);
    res.setHeader(POLL_SECRET_HEADER, secret);
    transport.poll(res, 0);
  }

  close(): void {
    this.node.clock.clear(this.reaper);
  }

  /**
   * Closes sessions whose client stopped polling, and forgets closed ones once their client
   * has taken what was left for it: a session closed by the server (Disconnect, shutdown)
   * keeps its disconnect push until the next poll, or until that poll is overdue.
   */
  private reap(): void {
    const deadline = this.node.clock.now() - (this.config.longPollTimeoutSeconds + this.config.pingIntervalSeconds) * 1000;
    for (const [id, { session, transport }] of this.polls) {
      const overdue = transport.lastPoll < deadline;
      if (overdue && !session.closed) session.close(disconnectNoPong);
      if (overdue || ((transport.closed || session.closed) && transport.queuedBytes() === 0)) this.forget(id, session);
    }
  }

  private forget(id: string, session: Session): void {
    this.polls.delete(id);
    this.emulation.delete(session);
  }
}
