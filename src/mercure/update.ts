import type { Publication } from "../gen/realtime/v1/types.js";

/** One Mercure update, as a publisher sends it and a Mercure subscriber reads it. */
export interface MercureUpdate {
  /** The update's id: the publisher's, or `urn:uuid:…` made by the hub. The SSE `id:`. */
  id: string;
  /** Every topic, the canonical one first. */
  topics: string[];
  data: string;
  private: boolean;
  /** The SSE `event:`; "" for none (a plain `message`). */
  type: string;
  /** The SSE `retry:` in ms; "" for none. */
  retry: string;
}

/**
 * How an update rides in a publication: `data` is the update's data (UTF-8), so a WebSocket
 * client of a mapped channel reads what a Mercure subscriber reads; the rest are tags (every
 * client protocol carries tags). `mercure.topics` is the JSON array of all topics: a hashed
 * channel cannot be read back, and an update of several topics is one publication in each of
 * their channels.
 */
const TAG = {
  id: "mercure.id",
  topics: "mercure.topics",
  private: "mercure.private",
  type: "mercure.type",
  retry: "mercure.retry",
} as const;

export function updateTags(u: MercureUpdate): Record<string, string> {
  return {
    [TAG.id]: u.id,
    [TAG.topics]: JSON.stringify(u.topics),
    ...(u.private ? { [TAG.private]: "on" } : {}),
    ...(u.type ? { [TAG.type]: u.type } : {}),
    ...(u.retry ? { [TAG.retry]: u.retry } : {}),
  };
}

/** The update a publication carries; undefined for one that was not published as an update. */
export function updateOf(pub: Publication): MercureUpdate | undefined {
  const t = pub.tags;
  const id = t[TAG.id];
  if (id === undefined) return undefined;
  let topics: unknown;
  try {
    topics = JSON.parse(t[TAG.topics] ?? "");
  } catch {
    return undefined;
  }
  if (!Array.isArray(topics) || !topics.every((x) => typeof x === "string")) return undefined;
  return {
    id,
    topics,
    data: Buffer.from(pub.data).toString("utf8"),
    private: t[TAG.private] === "on",
    type: t[TAG.type] ?? "",
    retry: t[TAG.retry] ?? "",
  };
}

/** The update as one SSE event: `data:` once per line of the data, as EventSource joins them. */
export function sseEvent(u: MercureUpdate): string {
  let out = `id: ${u.id}\n`;
  if (u.type) out += `event: ${u.type}\n`;
  if (u.retry) out += `retry: ${u.retry}\n`;
  for (const line of u.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + "\n";
}
