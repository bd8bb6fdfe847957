<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Transport;

use Google\Protobuf\Internal\Message;
use RealtimeHub\Client\Exception\HubException;
use RealtimeHub\Client\Exception\TransportException;

/**
 * The hub's HTTP API (`POST <url>/api/<method>`) over ext-curl, with protobuf bodies (the
 * default: exact bytes, smallest) or JSON ones (readable in logs and proxies). Works through
 * any HTTP/1.1 proxy or load balancer; one curl handle is kept, so connections are reused.
 */
final class HttpTransport implements Transport
{
    private ?\CurlHandle $curl = null;
    private readonly string $baseUrl;

    /**
     * @param string $url the hub's HTTP address, e.g. http://127.0.0.1:8000 or https://hub.example.com
     * @param string $apiKey the hub's apiKey; "" sends none (a hub in --dev or with insecureApi)
     * @param bool $json JSON bodies instead of protobuf
     */
    public function __construct(
        string $url,
        private readonly string $apiKey = '',
        private readonly TransportOptions $options = new TransportOptions(),
        private readonly bool $json = false,
    ) {
        $this->baseUrl = rtrim($url, '/');
        // The pure-PHP protobuf runtime parses uint64 fields of JSON (offsets) with bcmath.
        if ($json && !extension_loaded('protobuf') && !extension_loaded('bcmath')) {
            throw new \LogicException('JSON bodies with the pure-PHP protobuf runtime need ext-bcmath (Debian: php-bcmath); or use protobuf bodies, the default');
        }
    }

    public function call(string $method, Message $request, string $responseClass): Message
    {
        $url = $this->baseUrl . '/api/' . lcfirst($method);
        $type = $this->json ? 'application/json' : 'application/x-protobuf';
        $headers = ["content-type: $type", "accept: $type", 'expect:'];
        if ($this->apiKey !== '') {
            $headers[] = 'authorization: apikey ' . $this->apiKey;
        }
        $body = $this->json ? JsonBody::encode($request) : $request->serializeToString();

        $ch = $this->curl ??= curl_init();
        curl_reset($ch);
        curl_setopt_array($ch, Curl::options($url, $body, $headers, $this->options));
        $out = curl_exec($ch);
        if (!is_string($out)) {
            throw Curl::error($ch, $url);
        }
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        $contentType = strtolower(trim(explode(';', (string) curl_getinfo($ch, CURLINFO_CONTENT_TYPE))[0]));

        if ($status !== 200) {
            throw self::error($status, $contentType, $out, $url);
        }
        try {
            if ($contentType === 'application/x-protobuf' || $contentType === 'application/protobuf') {
                $m = new $responseClass();
                $m->mergeFromString($out);
                return $m;
            }
            if ($contentType === 'application/json') {
                return JsonBody::decode($out, $responseClass);
            }
        } catch (\Throwable $e) {
            throw new TransportException(0, "$url: the hub's answer could not be decoded: " . $e->getMessage(), false, $status, null, $e);
        }
        throw TransportException::network("$url: answered 200 with content-type \"$contentType\", not the hub's API", false, null, $status);
    }

    /** A non-200 answer: the hub's `{"error":{code,message,temporary}}`, or something in between (a proxy) that is not. */
    private static function error(int $status, string $contentType, string $body, string $url): HubException
    {
        if ($contentType === 'application/json') {
            $doc = json_decode($body, true);
            $e = is_array($doc) ? ($doc['error'] ?? null) : null;
            if (is_array($e) && is_int($e['code'] ?? null)) {
                return HubException::fromHub($e['code'], (string) ($e['message'] ?? ''), (bool) ($e['temporary'] ?? false), $status);
            }
        }
        // Not the hub's answer (a proxy's 502 page, a wrong URL): gateways failing are temporary.
        $temporary = in_array($status, [429, 502, 503, 504], true);
        return TransportException::network(sprintf('%s: HTTP %d: %s', $url, $status, substr(trim(strip_tags($body)), 0, 200)), $temporary, null, $status);
    }
}
