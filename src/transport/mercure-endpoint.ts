import type { IncomingMessage, ServerResponse } from "node:http";
import type { TokenVerifier } from "../auth/jwt.js";
import type { Config } from "../config.js";
import { errBadRequest, errLimitExceeded } from "../errors.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import { isPattern, patternSupported } from "../mercure/selectors.js";
import { newSubscriberId, subscriptionUpdate } from "../mercure/subscription-events.js";
import { topicToChannel } from "../mercure/topic-channel.js";
import type { HubNode } from "../node.js";
import type { Refusal } from "./connection-limits.js";
import { HttpRequestError, writeHttpError } from "./http-error.js";
import { MercureAuth, mercureToken } from "./mercure-auth.js";
import { handleMercurePublish, publishUpdate } from "./mercure-publish.js";
import { MercureStream } from "./mercure-stream.js";

/** Where Mercure clients find a hub: symfony/mercure's MERCURE_URL ends with it. */
export const MERCURE_PATH = "/.well-known/mercure";

/**
 * The Mercure hub protocol (the era symfony/mercure 0.6 speaks, docs/mercure.md): POST
 * publishes an update, GET streams the updates of topics and topic selectors as SSE. Topics are
 * channels of the mercure namespace (mercure/topic-channel.ts), so WebSocket, SSE and long-poll
 * clients of ours read the same updates, across nodes and brokers; `*` and URI templates read
 * the firehose channel every POST also publishes into.
 */
export class MercureEndpoint {
  private readonly auth: MercureAuth;
  private readonly streams = new Set<MercureStream>();
  private closing = false;

  constructor(
    private readonly node: HubNode,
    verifier: TokenVerifier,
    private readonly config: Pick<Config, "mercureJwtSecret" | "maxChannelsPerClient" | "mercureSubscriptions">,
    /** A connection slot (maxConnections, maxConnectionsPerIp), as SSE streams take one. */
    private readonly acquire: (req: IncomingMessage) => { release: () => void } | { refused: Refusal },
  ) {
    this.auth = new MercureAuth(verifier, config.mercureJwtSecret);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method === "POST") return handleMercurePublish(req, res, this.node, this.auth);
    if (req.method === "GET") return this.subscribe(req, res, url);
    writeHttpError(res, new HttpRequestError(405, ErrorCode.ERROR_CODE_BAD_REQUEST, "use GET to subscribe, POST to publish", { Allow: "GET, POST" }));
  }

  private async subscribe(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const topics = url.searchParams.getAll("topic");
    if (topics.length === 0) throw errBadRequest("topic is required (at least one)");
    // Exact topics are a channel each; `*` and templates match what the firehose carries.
    const patterns = [...new Set(topics.filter(isPattern))];
    const unsupported = patterns.find((p) => !patternSupported(p));
    if (unsupported !== undefined)
      throw errBadRequest(`topic ${JSON.stringify(unsupported)}: URI templates may use {var}, {+var} and {#var} only`);
    const channels = new Set(topics.filter((t) => !isPattern(t)).map(topicToChannel));
    // Each pattern costs a match per update of the firehose: they count like channels.
    if (channels.size + patterns.length > this.config.maxChannelsPerClient)
      throw errLimitExceeded(`at most ${this.config.maxChannelsPerClient} topics and selectors per subscriber (maxChannelsPerClient)`);
    for (const c of channels) this.node.options(c);
    const token = mercureToken(req, url);
    const allowed = token ? (await this.auth.claims(token)).subscribe : [];
    const slot = this.acquire(req);
    if ("refused" in slot) throw slot.refused.error;
    let ended: (() => void) | undefined;
    const stream = new MercureStream(res, this.node, channels, patterns, allowed, (s) => {
      this.streams.delete(s);
      slot.release();
      ended?.();
    });
    this.streams.add(stream);
    req.on("close", () => stream.close());
    const lastEventId = req.headers["last-event-id"] ?? url.searchParams.get("lastEventID") ?? url.searchParams.get("Last-Event-ID") ?? undefined;
    try {
      await stream.start(typeof lastEventId === "string" && lastEventId !== "" ? lastEventId : undefined);
    } catch (err) {
      stream.close();
      throw err;
    }
    if (this.config.mercureSubscriptions && this.streams.has(stream)) ended = this.announce([...new Set(topics)]);
  }

  /**
   * Publishes a subscription event (active) per selector of a stream that started, and returns
   * what publishes the inactive ones when it ends: after the active ones, so a watcher never
   * reads them in the wrong order. Not awaited: a slow broker must not hold the stream back,
   * and a failed event loses only itself (it is logged).
   */
  private announce(selectors: string[]): () => void {
    const subscriber = newSubscriberId();
    const send = (active: boolean) =>
      Promise.all(selectors.map((s) => publishUpdate(this.node, subscriptionUpdate(s, subscriber, active)))).catch((err: unknown) => {
        this.node.log.warn({ err, subscriber }, "could not publish a Mercure subscription event");
      });
    const activated = send(true);
    // At shutdown the node stops too: its subscribers' inactive events are not published.
    return () => void activated.then(() => (this.closing ? undefined : send(false)));
  }

  /** Ends every stream (shutdown): their clients come back, to another node, with Last-Event-ID. */
  close(): void {
    this.closing = true;
    for (const s of [...this.streams]) s.close();
  }
}
