import { Metadata, status, type handleUnaryCall, type ServerDuplexStream, type ServerWritableStream } from "@grpc/grpc-js";
import type { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { ServerApi } from "../api/server-api.js";
import { errLimitExceeded } from "../errors.js";
import type { ClientInfo, Publication } from "../gen/realtime/v1/types.js";
import { HubServiceService, PublishStreamRequest } from "../gen/realtime/v1/hub.js";
import type {
  HandleRpcRequest,
  HandleRpcResponse,
  HubServiceServer,
  PublishStreamResponse,
  SubscribeRequest,
  SubscribeResponse,
} from "../gen/realtime/v1/hub.js";
import { checkApiKey } from "./auth.js";
import { serveRpcWorker } from "./handle-rpc.js";
import { toServiceError } from "./status.js";

/** Publishes of one PublishStream started but not yet acked before the stream stops reading. */
export const MAX_IN_FLIGHT = 1024;
/**
 * Added to each Subscribe event's counted bytes for what eventSize does not measure: offset,
 * epoch and time strings, protobuf and gRPC framing, object headers. Rough on purpose: a flood
 * of tiny events is caught by the events bound.
 */
const SUBSCRIBE_EVENT_OVERHEAD_BYTES = 128;

function infoSize(info: ClientInfo | undefined): number {
  return info ? info.user.length + info.client.length + info.connInfo.length + info.chanInfo.length : 0;
}

function publicationSize(pub: Publication): number {
  let n = pub.data.length + infoSize(pub.info);
  for (const k in pub.tags) n += k.length + pub.tags[k]!.length;
  return n;
}

/**
 * What one event costs a Subscribe stream's backlog, from lengths the event already carries:
 * encoding it again only to measure it would double the work of the publish path. String
 * lengths are UTF-16 units, close enough to bytes for names, ids and tags.
 */
function eventSize(ev: SubscribeResponse): number {
  return (
    SUBSCRIBE_EVENT_OVERHEAD_BYTES +
    ev.channel.length +
    (ev.publication ? publicationSize(ev.publication) : 0) +
    infoSize(ev.join?.info) +
    infoSize(ev.leave?.info)
  );
}

/** A PublishStream message that did not decode: it reaches the handler instead of failing the stream at once. */
const UNDECODABLE = Symbol("undecodable");
type Undecodable = { [UNDECODABLE]: string };
const isUndecodable = (m: unknown): m is Undecodable => typeof m === "object" && m !== null && UNDECODABLE in m;

/**
 * HubService as the server registers it. PublishStream decodes its messages itself: when
 * grpc-js fails to decode one it ends the call with INTERNAL at once, while acks of earlier
 * messages are still being written, and a write after that end left the stream hanging with
 * no status (found by the fuzzer). Here an undecodable message ends the stream in order:
 * the acks of what came before, then INVALID_ARGUMENT.
 */
export const hubServiceDefinition: typeof HubServiceService = {
  ...HubServiceService,
  publishStream: {
    ...HubServiceService.publishStream,
    requestDeserialize: (value: Buffer): PublishStreamRequest => {
      try {
        return PublishStreamRequest.decode(value);
      } catch (err) {
        return { [UNDECODABLE]: err instanceof Error ? err.message : String(err) } as unknown as PublishStreamRequest;
      }
    },
  },
};

/** Resolves when the stream can take more writes, or will never need to (cancelled, failed, closed). */
function writable(call: EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const events = ["drain", "cancelled", "error", "close"] as const;
    const done = () => {
      for (const e of events) call.off(e, done);
      resolve();
    };
    for (const e of events) call.once(e, done);
  });
}

/**
 * HubService over gRPC: thin wrappers around ServerApi. Typed as HubServiceServer, so a method
 * added to hub.proto and missing here is a compile error.
 */
