<?php

namespace App;

/** The app's user store: what a real app keeps in its database and checks with Symfony Security. */
final class Users
{
    private const USERS = [
        'alice' => ['name' => 'Alice', 'password' => 'alice-secret', 'admin' => false],
        'bob' => ['name' => 'Bob', 'password' => 'bob-secret', 'admin' => true],
    ];

    /** The user id for these credentials, or null. */
    public function login(string $user, string $password): ?string
    {
        $known = self::USERS[$user] ?? null;

        return $known !== null && hash_equals($known['password'], $password) ? $user : null;
    }

    public function name(string $user): string
    {
        return self::USERS[$user]['name'] ?? $user;
    }

    public function isAdmin(string $user): bool
    {
        return self::USERS[$user]['admin'] ?? false;
    }
}
