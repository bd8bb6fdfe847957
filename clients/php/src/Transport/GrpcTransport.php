<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Transport;

use Google\Protobuf\Internal\Message;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\Exception\TransportException;

/**
 * The hub's gRPC API over HTTP/2 with ext-curl alone (no ext-grpc): h2c with prior knowledge
 * for http:// URLs, TLS with ALPN for https://. Each message is framed with gRPC's 5-byte
 * prefix; grpc-status, grpc-message and the hub's realtime-error-code are read from the
 * trailers (or the headers of a trailers-only answer) through CURLOPT_HEADERFUNCTION.
 */
final class GrpcTransport implements Transport, StreamingTransport
{
    private const SERVICE = 'realtime.v1.HubService';

    /** gRPC status codes. */
    private const OK = 0;
    private const DEADLINE_EXCEEDED = 4;
    private const UNAVAILABLE = 14;

    /** gRPC statuses -> our codes, for an answer without realtime-error-code (a proxy, the gRPC library itself). */
    private const CODES = [
        3 => HubException::BAD_REQUEST, // INVALID_ARGUMENT
        5 => HubException::NOT_FOUND, // NOT_FOUND
        7 => HubException::PERMISSION_DENIED, // PERMISSION_DENIED
        8 => HubException::LIMIT_EXCEEDED, // RESOURCE_EXHAUSTED
        9 => HubException::NOT_AVAILABLE, // FAILED_PRECONDITION
        12 => HubException::METHOD_NOT_FOUND, // UNIMPLEMENTED
        16 => HubException::UNAUTHORIZED, // UNAUTHENTICATED
    ];

    private readonly string $baseUrl;
    private readonly bool $tls;

    /**
     * @param string $url the hub's gRPC address: http://host:port (h2c, no TLS) or https://host:port
     * @param string $apiKey the hub's apiKey; "" sends none
     */
    public function __construct(
        string $url,
        private readonly string $apiKey = '',
        private readonly TransportOptions $options = new TransportOptions(),
    ) {
        $this->baseUrl = rtrim($url, '/');
        $this->tls = str_starts_with(strtolower($url), 'https://');
    }

    public function call(string $method, Message $request, string $responseClass): Message
    {
        $url = $this->url($method);
        $meta = [];
        $ch = $this->handle($url, $request, $meta, true);
        $out = curl_exec($ch);
        if (!is_string($out)) {
            throw Curl::error($ch, $url);
        }
        $this->checkStatus($ch, $url, $meta);
        if (strlen($out) < 5) {
            throw TransportException::network("$url: grpc-status 0 but no response message", false);
        }
        $header = unpack('Cflag/Nlength', substr($out, 0, 5));
        if ($header['flag'] !== 0) {
            throw TransportException::network("$url: compressed response message (no grpc-encoding was offered)", false);
        }
        $m = new $responseClass();
        $m->mergeFromString(substr($out, 5, $header['length']));
        return $m;
    }

    public function serverStream(string $method, Message $request, string $responseClass, callable $onMessage, ?callable $onReady = null, float $maxSeconds = 0, ?callable $shouldStop = null): void
    {
        $url = $this->url($method);
        $meta = [];
        $ch = $this->handle($url, $request, $meta, false, $onReady);
        $buffer = '';
        $stopped = false;
        $thrown = null;
        curl_setopt_array($ch, [
            CURLOPT_RETURNTRANSFER => false,
            // The stream lives as long as the caller wants: no whole-call timeout unless asked.
            CURLOPT_TIMEOUT_MS => (int) ceil($maxSeconds * 1000),
            CURLOPT_TCP_KEEPALIVE => 1,
            CURLOPT_WRITEFUNCTION => static function ($ch, string $data) use (&$buffer, &$stopped, &$thrown, $onMessage, $responseClass): int {
                $buffer .= $data;
                try {
                    while (strlen($buffer) >= 5) {
                        $h = unpack('Cflag/Nlength', $buffer);
                        if (strlen($buffer) < 5 + $h['length']) {
                            break;
                        }
                        if ($h['flag'] !== 0) {
                            throw TransportException::network('compressed stream message (no grpc-encoding was offered)', false);
                        }
                        $m = new $responseClass();
                        $m->mergeFromString(substr($buffer, 5, $h['length']));
                        $buffer = substr($buffer, 5 + $h['length']);
                        if ($onMessage($m) === false) {
                            $stopped = true;
                            return 0; // aborts the transfer: curl_exec fails with CURLE_WRITE_ERROR
                        }
                    }
                } catch (\Throwable $e) {
                    // Thrown again after curl_exec: an exception must not cross curl's C frames.
                    $thrown = $e;
                    return 0;
                }
                return strlen($data);
            },
        ]);
        if ($shouldStop !== null) {
            // curl calls this about once a second even while nothing arrives: the one moment PHP
            // runs during the wait, so pending (async) signal handlers run too, and may ask to stop.
            curl_setopt_array($ch, [
                CURLOPT_NOPROGRESS => false,
                CURLOPT_XFERINFOFUNCTION => static function () use ($shouldStop, &$stopped, &$thrown): int {
                    try {
                        if ($shouldStop() === true) {
                            $stopped = true;
                            return 1; // aborts the transfer: curl_exec fails with CURLE_ABORTED_BY_CALLBACK
                        }
                    } catch (\Throwable $e) {
                        $thrown = $e;
                        return 1;
                    }
                    return 0;
                },
            ]);
        }
        $ok = curl_exec($ch);
        if ($thrown !== null) {
            throw $thrown;
        }
        if ($stopped) {
            return;
        }
        if ($ok !== true) {
            if (curl_errno($ch) === 28 && $maxSeconds > 0 && isset($meta[':ready'])) {
                return; // CURLE_OPERATION_TIMEDOUT: $maxSeconds passed, as asked
            }
            throw Curl::error($ch, $url);
        }
        $this->checkStatus($ch, $url, $meta);
    }

