<?php

declare(strict_types=1);

namespace App\Controller;

use Symfony\Component\HttpFoundation\Response;
use Symfony\Component\Routing\Annotation\Route;
use Symfony\Component\Security\Core\Security;

/**
 * The login page. POST /login is taken by the firewall's form_login (security.yaml), which
 * stores the user in the session; the hub later forwards that session's cookie.
 */
final class LoginController
{
    #[Route('/login', name: 'app_login', methods: ['GET', 'POST'])]
    public function login(Security $security): Response
    {
        $user = $security->getUser();
        $who = $user === null ? 'Not logged in.' : 'Logged in as ' . htmlspecialchars($user->getUserIdentifier()) . '.';

        return new Response(<<<HTML
            <!doctype html><title>Login</title><p id="who">$who</p>
            <form method="post" action="/login">
              <input name="_username"> <input name="_password" type="password"> <button type="submit">Log in</button>
            </form>
            HTML);
    }

    #[Route('/logout', name: 'app_logout')]
    public function logout(): never
    {
        throw new \LogicException('the firewall handles /logout');
    }
}
