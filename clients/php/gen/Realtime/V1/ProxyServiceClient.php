<?php
// GENERATED CODE -- DO NOT EDIT!

namespace Realtime\V1;

/**
 * The webhook (proxy) contract: the hub asks the app backend before it lets a client
 * connect, subscribe, publish or call a method, and tells it when a client leaves.
 *
 * Two transports carry the same messages, chosen per call kind by the URL in the config:
 * - http:// or https://: an HTTP POST of the request's proto3 JSON (or, with
 *   proxyContentType protobuf, its binary form as application/x-protobuf); the response
 *   body is the response message in the same form. Requests are signed (see docs/symfony.md):
 *   `X-Realtime-Timestamp` (Unix seconds) and `X-Realtime-Signature: sha256=<hex>` over
 *   `<timestamp>.<body>` with proxySecret. The headers and cookies of the client's own
 *   request that the config forwards are also set on the POST, so an app's session firewall
 *   authenticates the call as it would the browser.
 * - grpc:// or grpcs://: these RPCs, implemented by the backend.
 *
 * Every answer holds exactly one of `result`, `error` (this request is refused, the
 * connection stays) or `disconnect` (the connection is closed with that code and reason);
 * `{"result": {}}` is the shortest yes. Anything else (no field, two, unknown fields, a body
 * that does not decode, HTTP other than 2xx) fails the one operation with a temporary 108;
 * HTTP 401 and 403 refuse it as 101 and 103 do.
 */
class ProxyServiceClient extends \Grpc\BaseStub {

    /**
     * @param string $hostname hostname
     * @param array $opts channel options
     * @param \Grpc\Channel $channel (optional) re-use channel object
     */
    public function __construct($hostname, $opts, $channel = null) {
        parent::__construct($hostname, $opts, $channel);
    }

    /**
     * A client connects without a token; the backend authenticates it (by its cookies,
     * headers or connect data) and says who it is.
     * @param \Realtime\V1\ConnectProxyRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function ConnectProxy(\Realtime\V1\ConnectProxyRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.ProxyService/ConnectProxy',
        $argument,
        ['\Realtime\V1\ConnectProxyResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * A connection authenticated by ConnectProxy is about to expire: extend it or not.
     * @param \Realtime\V1\RefreshProxyRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function RefreshProxy(\Realtime\V1\RefreshProxyRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.ProxyService/RefreshProxy',
        $argument,
        ['\Realtime\V1\RefreshProxyResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * A client subscribes; the backend allows it (with options) or refuses.
     * @param \Realtime\V1\SubscribeProxyRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function SubscribeProxy(\Realtime\V1\SubscribeProxyRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.ProxyService/SubscribeProxy',
        $argument,
        ['\Realtime\V1\SubscribeProxyResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * A subscription allowed with an expire_at is about to expire: extend it or not.
     * @param \Realtime\V1\SubRefreshProxyRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function SubRefreshProxy(\Realtime\V1\SubRefreshProxyRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.ProxyService/SubRefreshProxy',
        $argument,
        ['\Realtime\V1\SubRefreshProxyResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * A client publishes; the backend may accept, rewrite or refuse the publication.
     * @param \Realtime\V1\PublishProxyRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function PublishProxy(\Realtime\V1\PublishProxyRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.ProxyService/PublishProxy',
        $argument,
        ['\Realtime\V1\PublishProxyResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * A client calls a method the backend answers.
     * @param \Realtime\V1\RpcProxyRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function RpcProxy(\Realtime\V1\RpcProxyRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.ProxyService/RpcProxy',
        $argument,
        ['\Realtime\V1\RpcProxyResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * A connection closed (notification: nothing waits for it). Sent at least once: retried
     * until the backend answers or proxyNotifyRetrySeconds pass; de-duplicate by event_id.
     * @param \Realtime\V1\NotifyDisconnectRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function NotifyDisconnect(\Realtime\V1\NotifyDisconnectRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.ProxyService/NotifyDisconnect',
        $argument,
        ['\Realtime\V1\NotifyDisconnectResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * A client left a channel while staying connected (notification, as NotifyDisconnect).
     * @param \Realtime\V1\NotifyUnsubscribeRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function NotifyUnsubscribe(\Realtime\V1\NotifyUnsubscribeRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.ProxyService/NotifyUnsubscribe',
        $argument,
        ['\Realtime\V1\NotifyUnsubscribeResponse', 'decode'],
        $metadata, $options);
    }

}
