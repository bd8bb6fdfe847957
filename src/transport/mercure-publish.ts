import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { MAX_PUBLISH_BYTES } from "../config.js";
import { errBadRequest, errPermissionDenied, errUnauthorized } from "../errors.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import { selectorMatches } from "../mercure/selectors.js";
import { FIREHOSE_CHANNEL, topicToChannel } from "../mercure/topic-channel.js";
import { updateTags, type MercureUpdate } from "../mercure/update.js";
import type { HubNode } from "../node.js";
import { HttpRequestError } from "./http-error.js";
import { mercureToken, type MercureAuth } from "./mercure-auth.js";

const FORM = "application/x-www-form-urlencoded";

/**
 * POST /.well-known/mercure: a Mercure update, as symfony/mercure sends it (a form: `topic`
 * repeated, `data`, `private=on`, `id`, `type`, `retry`), published through the node into the
 * channel of each topic and into the firehose (history, every broker, every node). Answers the
 * update's id.
 */
export async function handleMercurePublish(req: IncomingMessage, res: ServerResponse, node: HubNode, auth: MercureAuth): Promise<void> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== FORM) throw new HttpRequestError(415, ErrorCode.ERROR_CODE_BAD_REQUEST, `send the update as ${FORM}`);
  const token = mercureToken(req, undefined);
  if (!token) throw errUnauthorized("a publisher JWT is required (Authorization: Bearer, or the mercureAuthorization cookie)");
  const claims = await auth.claims(token);
  const update = parseUpdate(new URLSearchParams((await readBody(req)).toString("utf8")));
  // Every topic of the update must be allowed, not just one: the update lands in each channel.
  const refused = update.topics.find((t) => !claims.publish.some((s) => selectorMatches(s, t)));
  if (refused !== undefined) throw errPermissionDenied(`the JWT's mercure.publish claim does not allow topic ${JSON.stringify(refused)}`);
  await publishUpdate(node, update);
  res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(update.id) });
  res.end(update.id);
}

/**
 * Publishes an update as POST does: into the channel of each topic and into the firehose.
 * Refused whole (nothing stored) when one of its channels is invalid.
 */
export async function publishUpdate(node: HubNode, update: MercureUpdate): Promise<void> {
  // The firehose too, for subscribers of `*` and URI templates: each update is written twice
  // (or N+1 times), the price of templates; publications of the server API stay single.
  const channels = [...new Set(update.topics.map(topicToChannel)), FIREHOSE_CHANNEL];
  // Checked before any publish, so an update is refused whole rather than stored in some channels.
  for (const c of channels) node.options(c);
  const data = Buffer.from(update.data, "utf8");
  const tags = updateTags(update);
  await Promise.all(channels.map((c) => node.publish(c, data, { tags })));
}

/** The update a form describes; a bad request names the field. */
function parseUpdate(form: URLSearchParams): MercureUpdate {
  const topics = [...form.getAll("topic"), ...form.getAll("topic[]")];
  if (topics.length === 0) throw errBadRequest("topic is required (at least one)");
  if (topics.some((t) => t === "")) throw errBadRequest("topic must not be empty");
  const id = form.get("id") || `urn:uuid:${randomUUID()}`;
  const type = form.get("type") ?? "";
  const retry = form.get("retry") ?? "";
  // They become SSE lines of their own: a line break would let a publisher forge fields.
  for (const [name, v] of [["id", id], ["type", type]] as const)
    if (/[\r\n]/.test(v)) throw errBadRequest(`${name} must not contain a line break`);
  if (retry !== "" && !/^\d{1,10}$/.test(retry)) throw errBadRequest("retry must be a whole number of milliseconds");
  const priv = form.get("private");
  return { id, topics, data: form.get("data") ?? "", private: priv !== null && priv !== "" && priv !== "off" && priv !== "false", type, retry };
}

/** The body, at most MAX_PUBLISH_BYTES (413 past it, like the HTTP API). */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const tooLarge = () => new HttpRequestError(413, ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, `body larger than ${MAX_PUBLISH_BYTES} bytes`);
  if (Number(req.headers["content-length"] ?? 0) > MAX_PUBLISH_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_PUBLISH_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
