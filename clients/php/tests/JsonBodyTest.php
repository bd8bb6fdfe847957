<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Tests;

use PHPUnit\Framework\TestCase;
use Realtime\V1\BroadcastRequest;
use Realtime\V1\ChannelsResponse;
use Realtime\V1\HistoryResponse;
use Realtime\V1\PresenceResponse;
use RealtimeHub\Client\Transport\JsonBody;

/** The HTTP API's JSON: embedded `data`, `b64data`, and maps whose keys are free-form. */
final class JsonBodyTest extends TestCase
{
    public function testRequestsCarryDataAsB64data(): void
    {
        $json = JsonBody::encode(new BroadcastRequest(['channels' => ['a', 'data'], 'data' => "\x00{", 'tags' => ['data' => 'tag']]));
        self::assertSame(['channels' => ['a', 'data'], 'tags' => ['data' => 'tag'], 'b64data' => base64_encode("\x00{")], json_decode($json, true));
    }

    public function testEmbeddedAndBase64DataAreBytesAgain(): void
    {
        $h = JsonBody::decode(
            '{"publications":[{"data":{"text":"hé","n":1.0,"o":{}},"offset":"1","tags":{"data":"t"}},{"b64data":"AP8=","offset":"2","info":{"user":"u","connInfo":["x"],"b64chanInfo":"AQ=="}}],"offset":"2","epoch":"e","future":true}',
            HistoryResponse::class,
        );
        $pubs = $h->getPublications();
        self::assertSame('{"text":"hé","n":1.0,"o":{}}', $pubs[0]->getData());
        self::assertSame('t', $pubs[0]->getTags()['data']);
        self::assertSame("\x00\xff", $pubs[1]->getData());
        self::assertSame('["x"]', $pubs[1]->getInfo()->getConnInfo());
        self::assertSame("\x01", $pubs[1]->getInfo()->getChanInfo());
        self::assertSame(2, (int) $h->getOffset());
    }

    public function testMapsKeyedByNamesAreNotTakenForData(): void
    {
        $c = JsonBody::decode('{"channels":{"data":{"numClients":2}}}', ChannelsResponse::class);
        self::assertSame(2, $c->getChannels()['data']->getNumClients());
        $p = JsonBody::decode('{"presence":{"c1":{"user":"u","client":"c1","connInfo":{"a":1}}}}', PresenceResponse::class);
        self::assertSame('{"a":1}', $p->getPresence()['c1']->getConnInfo());
    }
}
