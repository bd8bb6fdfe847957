import type { NamespaceOptions, Config } from "./config.js";
import { errBadRequest, errUnknownChannel } from "./errors.js";

/** Channel names: printable ASCII without spaces, at most this many bytes. */
export const MAX_CHANNEL_LENGTH = 255;
const CHANNEL_RE = /^[A-Za-z0-9_\-.:@=,;+!~/]+$/;

/** Throws a clear error unless `channel` is a valid channel name. */
export function validateChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== "string" || channel.length === 0) throw errBadRequest("channel is required");
  if (channel.length > MAX_CHANNEL_LENGTH)
    throw errBadRequest(`channel name longer than ${MAX_CHANNEL_LENGTH} characters`);
  if (!CHANNEL_RE.test(channel))
    throw errBadRequest(
      `invalid channel name ${JSON.stringify(channel.slice(0, 64))}: use letters, digits and _-.:@=,;+!~/`,
    );
}

/** The part before the first ':' ('' for channels without one). */
export function namespaceOf(channel: string): string {
  const i = channel.indexOf(":");
  return i < 0 ? "" : channel.slice(0, i);
}

/**
 * Resolves per-namespace options. Names without a namespace use the top-level defaults;
 * a namespace that is not configured is an unknown channel (so typos fail loudly).
 */
export class ChannelRules {
  private readonly byName: Map<string, NamespaceOptions>;

  constructor(private readonly config: Pick<Config, "namespaces" | "channelDefaults" | "allowUnknownNamespaces">) {
    this.byName = new Map(config.namespaces.map((ns) => [ns.name, ns]));
  }

  /** Options for `channel`; throws for invalid names and unknown namespaces. */
  options(channel: string): NamespaceOptions {
    validateChannel(channel);
    const ns = namespaceOf(channel);
    if (ns === "") return this.config.channelDefaults;
    const opts = this.byName.get(ns);
    if (opts) return opts;
    if (this.config.allowUnknownNamespaces) return this.config.channelDefaults;
    throw errUnknownChannel(`unknown namespace ${JSON.stringify(ns)} in channel ${JSON.stringify(channel)}`);
  }
}
