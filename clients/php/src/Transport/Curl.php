<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Transport;

use RealtimeHub\Client\Exception\TransportException;

/** @internal The ext-curl plumbing the transports share: options, and curl errors -> TransportException. */
final class Curl
{
    /** curl errors that retrying cannot fix: TLS setup, certificates, a bad URL. */
    private const PERMANENT = [
        1, // CURLE_UNSUPPORTED_PROTOCOL
        3, // CURLE_URL_MALFORMAT
        35, // CURLE_SSL_CONNECT_ERROR
        53, // CURLE_SSL_ENGINE_NOTFOUND
        58, // CURLE_SSL_CERTPROBLEM
        59, // CURLE_SSL_CIPHER
        60, // CURLE_PEER_FAILED_VERIFICATION
        77, // CURLE_SSL_CACERT_BADFILE
        83, // CURLE_SSL_ISSUER_ERROR
    ];

    /**
     * @param list<string> $headers
     * @return array<int, mixed>
     */
    public static function options(string $url, string $body, array $headers, TransportOptions $o): array
    {
        $opts = [
            CURLOPT_URL => $url,
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_TIMEOUT_MS => (int) ceil($o->timeout * 1000),
            CURLOPT_CONNECTTIMEOUT_MS => (int) ceil($o->connectTimeout * 1000),
            CURLOPT_SSL_VERIFYPEER => $o->verifyTls,
            CURLOPT_SSL_VERIFYHOST => $o->verifyTls ? 2 : 0,
            CURLOPT_NOSIGNAL => true,
        ];
        if ($o->caFile !== null) {
            $opts[CURLOPT_CAINFO] = $o->caFile;
        }
        if ($o->certFile !== null) {
            $opts[CURLOPT_SSLCERT] = $o->certFile;
        }
        if ($o->keyFile !== null) {
            $opts[CURLOPT_SSLKEY] = $o->keyFile;
        }
        return $opts;
    }

    /** A failed curl_exec: timeouts and refused or reset connections are temporary, TLS and URL errors are not. */
    public static function error(\CurlHandle $ch, string $url): TransportException
    {
        $errno = curl_errno($ch);
        return TransportException::network(
            sprintf('%s: %s (curl error %d)', $url, curl_error($ch), $errno),
            !in_array($errno, self::PERMANENT, true),
        );
    }
}