    private function url(string $method): string
    {
        return $this->baseUrl . '/' . self::SERVICE . '/' . ucfirst($method);
    }

    /**
     * A curl handle for one call, its headers and trailers collected into $meta (lower-cased
     * names, trailers win; ":ready" once the response headers are complete).
     *
     * A handle (and so a connection) per call: curl 7.88 (Debian 12) fails the second POST on
     * a reused h2c connection ("Error in the HTTP2 framing layer", curl error 16), with one
     * handle or a share handle alike, against any HTTP/2 server (node's plain http2 too).
     *
     * @param array<string, string> $meta
     */
    private function handle(string $url, Message $request, array &$meta, bool $deadline, ?callable $onReady = null): \CurlHandle
    {
        $payload = $request->serializeToString();
        $headers = ['content-type: application/grpc+proto', 'te: trailers', 'expect:'];
        if ($deadline) {
            $headers[] = 'grpc-timeout: ' . (int) ceil($this->options->timeout * 1000) . 'm';
        }
        if ($this->apiKey !== '') {
            $headers[] = 'authorization: apikey ' . $this->apiKey;
        }
        $ch = curl_init();
        curl_setopt_array($ch, Curl::options($url, pack('CN', 0, strlen($payload)) . $payload, $headers, $this->options) + [
            CURLOPT_HTTP_VERSION => $this->tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
            CURLOPT_HEADERFUNCTION => static function ($ch, string $line) use (&$meta, $onReady): int {
                $colon = strpos($line, ':');
                if ($colon !== false) {
                    $meta[strtolower(trim(substr($line, 0, $colon)))] = trim(substr($line, $colon + 1));
                } elseif (trim($line) === '' && !isset($meta[':ready'])) {
                    // The end of the response headers. A trailers-only answer (an error) has
                    // grpc-status in them: that call is not ready, it failed.
                    $meta[':ready'] = '1';
                    if ($onReady !== null && !isset($meta['grpc-status'])) {
                        $onReady();
                    }
                }
                return strlen($line);
            },
        ]);
        return $ch;
    }

    /** @param array<string, string> $meta */
    private function checkStatus(\CurlHandle $ch, string $url, array $meta): void
    {
        $httpStatus = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        if (!isset($meta['grpc-status'])) {
            // Not a gRPC answer: an HTTP/1 server, a proxy's error page.
            throw TransportException::network("$url: no grpc-status in the answer (HTTP $httpStatus): is this the hub's gRPC address?", in_array($httpStatus, [502, 503, 504], true), null, $httpStatus);
        }
        $status = (int) $meta['grpc-status'];
        if ($status !== self::OK) {
            throw self::error($status, rawurldecode($meta['grpc-message'] ?? ''), $meta['realtime-error-code'] ?? null, $httpStatus);
        }
    }

    /**
     * A gRPC error -> ours. The hub sends its code in realtime-error-code; UNAVAILABLE (and a
     * deadline passed) are temporary whatever the code, as the hub maps temporary errors to it.
     */
    private static function error(int $status, string $message, ?string $hubCode, int $httpStatus): HubException
    {
        $temporary = $status === self::UNAVAILABLE || $status === self::DEADLINE_EXCEEDED;
        if ($hubCode !== null && ctype_digit($hubCode)) {
            $code = (int) $hubCode;
        } else {
            $code = self::CODES[$status] ?? HubException::INTERNAL;
        }
        return HubException::fromHub($code, $message, $temporary, $httpStatus, $status);
    }
}
