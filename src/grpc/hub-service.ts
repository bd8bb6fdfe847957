import { Metadata, status, type handleUnaryCall, type ServerDuplexStream, type ServerWritableStream } from "@grpc/grpc-js";
import type { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { ServerApi } from "../api/server-api.js";
import { errLimitExceeded } from "../errors.js";
import type {
  HubServiceServer,
  PublishStreamRequest,
  PublishStreamResponse,
  SubscribeRequest,
  SubscribeResponse,
} from "../gen/realtime/v1/hub.js";
import { checkApiKey } from "./auth.js";
import { toServiceError } from "./status.js";

/** Publishes of one PublishStream started but not yet acked before the stream stops reading. */
export const MAX_IN_FLIGHT = 1024;
/** Events a Subscribe consumer may fall behind by (beyond what gRPC buffers) before its stream is ended. */
export const MAX_SUBSCRIBE_BACKLOG = 10_000;

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
  opts: { apiKey: string; log: Logger },
): { service: HubServiceServer; endStreams(): void } {
  const { apiKey, log } = opts;
  /** Open streams, each with what ends it on shutdown (so the server need not wait for them). */
  const streams = new Map<EventEmitter, () => void>();
  const shuttingDown = () => ({ code: status.UNAVAILABLE, details: "server shutting down: reconnect" });

  const unary =
    <Req, Res>(fn: (req: Req) => Promise<Res>): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const denied = checkApiKey(call.metadata, apiKey);
      if (denied) return callback(toServiceError(denied, log));
      // The API may throw synchronously (validation) or reject: both become a status.
      Promise.resolve()
        .then(() => fn(call.request))
        .then(
          (res) => callback(null, res),
          (err: unknown) => callback(toServiceError(err, log)),
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
     * A server stream of what happens in the channels. Events wait in a bounded backlog while
     * the consumer does not keep up; past MAX_SUBSCRIBE_BACKLOG the subscription is dropped and
     * the stream ends with RESOURCE_EXHAUSTED, so one stuck backend cannot make the hub buffer
     * without bound.
     */
    subscribe(call: ServerWritableStream<SubscribeRequest, SubscribeResponse>) {
      const denied = checkApiKey(call.metadata, apiKey);
      if (denied) return void call.emit("error", toServiceError(denied, log));
      let stop: (() => Promise<void>) | null = null;
      let done = false;
      let wrote = false;
      let blocked = false;
      let backlog: SubscribeResponse[] = [];
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
      const send = (ev: SubscribeResponse) => {
        if (done) return;
        if (blocked) {
          if (backlog.length >= MAX_SUBSCRIBE_BACKLOG)
            return fail(
              toServiceError(errLimitExceeded(`subscriber too slow: more than ${MAX_SUBSCRIBE_BACKLOG} events waiting`), log),
            );
          backlog.push(ev);
          return;
        }
        wrote = true;
        if (!call.write(ev)) blocked = true;
      };
      call.on("drain", () => {
        if (done) return;
        blocked = false;
        let i = 0;
        while (i < backlog.length && !blocked) if (!call.write(backlog[i++]!)) blocked = true;
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
