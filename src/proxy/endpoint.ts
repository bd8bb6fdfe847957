import { ConfigError } from "../config/config-error.js";

/** Where one kind of call goes: an HTTP URL the hub POSTs to, or a gRPC ProxyService. */
export type Endpoint =
  | { readonly transport: "http"; readonly url: URL; readonly text: string }
  | { readonly transport: "grpc"; readonly address: string; readonly tls: boolean; readonly text: string };

/** A namespace's value that turns a call off even when a global URL is set. */
const OFF = "off";

/**
 * Parses a webhook setting: "" (not set) and `off` give null; http(s):// and grpc(s)://
 * URLs give an endpoint; anything else is a ConfigError naming `where`.
 */
export function parseEndpoint(where: string, raw: string): Endpoint | null {
  const text = raw.trim();
  if (text === "" || text === OFF) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${where}: not a URL: ${JSON.stringify(raw)} (http://, https://, grpc:// or grpcs://, or "off")`);
  }
  switch (url.protocol) {
    case "http:":
    case "https:":
      return { transport: "http", url, text };
    case "grpc:":
    case "grpcs:":
      if (!url.port || (url.pathname !== "" && url.pathname !== "/"))
        throw new ConfigError(`${where}: a gRPC endpoint is grpc://host:port (no path), got ${JSON.stringify(raw)}`);
      return { transport: "grpc", address: url.host, tls: url.protocol === "grpcs:", text };
    default:
      throw new ConfigError(`${where}: unsupported scheme ${url.protocol} in ${JSON.stringify(raw)} (http, https, grpc, grpcs)`);
  }
}
