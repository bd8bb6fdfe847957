<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Transport;

/** Connection options shared by every transport. */
final class TransportOptions
{
    public function __construct(
        /** Whole call, in seconds (connect included). Default 5. */
        public readonly float $timeout = 5.0,
        /** Connecting (TCP and TLS), in seconds. Default 2. */
        public readonly float $connectTimeout = 2.0,
        /** PEM file of the CA(s) that signed the hub's certificate; default null: the system's CAs. */
        public readonly ?string $caFile = null,
        /** Check the hub's certificate and name. Default true; false only for local development. */
        public readonly bool $verifyTls = true,
        /** PEM client certificate, for a hub that asks for one (grpcClientCaFile); default null. */
        public readonly ?string $certFile = null,
        /** PEM private key of $certFile; default null (the key is in $certFile). */
        public readonly ?string $keyFile = null,
    ) {
    }
}
