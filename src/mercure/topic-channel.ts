import { createHash } from "node:crypto";
import { MAX_CHANNEL_LENGTH } from "../channel.js";
import { MERCURE_NAMESPACE } from "../config/settings.js";

const PREFIX = `${MERCURE_NAMESPACE}:`;

/** Characters a channel name allows, kept as they are; `~` is not among them: it escapes. */
const KEPT = /[A-Za-z0-9_\-.:@=,;+!/]/;
/** What a hashed channel starts with after the prefix: `~h` is no escape (those are `~` + two hex digits). */
const HASHED = "~h";

/**
 * The firehose: every update published through POST /.well-known/mercure also lands here,
 * so a subscriber of `*` or a URI template (which no single channel holds) follows this one
 * and keeps what matches. topicToChannel never makes it: `~` there is always `~h` or `~` and
 * two upper-case hex digits. Publications made into `mercure:` channels through the server
 * API do not reach it.
 */
export const FIREHOSE_CHANNEL = `${PREFIX}~all`;

/**
 * The channel of a Mercure topic: `mercure:` + the topic with every UTF-8 byte outside the
 * characters channel names allow (and `~` itself) written as `~` + two upper-case hex digits.
 * `https://example.com/books/1` stays readable as `mercure:https://example.com/books/1`, and
 * `?q=a b` becomes `~3Fq=a~20b`. Topics are compared as strings (as Mercure does), so no
 * normalisation: `%41` and `A` are two topics. An encoding longer than a channel name may
 * be becomes `mercure:~h` + the SHA-256 of the topic (hex): not reversible, which is why
 * every publication carries its topics (see update.ts).
 */
export function topicToChannel(topic: string): string {
  let out = PREFIX;
  for (const ch of topic) {
    if (KEPT.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, "utf8")) out += `~${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (out.length <= MAX_CHANNEL_LENGTH) return out;
  return PREFIX + HASHED + createHash("sha256").update(topic, "utf8").digest("hex");
}

/**
 * The topic of a channel topicToChannel made, or undefined for a hashed one and for a channel
 * outside the mercure namespace (or not made by topicToChannel).
 */
export function channelToTopic(channel: string): string | undefined {
  if (!channel.startsWith(PREFIX)) return undefined;
  const body = channel.slice(PREFIX.length);
  if (body.startsWith(HASHED)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== "~") {
      bytes.push(body.charCodeAt(i));
      continue;
    }
    const hex = body.slice(i + 1, i + 3);
    if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  const topic = Buffer.from(bytes).toString("utf8");
  // Bytes that are no UTF-8 (a channel someone named by hand) would not come back the same.
  return topicToChannel(topic) === channel ? topic : undefined;
}
