import type {
  BroadcastRequest,
  BroadcastResponse,
  ChannelsRequest,
  ChannelsResponse,
  DisconnectRequest,
  DisconnectResponse,
  EraseUserRequest,
  EraseUserResponse,
  HistoryRemoveRequest,
  HistoryRemoveResponse,
  HistoryRequest,
  HistoryResponse,
  InfoRequest,
  InfoResponse,
  PresenceRequest,
  PresenceResponse,
  PresenceStatsRequest,
  PresenceStatsResponse,
  PublishRequest,
  PublishResponse,
  PublishStreamRequest,
  PublishStreamResponse,
  SubscribeRequest,
  SubscribeResponse,
  UnsubscribeRequest,
  UnsubscribeResponse,
} from "../gen/realtime/v1/hub.js";
import { validateChannel } from "../channel.js";
import { errBadRequest, errNotAvailable, toHubError, type HubError } from "../errors.js";
import { countCode } from "../node-counters.js";
import type { Subscriber } from "../hub.js";
import type { HubNode } from "../node.js";
import type { RpcWorkers } from "../rpc/rpc-workers.js";
import type { ChannelEvent } from "../channel-event.js";
import { randomUUID } from "node:crypto";
import { checkIdempotencyKey } from "../idempotency/idempotency-store.js";
import { MAX_CHANNELS_PATTERN_LENGTH } from "../channels-query.js";

/** Most channels in one Broadcast or one Subscribe stream. */
export const MAX_CHANNELS_PER_REQUEST = 1000;

/**
 * The server API (HubService) for one node, independent of how it is called: the gRPC
 * service and the HTTP API are thin wrappers around it, so both behave the same.
 */
export class ServerApi {
  constructor(private readonly node: HubNode) {}

  /** An error the gRPC or HTTP edge answers a call with: counted (realtime_api_errors_total) and returned as a HubError. */
  failed(api: "grpc" | "http", err: unknown): HubError {
    const e = toHubError(err);
    countCode(this.node.counters.apiErrors[api], e.code);
    return e;
  }

  /** HandleRpc: the workers of this node, which a backend's stream joins and leaves. */
  get rpcWorkers(): RpcWorkers {
    return this.node.rpc.workers;
  }

  async publish(req: PublishRequest): Promise<PublishResponse> {
    checkIdempotencyKey(req.idempotencyKey);
    return this.publishOne(req);
  }

  /** Publish without the key check: Broadcast checks the caller's key once, then extends it per channel. */
  private async publishOne(req: PublishRequest): Promise<PublishResponse> {
    validateChannel(req.channel);
    const pos = await this.node.publish(req.channel, req.data, {
      tags: req.tags,
      skipHistory: req.skipHistory,
      idempotencyKey: req.idempotencyKey,
    });
    return { offset: pos.offset, epoch: pos.epoch };
  }

  async broadcast(req: BroadcastRequest): Promise<BroadcastResponse> {
    if (req.channels.length === 0) throw errBadRequest("channels is required");
    if (req.channels.length > MAX_CHANNELS_PER_REQUEST)
      throw errBadRequest(`at most ${MAX_CHANNELS_PER_REQUEST} channels per broadcast`);
    checkIdempotencyKey(req.idempotencyKey);
    const results = await Promise.all(
      req.channels.map(async (channel) => {
        try {
          const r = await this.publishOne({
            channel,
            data: req.data,
            idempotencyKey: req.idempotencyKey ? req.idempotencyKey + channel : "",
            skipHistory: req.skipHistory,
            tags: req.tags,
          });
          return { channel, offset: r.offset, epoch: r.epoch, error: undefined };
        } catch (err) {
          return { channel, offset: "0", epoch: "", error: toHubError(err).toWire() };
        }
      }),
    );
    return { results };
  }

  /** One message of a PublishStream: failures become the ack's error, never end the stream. */
  async publishStreamMessage(req: PublishStreamRequest): Promise<PublishStreamResponse> {
    try {
      if (!req.publish) throw errBadRequest("publish is required");
      const r = await this.publish(req.publish);
      return { id: req.id, offset: r.offset, epoch: r.epoch, error: undefined };
    } catch (err) {
      return { id: req.id, offset: "0", epoch: "", error: toHubError(err).toWire() };
    }
  }

