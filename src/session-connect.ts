import { errUnauthorized } from "./errors.js";
import type { ConnectCommand } from "./gen/realtime/v1/client.js";
import type { SubscribeOptions } from "./gen/realtime/v1/proxy.js";
import { secondsLeft } from "./session-commands.js";
import type { Grantee } from "./subscription-grant.js";

/** Who a connection is, as its token or the app's connect webhook says. */
export interface Identity {
  user: string;
  connInfo: Buffer;
  /** Unix ms when the connection expires unless refreshed; 0: never. */
  expiresAt: number;
  /** Whole seconds left until then, for the connect reply (0: never). */
  ttl: number;
  /** For the client, from the webhook. */
  data: Buffer;
  /** Kept with the connection and sent back on every webhook call for it. */
  meta: Buffer;
  /** Channels the webhook subscribes the client to. */
  serverSubs: Record<string, SubscribeOptions>;
  /** Who extends the connection: the client with a new token, or the app (refresh webhook). */
  by: "token" | "proxy" | "none";
}

const NONE = Buffer.alloc(0);

/**
 * Authenticates a connect: by its token, else by the connect webhook when there is one, else
 * as anonymous when allowAnonymous. Throws the error the client gets.
 */
export async function authenticate(who: Grantee, allowAnonymous: boolean, cmd: Partial<ConnectCommand>): Promise<Identity> {
  if (cmd.token) {
    const claims = await who.verifier.verifyConnect(cmd.token);
    return {
      user: claims.user,
      connInfo: claims.connInfo,
      expiresAt: claims.expiresAt * 1000,
      ttl: claims.expiresAt ? secondsLeft(claims.expiresAt) : 0,
      data: NONE,
      meta: NONE,
      serverSubs: {},
      by: "token",
    };
  }
  const ep = who.proxy.endpoint("connect");
  if (ep) {
    const r = await who.ask("connect", ep, { context: who.proxyContext(), data: cmd.data ?? NONE, name: cmd.name ?? "", version: cmd.version ?? "" });
    const expireAt = Number(r.expireAt);
    return {
      user: r.user,
      connInfo: r.info,
      expiresAt: expireAt * 1000,
      ttl: expireAt ? secondsLeft(expireAt) : 0,
      data: r.data,
      meta: r.meta,
      serverSubs: r.subscriptions,
      by: "proxy",
    };
  }
  if (!allowAnonymous) throw errUnauthorized("token required");
  return { user: "", connInfo: NONE, expiresAt: 0, ttl: 0, data: NONE, meta: NONE, serverSubs: {}, by: "none" };
}
