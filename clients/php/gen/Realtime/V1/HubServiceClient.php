<?php
// GENERATED CODE -- DO NOT EDIT!

namespace Realtime\V1;

/**
 * The server API that application backends call.
 * Auth: metadata `authorization: apikey <key>` when the hub has an API key.
 */
class HubServiceClient extends \Grpc\BaseStub {

    /**
     * @param string $hostname hostname
     * @param array $opts channel options
     * @param \Grpc\Channel $channel (optional) re-use channel object
     */
    public function __construct($hostname, $opts, $channel = null) {
        parent::__construct($hostname, $opts, $channel);
    }

    /**
     * Publish one message into one channel; returns its stream position.
     * @param \Realtime\V1\PublishRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function Publish(\Realtime\V1\PublishRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/Publish',
        $argument,
        ['\Realtime\V1\PublishResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Publish one payload into many channels.
     * @param \Realtime\V1\BroadcastRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function Broadcast(\Realtime\V1\BroadcastRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/Broadcast',
        $argument,
        ['\Realtime\V1\BroadcastResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * High-rate publishing over one stream: one ack per message, in the order sent.
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\BidiStreamingCall
     */
    public function PublishStream($metadata = [], $options = []) {
        return $this->_bidiRequest('/realtime.v1.HubService/PublishStream',
        ['\Realtime\V1\PublishStreamResponse','decode'],
        $metadata, $options);
    }

    /**
     * Stream of what happens in channels: publications (including those browsers publish), joins, leaves.
     * @param \Realtime\V1\SubscribeRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\ServerStreamingCall
     */
    public function Subscribe(\Realtime\V1\SubscribeRequest $argument,
      $metadata = [], $options = []) {
        return $this->_serverStreamRequest('/realtime.v1.HubService/Subscribe',
        $argument,
        ['\Realtime\V1\SubscribeResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Who is in a channel now.
     * @param \Realtime\V1\PresenceRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function Presence(\Realtime\V1\PresenceRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/Presence',
        $argument,
        ['\Realtime\V1\PresenceResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * How many clients and unique users are in a channel now.
     * @param \Realtime\V1\PresenceStatsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function PresenceStats(\Realtime\V1\PresenceStatsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/PresenceStats',
        $argument,
        ['\Realtime\V1\PresenceStatsResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * The publications a channel keeps.
     * @param \Realtime\V1\HistoryRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function History(\Realtime\V1\HistoryRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/History',
        $argument,
        ['\Realtime\V1\HistoryResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Forget a channel's history.
     * @param \Realtime\V1\HistoryRemoveRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function HistoryRemove(\Realtime\V1\HistoryRemoveRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/HistoryRemove',
        $argument,
        ['\Realtime\V1\HistoryRemoveResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Channels with at least one subscriber (client connections and backend Subscribe streams
     * alike) on any node of the cluster, with the subscribers of all nodes counted. The node
     * asked collects the other nodes' answers through the broker and waits at most 1 s for them
     * (see ChannelsResponse.missing_nodes); at most 10,000 channels (see truncated).
     * @param \Realtime\V1\ChannelsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function Channels(\Realtime\V1\ChannelsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/Channels',
        $argument,
        ['\Realtime\V1\ChannelsResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Nodes of the cluster and their figures.
     * @param \Realtime\V1\InfoRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function Info(\Realtime\V1\InfoRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/Info',
        $argument,
        ['\Realtime\V1\InfoResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Disconnect a user's connections (all of them, or one client).
     * @param \Realtime\V1\DisconnectRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function Disconnect(\Realtime\V1\DisconnectRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/Disconnect',
        $argument,
        ['\Realtime\V1\DisconnectResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Unsubscribe a user's connections from a channel.
     * @param \Realtime\V1\UnsubscribeRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function Unsubscribe(\Realtime\V1\UnsubscribeRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/Unsubscribe',
        $argument,
        ['\Realtime\V1\UnsubscribeResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Erase one user's data before it expires (the GDPR path): the publications whose
     * `info.user` is the user are removed from the history of every channel, and the user's
     * presence entries from every channel, on every node of the cluster and in every store; by
     * default the user's connections are disconnected first. Stores every node shares (Redis)
     * are erased once, by the node asked, after the other nodes answered; stores in a node's
     * memory are erased by that node. The node asked waits at most 3 s for the other nodes (see
     * EraseUserResponse.missing_nodes). Erasing again is harmless: it removes what is left.
     * @param \Realtime\V1\EraseUserRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function EraseUser(\Realtime\V1\EraseUserRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/realtime.v1.HubService/EraseUser',
        $argument,
        ['\Realtime\V1\EraseUserResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * A backend worker answers browsers' rpc commands without a webhook (the broker-first
     * mode): it opens this stream, sends one `register` naming the methods it serves, then
     * gets one HandleRpcResponse per browser rpc and sends one `answer` per call, with the
     * call's id. Calls reach it from any node of the cluster, through the broker.
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\BidiStreamingCall
     */
    public function HandleRpc($metadata = [], $options = []) {
        return $this->_bidiRequest('/realtime.v1.HubService/HandleRpc',
        ['\Realtime\V1\HandleRpcResponse','decode'],
        $metadata, $options);
    }

}
