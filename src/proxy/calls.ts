import * as p from "../gen/realtime/v1/proxy.js";
import type { DisconnectPush } from "../gen/realtime/v1/client.js";
import type { Error as WireError } from "../gen/realtime/v1/types.js";

/**
 * The calls the hub makes to an app backend, by kind. Each has its request and response
 * messages (proxy.proto) and its gRPC method; the config names a URL and a timeout per kind.
 */
interface Calls {
  connect: [p.ConnectProxyRequest, p.ConnectProxyResponse];
  refresh: [p.RefreshProxyRequest, p.RefreshProxyResponse];
  subscribe: [p.SubscribeProxyRequest, p.SubscribeProxyResponse];
  subRefresh: [p.SubRefreshProxyRequest, p.SubRefreshProxyResponse];
  publish: [p.PublishProxyRequest, p.PublishProxyResponse];
  rpc: [p.RpcProxyRequest, p.RpcProxyResponse];
  disconnect: [p.NotifyDisconnectRequest, p.NotifyDisconnectResponse];
  unsubscribe: [p.NotifyUnsubscribeRequest, p.NotifyUnsubscribeResponse];
}
export type CallKind = keyof Calls;
export type RequestOf<K extends CallKind> = Calls[K][0];
export type ResponseOf<K extends CallKind> = Calls[K][1];
/** Calls the hub waits for; the others are notifications. */
export type AskKind = Exclude<CallKind, NotifyKind>;
export type NotifyKind = "disconnect" | "unsubscribe";
export type ResultOf<K extends AskKind> = NonNullable<ResponseOf<K>["result"]>;

/** What every answer to an ask holds: exactly one of these. */
export interface Answer<R> {
  result?: R | undefined;
  error?: WireError | undefined;
  disconnect?: DisconnectPush | undefined;
}

interface MessageCodec<T> {
  fromJSON(o: unknown): T;
  toJSON(m: T): unknown;
  decode(b: Uint8Array): T;
  encode(m: T): { finish(): Uint8Array };
}

export interface CallSpec<K extends CallKind> {
  /** The gRPC method (path, serializers). */
  method: {
    path: string;
    requestSerialize(v: RequestOf<K>): Buffer;
    responseDeserialize(b: Buffer): ResponseOf<K>;
  };
  request: MessageCodec<RequestOf<K>>;
  response: MessageCodec<ResponseOf<K>>;
}

const S = p.ProxyServiceService;
export const CALLS: { [K in CallKind]: CallSpec<K> } = {
  connect: { method: S.connectProxy, request: p.ConnectProxyRequest, response: p.ConnectProxyResponse },
  refresh: { method: S.refreshProxy, request: p.RefreshProxyRequest, response: p.RefreshProxyResponse },
  subscribe: { method: S.subscribeProxy, request: p.SubscribeProxyRequest, response: p.SubscribeProxyResponse },
  subRefresh: { method: S.subRefreshProxy, request: p.SubRefreshProxyRequest, response: p.SubRefreshProxyResponse },
  publish: { method: S.publishProxy, request: p.PublishProxyRequest, response: p.PublishProxyResponse },
  rpc: { method: S.rpcProxy, request: p.RpcProxyRequest, response: p.RpcProxyResponse },
  disconnect: { method: S.notifyDisconnect, request: p.NotifyDisconnectRequest, response: p.NotifyDisconnectResponse },
  unsubscribe: { method: S.notifyUnsubscribe, request: p.NotifyUnsubscribeRequest, response: p.NotifyUnsubscribeResponse },
};