  /**
   * Starts a backend subscription; `send` gets every event until the returned function is
   * called. `send` returning false means the consumer is not keeping up (the caller decides).
   */
  async subscribe(req: SubscribeRequest, send: (ev: SubscribeResponse) => void): Promise<() => Promise<void>> {
    if (req.channels.length === 0) throw errBadRequest("channels is required");
    if (req.channels.length > MAX_CHANNELS_PER_REQUEST)
      throw errBadRequest(`at most ${MAX_CHANNELS_PER_REQUEST} channels per subscription`);
    const channels = [...new Set(req.channels)];
    // Every name is checked before anything is subscribed, so a bad one fails the whole call.
    for (const c of channels) {
      const ns = this.node.options(c);
      // Silence would look like nobody ever joins: say that the namespace does not send them.
      if (req.joinLeave && !ns.joinLeave)
        throw errNotAvailable(`join/leave events are off for ${JSON.stringify(c)} (namespace option joinLeave)`);
    }
    const grpc = this.node.counters.transports.grpc; // realtime_messages_out_total, realtime_connections
    const listener: Subscriber = {
      id: "backend-" + randomUUID(),
      deliver({ channel, publication, join, leave }: ChannelEvent) {
        if (publication) {
          if (req.clientPublicationsOnly && !publication.info) return;
          send({ channel, publication });
          grpc.out++;
        } else if (req.joinLeave && join) send({ channel, join: { info: join } });
        else if (req.joinLeave && leave) send({ channel, leave: { info: leave } });
      },
      // A backend stream has no position to recover from: it reads History when it must.
      lost() {},
    };
    const done: string[] = [];
    try {
      for (const c of channels) {
        await this.node.subscribe(c, listener);
        done.push(c);
      }
      grpc.streams++;
      grpc.subscriptions += channels.length;
    } catch (err) {
      // The stream fails as a whole: nothing stays subscribed for a listener nobody stops.
      for (const c of done) await this.node.unsubscribe(c, listener).catch(() => undefined);
      throw err;
    }
    return async () => {
      grpc.streams--;
      grpc.subscriptions -= channels.length;
      for (const c of channels) await this.node.unsubscribe(c, listener);
    };
  }

  async presence(req: PresenceRequest): Promise<PresenceResponse> {
    return { presence: await this.node.presence(req.channel) };
  }

  async presenceStats(req: PresenceStatsRequest): Promise<PresenceStatsResponse> {
    return this.node.presenceStats(req.channel);
  }

  async history(req: HistoryRequest): Promise<HistoryResponse> {
    if (req.limit < 0) throw errBadRequest("limit must not be negative");
    const r = await this.node.history(req.channel, { since: req.since, limit: req.limit, reverse: req.reverse });
    return { publications: r.publications, offset: r.position.offset, epoch: r.position.epoch };
  }

  async historyRemove(req: HistoryRemoveRequest): Promise<HistoryRemoveResponse> {
    await this.node.historyRemove(req.channel);
    return {};
  }

  /** Cluster-wide: every node's channels, counts summed (see HubNode.clusterChannels). */
  async channels(req: ChannelsRequest): Promise<ChannelsResponse> {
    if (req.pattern.length > MAX_CHANNELS_PATTERN_LENGTH)
      throw errBadRequest(`pattern longer than ${MAX_CHANNELS_PATTERN_LENGTH} characters`);
    return this.node.clusterChannels(req.pattern);
  }

  async info(_req: InfoRequest): Promise<InfoResponse> {
    return { nodes: this.node.clusterInfo() };
  }

  async disconnect(req: DisconnectRequest): Promise<DisconnectResponse> {
    if (!req.user && !req.client) throw errBadRequest("user is required");
    this.node.disconnectUser(req);
    return {};
  }

  /** Cluster-wide: the user's publications and presence, in every store (see HubNode.eraseUser). */
  async eraseUser(req: EraseUserRequest): Promise<EraseUserResponse> {
    return this.node.eraseUser(req);
  }

  async unsubscribe(req: UnsubscribeRequest): Promise<UnsubscribeResponse> {
    if (!req.user) throw errBadRequest("user is required");
    validateChannel(req.channel);
    this.node.unsubscribeUser(req);
    return {};
  }
}
