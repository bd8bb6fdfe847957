<?php

declare(strict_types=1);

namespace RealtimeHub\Client\Transport;

use Google\Protobuf\Internal\Message;

/**
 * @internal The HTTP API's JSON bodies <-> generated messages.
 *
 * The hub's JSON is proto3 JSON except that bytes fields `data`, `connInfo` and `chanInfo`
 * hold embedded JSON values, or base64 under `b64data` (`b64connInfo`, ...) when they are not
 * JSON (docs/protocol.md). Requests always use `b64data`: the bytes arrive exactly as given.
 * Embedded values in responses are re-encoded by PHP's json_encode, so their bytes may differ
 * from what was published (spacing, escapes); the protobuf transport keeps them exact.
 */
final class JsonBody
{
    private const EMBEDDED = ['data' => true, 'connInfo' => true, 'chanInfo' => true];

    public static function encode(Message $m): string
    {
        $tree = json_decode($m->serializeToJsonString(), false, 512, JSON_THROW_ON_ERROR);
        self::walk($tree, static function (\stdClass $o, string $key, mixed $v): void {
            if (isset(self::EMBEDDED[$key]) && is_string($v)) {
                unset($o->$key);
                $o->{'b64' . $key} = $v;
            }
        });
        return json_encode($tree, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }

    /**
     * @template T of Message
     * @param class-string<T> $class
     * @return T
     */
    public static function decode(string $json, string $class): Message
    {
        $tree = json_decode($json, false, 1024, JSON_THROW_ON_ERROR);
        if (!$tree instanceof \stdClass) {
            throw new \UnexpectedValueException('not a JSON object');
        }
        self::walk($tree, static function (\stdClass $o, string $key, mixed $v): void {
            if (isset(self::EMBEDDED[$key])) {
                $o->$key = base64_encode(json_encode($v, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION));
            } elseif (str_starts_with($key, 'b64') && isset(self::EMBEDDED[substr($key, 3)])) {
                unset($o->$key);
                $o->{substr($key, 3)} = $v;
            }
        });
        $m = new $class();
        // true: ignore fields this client does not know (a newer hub).
        $m->mergeFromJsonString(json_encode($tree, JSON_THROW_ON_ERROR), true);
        return $m;
    }

    /** Calls $f on every property of every object under $node, except inside `tags` and `channels` (maps keyed by free-form names). */
    private static function walk(mixed $node, callable $f): void
    {
        if (is_array($node)) {
            foreach ($node as $item) {
                self::walk($item, $f);
            }
        } elseif ($node instanceof \stdClass) {
            foreach (get_object_vars($node) as $key => $v) {
                $key = (string) $key;
                // Free-form maps: a tag or a channel named "data" is not an embedded field.
                if ($key === 'tags' || $key === 'channels') {
                    continue;
                }
                if (is_array($v) || $v instanceof \stdClass) {
                    // Maps (presence, channels) are objects keyed by data: their values are walked too.
                    if (!isset(self::EMBEDDED[$key])) {
                        self::walk($v, $f);
                        continue;
                    }
                }
                $f($node, $key, $v);
            }
        }
    }
}