export function createHubService(
  api: ServerApi,
  opts: {
    apiKey: string;
    log: Logger;
    /** Bytes (eventSize) a Subscribe stream may hold unsent before it is ended (config subscribeBacklogMaxBytes). */
    subscribeBacklogMaxBytes: number;
    /** Events a Subscribe stream may hold unsent before it is ended (config subscribeBacklogMaxEvents). */
    subscribeBacklogMaxEvents: number;
  },
): { service: HubServiceServer; endStreams(): void } {
  const { apiKey, log, subscribeBacklogMaxBytes: maxBytes, subscribeBacklogMaxEvents: maxEvents } = opts;
  /** Open streams, each with what ends it on shutdown (so the server need not wait for them). */
  const streams = new Map<EventEmitter, () => void>();
  const shuttingDown = () => ({ code: status.UNAVAILABLE, details: "server shutting down: reconnect" });

  const unary =
    <Req, Res>(fn: (req: Req) => Promise<Res>): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const denied = checkApiKey(call.metadata, apiKey);
      if (denied) return callback(toServiceError(api.failed("grpc", denied), log));
      // The API may throw synchronously (validation) or reject: both become a status.
      Promise.resolve()
        .then(() => fn(call.request))
        .then(
          (res) => callback(null, res),
          (err: unknown) => callback(toServiceError(api.failed("grpc", err), log)),
        );
    };

  const service: HubServiceServer = {
    publish: unary((r) => api.publish(r)),
    broadcast: unary((r) => api.broadcast(r)),
    presence: unary((r) => api.presence(r)),
    presenceStats: unary((r) => api.presenceStats(r)),
    history: unary((r) => api.history(r)),
    historyRemove: unary((r) => api.historyRemove(r)),
    channels: unary((r) => api.channels(r)),
    info: unary((r) => api.info(r)),
    disconnect: unary((r) => api.disconnect(r)),
    unsubscribe: unary((r) => api.unsubscribe(r)),
    eraseUser: unary((r) => api.eraseUser(r)),

    /**
     * Publishes start as requests arrive (the node keeps per-channel order), acks are written
     * strictly in request order through one promise chain, so a slow publish delays later acks
     * instead of reordering them. Backpressure: reading pauses while the client does not take
     * acks (write() returned false, until 'drain') or MAX_IN_FLIGHT publishes are unacked.
     */
    publishStream(call: ServerDuplexStream<PublishStreamRequest, PublishStreamResponse>) {
      const denied = checkApiKey(call.metadata, apiKey);
      if (denied) return void call.emit("error", toServiceError(denied, log));
      let acks: Promise<void> = Promise.resolve();
      let inFlight = 0;
      let awaitingDrain = false;
      /** No more writes: the client went away, the stream failed, or it was ended. */
      let gone = false;
      let closing = false;
      const maybeResume = () => {
        if (!closing && !awaitingDrain && inFlight < MAX_IN_FLIGHT / 2 && call.isPaused()) call.resume();
      };
      const fail = (err: { code: status; details: string }) => {
        if (gone) return;
        gone = true;
        streams.delete(call);
        call.emit("error", err);
      };
      call.on("data", (req: PublishStreamRequest) => {
        if (closing) return;
        if (isUndecodable(req)) {
          // Without an id no ack can answer it: stop reading, ack what came before, then end.
          closing = true;
          call.pause();
          const details = `undecodable PublishStreamRequest (${req[UNDECODABLE]}): the stream ends here`;
          void acks.then(() => fail({ code: status.INVALID_ARGUMENT, details }));
          return;
        }
        // Not awaited here: publishes overlap, only the acks are serialized below.
        const result = api.publishStreamMessage(req);
        if (++inFlight >= MAX_IN_FLIGHT) call.pause();
        acks = acks
          .then(async () => {
            const ack = await result;
            inFlight--;
            if (gone || call.cancelled) return;
            if (!call.write(ack)) {
              awaitingDrain = true;
              call.pause();
              await writable(call);
              awaitingDrain = false;
            }
            maybeResume();
          })
          .catch((err: unknown) => {
            // publishStreamMessage never rejects; this is a bug in the chain itself. Do not
            // let it become an unhandled rejection (that would take the process down).
            log.error({ err }, "PublishStream failed");
            fail({ code: status.INTERNAL, details: "internal error" });
          });
      });
      call.on("end", () => {
        // The client half-closed: end after the last ack is written.
        void acks.then(() => {
          if (gone || call.cancelled) return;
          gone = true;
          streams.delete(call);
          call.end();
        });
      });
      const onGone = () => {
        gone = true;
        streams.delete(call);
      };
      call.on("cancelled", onGone);
      call.on("error", (err) => {
        onGone();
        log.debug({ err }, "PublishStream ended with an error");
      });
      streams.set(call, () => {
        // Stop taking requests, ack what was read, then tell the client to go elsewhere.
        // Requests it sent and we never read were not published: it must resend them.
        closing = true;
        call.pause();
        void acks.then(() => fail(shuttingDown()));
      });
    },

    /**
     * A server stream of what happens in the channels. Events the consumer has not taken yet
     * are counted from the moment they are sent until gRPC has handed them to the connection,
     * whether they wait in gRPC's own buffer (write() takes up to its highWaterMark) or in
     * our backlog behind it. Past subscribeBacklogMaxBytes or subscribeBacklogMaxEvents the
     * subscription is dropped and the stream ends with RESOURCE_EXHAUSTED, so one stuck
     * backend cannot make the hub buffer without bound (a count alone let 1 MiB publications
     * pile up to gigabytes).
     */
    /** A backend worker serving browsers' rpc (grpc/handle-rpc.ts). */
    handleRpc(call: ServerDuplexStream<HandleRpcRequest, HandleRpcResponse>) {
      const denied = checkApiKey(call.metadata, apiKey);
      if (denied) return void call.emit("error", toServiceError(denied, log));
      const end = serveRpcWorker(call, api.rpcWorkers, log);
      streams.set(call, end);
      for (const ev of ["cancelled", "close", "error", "finish"] as const) call.on(ev, () => streams.delete(call));
    },

    subscribe(call: ServerWritableStream<SubscribeRequest, SubscribeResponse>) {
      const denied = checkApiKey(call.metadata, apiKey);
      if (denied) return void call.emit("error", toServiceError(denied, log));
      let stop: (() => Promise<void>) | null = null;
      let done = false;
      let wrote = false;
      let blocked = false;
      let backlog: Array<{ ev: SubscribeResponse; size: number }> = [];
      /** Events (and their eventSize bytes) sent to this stream and not yet on the connection. */
      let heldEvents = 0;
      let heldBytes = 0;
      const unsubscribe = (fn: () => Promise<void>) =>
        fn().catch((err: unknown) => log.warn({ err }, "Subscribe: unsubscribing failed"));
      /** Leaves the channels; idempotent. */
      const finish = () => {
        if (done) return;
        done = true;
        backlog = [];
        streams.delete(call);
        if (stop) void unsubscribe(stop);
      };
      const fail = (err: Partial<{ code: status; details: string; metadata: Metadata }>) => {
        if (done) return;
        finish();
        // Ends the stream with this status once what gRPC already holds is flushed.
        call.emit("error", err);
      };
      const tooSlow = (what: string, key: string) =>
        fail(toServiceError(errLimitExceeded(`subscriber too slow: more than ${what} waiting (${key})`), log));
      const write = (ev: SubscribeResponse, size: number) => {
        wrote = true;
        // The callback runs once gRPC has written the message to the HTTP/2 stream, which
        // waits for the consumer's flow-control window: only then is it off our hands.
        if (
          !call.write(ev, () => {
            heldEvents--;
            heldBytes -= size;
          })
        )
          blocked = true;
      };
      const send = (ev: SubscribeResponse) => {
        if (done) return;
        const size = eventSize(ev);
        // Nothing held means the consumer is keeping up: one event is never refused on its own.
        if (heldEvents > 0) {
          if (heldEvents >= maxEvents) return tooSlow(`${maxEvents} events`, "subscribeBacklogMaxEvents");
          if (heldBytes + size > maxBytes) return tooSlow(`${maxBytes} bytes`, "subscribeBacklogMaxBytes");
        }
        heldEvents++;
        heldBytes += size;
        if (blocked) backlog.push({ ev, size });
        else write(ev, size);
      };
      call.on("drain", () => {
        if (done) return;
        blocked = false;
        let i = 0;
        while (i < backlog.length && !blocked) {
          const { ev, size } = backlog[i++]!;
          write(ev, size);
        }
        backlog = i === backlog.length ? [] : backlog.slice(i);
      });
      call.on("cancelled", finish);
      call.on("close", finish);
      call.on("error", finish);
      streams.set(call, () => fail(shuttingDown()));
      Promise.resolve()
        .then(() => api.subscribe(call.request, send))
        .then(
          (leave) => {
            stop = leave;
            if (done) void unsubscribe(leave);
            // Headers now, so the backend knows the subscription is in place before any event.
            else if (!wrote) call.sendMetadata(new Metadata());
          },
          (err: unknown) => fail(toServiceError(err, log)),
        );
    },
  };
  return {
    service,
    endStreams() {
      for (const end of [...streams.values()]) end();
      streams.clear();
    },
  };
}
