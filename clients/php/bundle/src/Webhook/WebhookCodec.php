<?php

declare(strict_types=1);

namespace RealtimeHub\Bundle\Webhook;

use Google\Protobuf\Internal\Message;

/**
 * The two body forms of the webhooks, read and written with the generated messages
 * (clients/php/gen): binary protobuf (application/x-protobuf, proxyContentType: protobuf) and
 * proto3 JSON, where the hub embeds the bytes fields `data` and `info` as JSON values (bytes
 * that are not JSON travel as base64 in `b64data` / `b64info`) instead of proto3's base64.
 * The answer goes in the form the call came in.
 */
final class WebhookCodec
{
    /** bytes fields carrying JSON, embedded as JSON values in JSON bodies (the hub's EMBEDDED). */
    private const EMBEDDED = ['data', 'info'];
    private const JSON_FLAGS = \JSON_THROW_ON_ERROR | \JSON_UNESCAPED_SLASHES | \JSON_UNESCAPED_UNICODE | \JSON_PRESERVE_ZERO_FRACTION;

    public static function isBinary(string $contentType): bool
    {
        $type = strtolower(trim(explode(';', $contentType, 2)[0]));

        return $type === 'application/x-protobuf' || $type === 'application/protobuf';
    }

    public static function contentType(bool $binary): string
    {
        return $binary ? 'application/x-protobuf' : 'application/json';
    }

    /**
     * @template T of Message
     * @param class-string<T> $class
     * @return T
     * @throws \InvalidArgumentException when the body is not such a message
     */
    public function decode(string $class, string $body, bool $binary): Message
    {
        $message = new $class();
        try {
            if ($binary) {
                $message->mergeFromString($body);
            } else {
                $obj = json_decode($body === '' ? '{}' : $body, false, 512, \JSON_THROW_ON_ERROR);
                if (!$obj instanceof \stdClass) {
                    throw new \InvalidArgumentException('the body is not a JSON object');
                }
                self::embedIn($obj);
                // Fields a newer hub adds are skipped, not refused.
                $message->mergeFromJsonString(json_encode($obj, self::JSON_FLAGS), true);
            }
        } catch (\InvalidArgumentException $e) {
            throw $e;
        } catch (\Throwable $e) {
            throw new \InvalidArgumentException(sprintf('the body is not a %s (%s): %s', $class, $binary ? 'protobuf' : 'JSON', $e->getMessage()), 0, $e);
        }

        return $message;
    }

    public function encode(Message $message, bool $binary): string
    {
        if ($binary) {
            return $message->serializeToString();
        }
        $obj = json_decode($message->serializeToJsonString(), false, 512, \JSON_THROW_ON_ERROR);
        self::embedOut($obj);

        return json_encode($obj, self::JSON_FLAGS);
    }

    /** Embedded JSON -> base64 (proto3 JSON bytes); `b64data` -> `data`. As the hub's embedJsonIn. */
    private static function embedIn(\stdClass $obj): void
    {
        foreach (get_object_vars($obj) as $key => $value) {
            $key = (string) $key;
            if ($key === 'tags' || $value === null) {
                continue;
            }
            if (\in_array($key, self::EMBEDDED, true)) {
                $obj->{$key} = base64_encode(json_encode($value, self::JSON_FLAGS));
            } elseif (str_starts_with($key, 'b64') && \in_array(substr($key, 3), self::EMBEDDED, true)) {
                if (!\is_string($value)) {
                    throw new \InvalidArgumentException("$key must be a base64 string");
                }
                unset($obj->{$key});
                $obj->{substr($key, 3)} = $value;
            } else {
                self::walk($value, self::embedIn(...));
            }
        }
    }

    /** base64 -> embedded JSON, or the b64 key when the bytes are not JSON. As the hub's embedJsonOut. */
    private static function embedOut(mixed $obj): void
    {
        if (!$obj instanceof \stdClass) {
            return;
        }
        foreach (get_object_vars($obj) as $key => $value) {
            $key = (string) $key;
            if ($key === 'tags' || $value === null) {
                continue;
            }
            if (\in_array($key, self::EMBEDDED, true) && \is_string($value)) {
                $bytes = base64_decode($value, true);
                try {
                    $obj->{$key} = json_decode((string) $bytes, false, 512, \JSON_THROW_ON_ERROR);
                } catch (\JsonException) {
                    unset($obj->{$key});
                    $obj->{'b64' . $key} = $value;
                }
            } else {
                self::walk($value, self::embedOut(...));
            }
        }
    }

    private static function walk(mixed $value, \Closure $fn): void
    {
        if ($value instanceof \stdClass) {
            $fn($value);
        } elseif (\is_array($value)) {
            foreach ($value as $item) {
                if ($item instanceof \stdClass) {
                    $fn($item);
                }
            }
        }
    }
}
