import { randomUUID } from "node:crypto";
import type { MercureUpdate } from "./update.js";

/** Where subscription events live: `/.well-known/mercure/subscriptions/{topic}/{subscriber}`. */
const SUBSCRIPTIONS_PATH = "/.well-known/mercure/subscriptions";

/** The JSON-LD context of Mercure's subscription documents. */
const CONTEXT = "https://mercure.rocks/";

/** A subscriber's IRI, made by the hub (a client never chooses it). */
export function newSubscriberId(): string {
  return `urn:uuid:${randomUUID()}`;
}

/**
 * The update a hub publishes when a subscription (one topic selector of one subscriber)
 * starts (`active: true`) or ends (`active: false`), as the Mercure drafts of the
 * symfony/mercure 0.6 era describe it: private, its topic
 * `/.well-known/mercure/subscriptions/{topic}/{subscriber}` (each value %-encoded once, as an
 * RFC 6570 `{var}` expands it), its data the JSON-LD `Subscription` document.
 */
export function subscriptionUpdate(selector: string, subscriber: string, active: boolean): MercureUpdate {
  const id = `${SUBSCRIPTIONS_PATH}/${expand(selector)}/${expand(subscriber)}`;
  const doc = { "@context": CONTEXT, id, type: "Subscription", topic: selector, subscriber, active };
  return { id: `urn:uuid:${randomUUID()}`, topics: [id], data: JSON.stringify(doc), private: true, type: "", retry: "" };
}

/** RFC 6570 simple expansion of one value: everything but unreserved characters %-encoded. */
function expand(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
