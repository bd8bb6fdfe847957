<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\Webhook;

use PHPUnit\Framework\TestCase;
use Realtime\V1;
use RealtimeHub\Bundle\Webhook\WebhookCodec;

/** The hub's JSON bodies embed `data` and `info` as JSON values (b64data for bytes that are not JSON). */
final class WebhookCodecTest extends TestCase
{
    public function testEmbeddedJsonIsReadAsTheBytesOfThatJson(): void
    {
        $body = '{"context":{"client":"c-1","cookies":{"PHPSESSID":"s1"},"meta":"AAE="},"channel":"chat:1","data":{"text":"héllo","list":[],"obj":{}},"unknownNewField":1}';
        /** @var V1\PublishProxyRequest $call */
        $call = (new WebhookCodec())->decode(V1\PublishProxyRequest::class, $body, false);
        self::assertSame('{"text":"héllo","list":[],"obj":{}}', $call->getData());
        self::assertSame("\x00\x01", $call->getContext()->getMeta());
        self::assertSame('s1', $call->getContext()->getCookies()['PHPSESSID']);

        $binary = (new WebhookCodec())->decode(V1\PublishProxyRequest::class, '{"channel":"c","b64data":"AP8="}', false);
        self::assertSame("\x00\xff", $binary->getData());
    }

    public function testAnswersEmbedJsonAndFallBackToB64ForBytes(): void
    {
        $codec = new WebhookCodec();
        $json = (new V1\RpcProxyResponse())->setResult((new V1\RpcProxyResult())->setData('{"a":[1,2]}'));
        self::assertSame('{"result":{"data":{"a":[1,2]}}}', $codec->encode($json, false));
        $bytes = (new V1\RpcProxyResponse())->setResult((new V1\RpcProxyResult())->setData("\x00\xff"));
        self::assertSame('{"result":{"b64data":"AP8="}}', $codec->encode($bytes, false));
    }

    public function testProtobufBodiesRoundTrip(): void
    {
        $codec = new WebhookCodec();
        $call = new V1\SubscribeProxyRequest(['context' => new V1\ProxyContext(['client' => 'c-1']), 'channel' => 'user:42']);
        $decoded = $codec->decode(V1\SubscribeProxyRequest::class, $call->serializeToString(), true);
        self::assertSame('user:42', $decoded->getChannel());
        $answer = (new V1\SubscribeProxyResponse())->setError((new V1\Error())->setCode(103)->setMessage('no'));
        $back = new V1\SubscribeProxyResponse();
        $back->mergeFromString($codec->encode($answer, true));
        self::assertSame(103, $back->getError()->getCode());
        self::assertTrue(WebhookCodec::isBinary('application/x-protobuf'));
        self::assertTrue(WebhookCodec::isBinary('Application/Protobuf; charset=binary'));
        self::assertFalse(WebhookCodec::isBinary('application/json'));
    }

    public function testABodyThatDoesNotDecodeIsAnInvalidArgument(): void
    {
        foreach (['not json', '[1]', '{"context":"x"}', '{"channel":{}}'] as $body) {
            try {
                (new WebhookCodec())->decode(V1\SubscribeProxyRequest::class, $body, false);
                self::fail("decoded $body");
            } catch (\InvalidArgumentException $e) {
                self::assertNotSame('', $e->getMessage());
            }
        }
        $this->expectException(\InvalidArgumentException::class);
        (new WebhookCodec())->decode(V1\SubscribeProxyRequest::class, "\x0a\x05ab", true); // a field longer than the body
    }
}
