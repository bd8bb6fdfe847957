import type { TokenVerifier } from "./auth/jwt.js";
import type { NamespaceOptions } from "./config.js";
import { errPermissionDenied } from "./errors.js";
import type { SubscribeCommand } from "./gen/realtime/v1/client.js";
import type { SubscribeOptions } from "./gen/realtime/v1/proxy.js";
import type { AskKind, RequestOf, ResultOf } from "./proxy/calls.js";
import type { Endpoint } from "./proxy/endpoint.js";
import type { Proxy } from "./proxy/proxy.js";
import type { ProxyContext } from "./gen/realtime/v1/proxy.js";

/** What lets a client into a channel, and on what terms. */
export interface Grant {
  /** JSON the client carries in the channel (chanInfo). */
  info: Buffer;
  /** Unix ms when the subscription ends unless refreshed; 0: never. */
  expiresAt: number;
  /** The namespace's options with the grant's overrides (presence, join/leave). */
  ns: NamespaceOptions;
  /** False when the grant turned recovery off for this subscription. */
  recovery: boolean;
  /** Who refreshes it: the client with a new token, or the subscribe webhook's app. */
  by: "open" | "token" | "proxy";
}

/** The session a grant is asked for, as granting sees it. */
export interface Grantee {
  readonly user: string;
  readonly verifier: TokenVerifier;
  readonly proxy: Proxy;
  proxyContext(): ProxyContext;
  /** Asks the backend; closes the connection when it answers `disconnect`. */
  ask<K extends AskKind>(kind: K, ep: Endpoint, request: RequestOf<K>): Promise<ResultOf<K>>;
}

/**
 * Decides a subscribe: a private namespace without a subscribe webhook needs a subscription
 * token; with a webhook, the app decides (or a token does, when the client sends one and the
 * hub has token keys); other channels are open.
 */
export async function grantSubscription(who: Grantee, cmd: SubscribeCommand, ns: NamespaceOptions): Promise<Grant> {
  const ep = who.proxy.endpoint("subscribe", ns);
  const channel = cmd.channel;
  if (ns.private && !ep) {
    if (!cmd.token) throw errPermissionDenied(`${JSON.stringify(channel)} is private: a subscription token is required`);
    return byToken(who, cmd, ns);
  }
  if (ep) {
    if (cmd.token && who.verifier.configured) return byToken(who, cmd, ns);
    const options = await who.ask("subscribe", ep, { context: who.proxyContext(), channel, token: cmd.token });
    return fromOptions(options, ns, "proxy");
  }
  return { info: Buffer.alloc(0), expiresAt: 0, ns, recovery: true, by: "open" };
}

async function byToken(who: Grantee, cmd: SubscribeCommand, ns: NamespaceOptions): Promise<Grant> {
  const claims = await who.verifier.verifySubscribe(cmd.token, who.user, cmd.channel);
  return { info: claims.chanInfo, expiresAt: claims.expiresAt * 1000, ns, recovery: true, by: "token" };
}

/** A webhook's options (subscribe answer, or a connect answer's server-side subscription). */
export function fromOptions(o: SubscribeOptions, ns: NamespaceOptions, by: Grant["by"]): Grant {
  const overridden = o.presence !== undefined || o.joinLeave !== undefined;
  return {
    info: o.info,
    expiresAt: Number(o.expireAt) * 1000,
    ns: overridden ? { ...ns, presence: o.presence ?? ns.presence, joinLeave: o.joinLeave ?? ns.joinLeave } : ns,
    recovery: o.recovery !== false,
    by,
  };
}
