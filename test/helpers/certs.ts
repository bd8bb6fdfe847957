import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its key, as files and as PEM. */
export interface CertFiles {
  cert: string;
  key: string;
  certPem: Buffer;
  keyPem: Buffer;
  /** SHA-256 fingerprint as Node's getPeerCertificate() gives it (AA:BB:...). */
  fingerprint256: string;
}

/**
 * Certificates made at test time with the `openssl` CLI, in a temp directory of their own:
 * CAs, server certificates for 127.0.0.1/localhost, client certificates. remove() deletes them.
 */
export class TestCerts {
  readonly dir = mkdtempSync(join(tmpdir(), "rh-certs-"));

  /** A self-signed CA. */
  ca(name: string): CertFiles {
    const base = join(this.dir, name);
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
      "-subj", `/CN=${name}`, "-keyout", `${base}.key`, "-out", `${base}.crt`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    return this.files(base);
  }

  /** A certificate signed by `ca`: a server's (SAN 127.0.0.1 and localhost) or a client's. */
  signed(name: string, ca: CertFiles, use: "server" | "client"): CertFiles {
    const base = join(this.dir, name);
    const ext = `${base}.ext`;
    writeFileSync(
      ext,
      use === "server"
        ? "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        : "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    );
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`,
      "-keyout", `${base}.key`, "-out", `${base}.csr`]);
    openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
      "-days", "2", "-extfile", ext, "-out", `${base}.crt`]);
    return this.files(base);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private files(base: string): CertFiles {
    const certPem = readFileSync(`${base}.crt`);
    return {
      cert: `${base}.crt`,
      key: `${base}.key`,
      certPem,
      keyPem: readFileSync(`${base}.key`),
      fingerprint256: new X509Certificate(certPem).fingerprint256,
    };
  }
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}
