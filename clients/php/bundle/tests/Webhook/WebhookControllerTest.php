<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Tests\Webhook;

use PHPUnit\Framework\TestCase;
use Realtime\V1;
use RealtimeHub\Bundle\Event\SubscribeEvent;
use RealtimeHub\Bundle\Webhook\WebhookCodec;
use RealtimeHub\Bundle\Webhook\WebhookController;
use RealtimeHub\Bundle\Webhook\WebhookHandler;
use RealtimeHub\Bundle\Webhook\WebhookNotConfigured;
use RealtimeHub\Bundle\Webhook\WebhookSignature;
use Symfony\Component\EventDispatcher\EventDispatcher;
use Symfony\Component\HttpFoundation\Request;

/** The HTTP side: signature first, then the route's kind, then the body in either encoding. */
final class WebhookControllerTest extends TestCase
{
    private const SECRET = 'controller-test-secret';

    private static function controller(?string $secret = self::SECRET): WebhookController
    {
        $dispatcher = new EventDispatcher();
        $dispatcher->addListener(SubscribeEvent::class, fn (SubscribeEvent $e) => $e->getChannel() === 'user:' . $e->getUserId() ? $e->allow() : $e->deny(103, 'not yours'));

        return new WebhookController(new WebhookSignature($secret), new WebhookCodec(), new WebhookHandler($dispatcher));
    }

    /** @param array<string, string> $headers */
    private static function request(string $kind, string $body, array $headers = [], ?int $ts = null, string $secret = self::SECRET, ?string $signed = null): Request
    {
        $ts ??= time();
        $request = Request::create('/realtime/' . $kind, 'POST', [], [], [], [], $body);
        $request->attributes->set(WebhookController::ROUTE_ATTRIBUTE, $kind);
        $request->headers->add(['X-Realtime-Timestamp' => (string) $ts, 'X-Realtime-Signature' => WebhookSignature::sign($secret, $ts, $signed ?? $body)] + $headers);

        return $request;
    }

    public function testASignedJsonCallIsAnsweredInJson(): void
    {
        $body = '{"context":{"client":"c-1","user":"42"},"channel":"user:42"}';
        $response = self::controller()(self::request('subscribe', $body, ['Content-Type' => 'application/json', 'X-Realtime-Call' => 'subscribe']));
        self::assertSame(200, $response->getStatusCode());
        self::assertSame('application/json', $response->headers->get('Content-Type'));
        self::assertSame('{"result":{}}', $response->getContent());
    }

    public function testAProtobufCallIsAnsweredInProtobuf(): void
    {
        $call = new V1\SubscribeProxyRequest(['context' => new V1\ProxyContext(['user' => '42']), 'channel' => 'user:43']);
        $response = self::controller()(self::request('subscribe', $call->serializeToString(), ['Content-Type' => 'application/x-protobuf']));
        self::assertSame('application/x-protobuf', $response->headers->get('Content-Type'));
        $answer = new V1\SubscribeProxyResponse();
        $answer->mergeFromString($response->getContent());
        self::assertSame([103, 'not yours'], [$answer->getError()->getCode(), $answer->getError()->getMessage()]);
    }

    public function testUnsignedTamperedAndOldCallsGet401(): void
    {
        $body = '{"context":{"user":"42"},"channel":"user:42"}';
        $unsigned = Request::create('/realtime/subscribe', 'POST', [], [], [], [], $body);
        $unsigned->attributes->set(WebhookController::ROUTE_ATTRIBUTE, 'subscribe');
        foreach ([
            'unsigned' => $unsigned,
            'tampered' => self::request('subscribe', str_replace('user:42', 'user:43', $body), [], null, self::SECRET, $body),
            'another secret' => self::request('subscribe', $body, [], null, 'wrong-secret'),
            'old' => self::request('subscribe', $body, [], time() - 301),
        ] as $what => $request) {
            $response = self::controller()($request);
            self::assertSame(401, $response->getStatusCode(), $what);
            self::assertSame('{"error":{"code":101,"message":"bad or expired webhook signature"}}', $response->getContent(), $what);
        }
    }

    public function testACallOfAnotherKindOrABodyThatDoesNotDecodeGets400(): void
    {
        $body = '{"context":{"user":"42"},"channel":"user:42"}';
        self::assertSame(400, self::controller()(self::request('subscribe', $body, ['X-Realtime-Call' => 'publish']))->getStatusCode());
        self::assertSame(400, self::controller()(self::request('subscribe', '{"channel":'))->getStatusCode());
    }

    public function testWithoutASecretEveryCallIsRefusedWithAClearError(): void
    {
        $this->expectException(WebhookNotConfigured::class);
        $this->expectExceptionMessage('realtime.webhook.secret is not set');
        self::controller(null)(self::request('subscribe', '{}'));
    }
}
