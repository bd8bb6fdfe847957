import { experimental, ServerCredentials } from "@grpc/grpc-js";
import type { TlsFiles, TlsMaterial } from "../transport/tls-files.js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * grpc-js's CertificateProvider fed by our files on demand instead of by a timer: grpc-js's own
 * FileWatcherCertificateProvider re-reads on an interval and, when a read fails (a renewal
 * half-written), withdraws the certificate, after which the server drops every new
 * connection. Here the files are read and checked in full (TlsFiles.read) before listeners
 * hear of them, so a bad renewal leaves the previous certificate serving.
 *
 * On an update the server calls setSecureContext on its listening socket: new connections
 * get the new certificate and CA, open connections keep theirs, nothing is unbound.
 */
class ReloadableCertificates implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(private current: TlsMaterial) {}

  set(material: TlsMaterial): void {
    this.current = material;
    for (const l of this.identityListeners) l(this.identity());
    for (const l of this.caListeners) l(this.ca());
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // Asynchronously, as grpc-js's own providers do: the server adds its listener while it
    // sets the listening socket up and applies the first update once that is done.
    process.nextTick(() => this.caListeners.has(listener) && listener(this.ca()));
  }
  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => this.identityListeners.has(listener) && listener(this.identity()));
  }
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private identity() {
    return { certificate: this.current.cert, privateKey: this.current.key };
  }
  private ca() {
    return this.current.ca ? { caCertificate: this.current.ca } : null;
  }
}

/**
 * Server credentials from the TLS files, and reload() to serve their current contents (throws
 * a ConfigError, keeping the previous certificates, when a file is unreadable or wrong).
 *
 * With a client CA, clients are asked for a certificate but the handshake does not require
 * one: a client without one (or with one the CA did not sign) still connects, and its calls
 * then need the API key (see auth.ts). Requiring it at the handshake would leave the API key
 * no use on gRPC and close health checks to load balancers without a certificate.
 */
export function tlsServerCredentials(files: TlsFiles): { credentials: ServerCredentials; reload(): void } {
  const provider = new ReloadableCertificates(files.read());
  // grpc-js 1.14 names the first parameter caCertificateProvider but uses it as the identity
  // provider (and the second as the CA's): passed as (identity, CA) here, which is what it does.
  // One provider serves both, so the only thing that depends on the order is which may be null.
  const credentials = experimental.createCertificateProviderServerCredentials(provider, files.keys.ca ? provider : null, false);
  return { credentials, reload: () => provider.set(files.read()) };
}
