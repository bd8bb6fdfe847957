import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../config.js";

/** A certificate chain and its key as read from their files, and a CA to check peers with. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** PEM CA certificate(s) that sign the certificates peers present (mTLS); absent: none asked for. */
  ca?: Buffer;
}

/** The config keys of one TLS listener and the files they name. */
export interface TlsFileKeys {
  cert: { key: string; path: string };
  key: { key: string; path: string };
  ca?: { key: string; path: string } | undefined;
}

/**
 * The certificate files of one listener. read() is called at startup (a bad file stops the
 * hub before anything listens) and again on every reload (SIGHUP): the files are read and
 * checked in full before anything is replaced, so a half-written renewal leaves the listener
 * on the certificate it had.
 */
export class TlsFiles {
  constructor(readonly keys: TlsFileKeys) {}

  /** The files' contents, checked: a PEM certificate, a PEM key that belongs to it, a PEM CA. */
  read(): TlsMaterial {
    const { cert, key, ca } = this.keys;
    const certPem = readPem(cert);
    const keyPem = readPem(key);
    const x509 = parse(cert, () => new X509Certificate(certPem), "not a PEM certificate");
    const keyObject: KeyObject = parse(key, () => createPrivateKey(keyPem), "not a PEM private key");
    if (!x509.checkPrivateKey(keyObject)) throw new ConfigError(`${key.key} ${key.path}: not the private key of ${cert.key} ${cert.path}`);
    if (!ca) return { cert: certPem, key: keyPem };
    const caPem = readPem(ca);
    parse(ca, () => new X509Certificate(caPem), "not a PEM certificate");
    return { cert: certPem, key: keyPem, ca: caPem };
  }
}

/** The TLS files the config names: of the HTTP edge, and of the gRPC server with its client CA. */
export function tlsFilesOf(config: {
  httpTlsCertFile: string;
  httpTlsKeyFile: string;
  grpcTlsCertFile: string;
  grpcTlsKeyFile: string;
  grpcClientCaFile: string;
}): { http: TlsFiles | null; grpc: TlsFiles | null } {
  const file = (key: keyof typeof config) => ({ key, path: config[key] });
  return {
    http: config.httpTlsCertFile ? new TlsFiles({ cert: file("httpTlsCertFile"), key: file("httpTlsKeyFile") }) : null,
    grpc: config.grpcTlsCertFile
      ? new TlsFiles({
          cert: file("grpcTlsCertFile"),
          key: file("grpcTlsKeyFile"),
          ca: config.grpcClientCaFile ? file("grpcClientCaFile") : undefined,
        })
      : null,
  };
}

function readPem(file: { key: string; path: string }): Buffer {
  try {
    return readFileSync(file.path);
  } catch (err) {
    throw new ConfigError(`${file.key} ${file.path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}

function parse<T>(file: { key: string; path: string }, fn: () => T, what: string): T {
  try {
    return fn();
  } catch (err) {
    throw new ConfigError(`${file.key} ${file.path}: ${what}`, { cause: err });
  }
}
