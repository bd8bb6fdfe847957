import type { TokenVerifier } from "./auth/jwt.js";
import type { NamespaceOptions } from "./config.js";
import { errBadRequest, errPermissionDenied } from "./errors.js";
import type {
  HistoryCommand,
  HistoryResult,
  PresenceResult,
  PresenceStatsResult,
  PublishResult,
  RefreshResult,
  RpcResult,
} from "./gen/realtime/v1/client.js";
import type { ClientInfo } from "./gen/realtime/v1/types.js";
import type { HubNode } from "./node.js";
import type { SessionSubscriptions } from "./session-subscriptions.js";
import type { Grantee } from "./subscription-grant.js";

/** What a command handler may see and change of its session. */
export interface CommandContext extends Grantee {
  readonly node: HubNode;
  readonly verifier: TokenVerifier;
  readonly user: string;
  readonly info: ClientInfo;
  readonly subscriptions: SessionSubscriptions;
  /** The token's new expiry, Unix ms (0: none). */
  setExpiry(expiresAtMs: number): void;
}

/**
 * The commands of a connected client besides subscribing: each checks what the client may
 * do, then asks the node. Subscribing lives in SessionSubscriptions, connecting in Session.
 */
export async function publish(ctx: CommandContext, channel: string, data: Buffer): Promise<PublishResult> {
  const ns = ctx.node.options(channel);
  // With a publish webhook the app decides instead of allowPublish.
  const ep = ctx.proxy.endpoint("publish", ns);
  if (!ep && !ns.allowPublish) throw errPermissionDenied(`clients may not publish into ${JSON.stringify(channel)}`);
  if (ns.private && !ctx.subscriptions.has(channel)) throw errPermissionDenied("subscribe to a private channel before publishing");
  if (data.length === 0) throw errBadRequest("data is required");
  const info = ctx.subscriptions.infoIn(channel) ?? ctx.info;
  if (!ep) return ctx.node.publish(channel, data, { info });
  const r = await ctx.ask("publish", ep, { context: ctx.proxyContext(), channel, data });
  return ctx.node.publish(channel, r.data.length > 0 ? r.data : data, {
    info,
    tags: r.tags,
    skipHistory: r.skipHistory,
    idempotencyKey: r.idempotencyKey || undefined,
  });
}

/**
 * A method the app answers: the rpc webhook of the method's namespace (`ns:name`), else the
 * global one; without a webhook, a backend's HandleRpc worker on any node (broker-first).
 */
export async function rpc(ctx: CommandContext, method: string, data: Buffer): Promise<RpcResult> {
  if (method === "") throw errBadRequest("method is required");
  const ep = ctx.proxy.endpoint("rpc", rpcNamespace(ctx.node, method));
  if (!ep) return { data: await ctx.node.rpc.call(method, data, ctx.info) };
  const r = await ctx.ask("rpc", ep, { context: ctx.proxyContext(), method, data });
  return { data: r.data };
}

/** The namespace a method `ns:name` belongs to, when it is a configured one. */
function rpcNamespace(node: HubNode, method: string): NamespaceOptions | undefined {
  if (!method.includes(":")) return undefined;
  try {
    return node.options(method);
  } catch {
    return undefined;
  }
}

export async function presence(ctx: CommandContext, channel: string): Promise<PresenceResult> {
  checkReadable(ctx, channel);
  return { presence: await ctx.node.presence(channel) };
}

export async function presenceStats(ctx: CommandContext, channel: string): Promise<PresenceStatsResult> {
  checkReadable(ctx, channel);
  return ctx.node.presenceStats(channel);
}

export async function history(ctx: CommandContext, cmd: HistoryCommand): Promise<HistoryResult> {
  const ns = checkReadable(ctx, cmd.channel);
  const limit = Math.min(Math.max(cmd.limit, 0), ns.historySize);
  const r = await ctx.node.history(cmd.channel, { since: cmd.since, limit, reverse: cmd.reverse });
  return { publications: r.publications, epoch: r.position.epoch, offset: r.position.offset };
}

/** A new connection token for the same user: the connection lives on until it expires. */
export async function refresh(ctx: CommandContext, token: string): Promise<RefreshResult> {
  const claims = await ctx.verifier.verifyConnect(token);
  if (claims.user !== ctx.user) throw errPermissionDenied("token is for another user");
  ctx.setExpiry(claims.expiresAt * 1000);
  return { ttl: claims.expiresAt ? secondsLeft(claims.expiresAt) : 0 };
}

/** Private channels are read (presence, history) by their subscribers only. */
function checkReadable(ctx: CommandContext, channel: string): NamespaceOptions {
  const ns = ctx.node.options(channel);
  if (ns.private && !ctx.subscriptions.has(channel)) throw errPermissionDenied(`subscribe to ${JSON.stringify(channel)} first`);
  return ns;
}

/**
 * Whole seconds a token has left, rounded down: JWT `exp` has one-second resolution, so
 * rounding the current time down instead would tell the client up to a second more than it
 * has, and a refresh planned from it could come after the hub closed the connection.
 */
export function secondsLeft(expiresAt: number): number {
  return Math.max(1, Math.floor(expiresAt - Date.now() / 1000));
}
