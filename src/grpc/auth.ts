import type { Metadata } from "@grpc/grpc-js";
import { apiKeyError } from "../api/api-key.js";
import type { HubError } from "../errors.js";

/**
 * When the hub has an API key, every HubService call carries `authorization: apikey <key>`
 * metadata (health and reflection stay open: they reveal nothing a port scan would not).
 * Returns the error to answer with (UNAUTHENTICATED at the edge), or null.
 */
export function checkApiKey(metadata: Metadata, apiKey: string): HubError | null {
  const values = metadata.get("authorization");
  return apiKeyError(values.length ? String(values[0]) : undefined, apiKey, "metadata");
}
