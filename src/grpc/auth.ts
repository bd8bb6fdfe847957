import { ServerInterceptingCall, ServerListenerBuilder, type Metadata, type ServerInterceptor } from "@grpc/grpc-js";
import { apiKeyError } from "../api/api-key.js";
import { errUnauthorized, type HubError } from "../errors.js";

/**
 * Calls on a server with a client CA (grpcClientCaFile), by their request metadata: true when
 * the connection presented a certificate that CA signed. The metadata object itself is the
 * mark: a client can send any header, but cannot make grpc-js hand a handler an object the
 * interceptor below has seen. Weak: a call's entry goes with its metadata.
 */
const clientCertificates = new WeakMap<Metadata, boolean>();

/**
 * Records, for every call, whether its connection presented a client certificate signed by
 * the configured CA: grpc-js reports a peer certificate in the call's auth context only when
 * TLS verified it against that CA. Installed only when the server has a client CA.
 */
export const clientCertificateInterceptor: ServerInterceptor = (_method, call) =>
  new ServerInterceptingCall(call, {
    start: (next) =>
      next(
        new ServerListenerBuilder()
          .withOnReceiveMetadata((metadata, pass) => {
            clientCertificates.set(metadata, call.getAuthContext().sslPeerCertificate !== undefined);
            pass(metadata);
          })
          .build(),
      ),
  });

/**
 * Whether a HubService call may proceed (health and reflection stay open: they reveal nothing
 * a port scan would not). Two ways in: a client certificate signed by grpcClientCaFile (mTLS),
 * or, when the hub has an API key, `authorization: apikey <key>` metadata. With a client CA and
 * no API key, only the certificate. Returns the error to answer with (UNAUTHENTICATED at the
 * edge), or null.
 */
export function checkApiKey(metadata: Metadata, apiKey: string): HubError | null {
  const certificate = clientCertificates.get(metadata);
  if (certificate === true) return null;
  if (certificate === false && !apiKey)
    return errUnauthorized("client certificate required: none was presented, or grpcClientCaFile did not sign it");
  const values = metadata.get("authorization");
  const denied = apiKeyError(values.length ? String(values[0]) : undefined, apiKey, "metadata");
  // With mTLS on, say that the certificate is the other way in.
  return denied && certificate === false ? errUnauthorized(`${denied.message}, or connect with a client certificate signed by grpcClientCaFile`) : denied;
}
