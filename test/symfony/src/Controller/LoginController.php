<?php

namespace App\Controller;

use App\Users;
use Symfony\Component\HttpFoundation\RedirectResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\Response;

/** The app's own login: it puts the user in the Symfony session, nothing realtime about it. */
final class LoginController
{
    public function __construct(private Users $users)
    {
    }

    public function __invoke(Request $request): Response
    {
        $failed = false;
        if ($request->isMethod('POST')) {
            $user = $this->users->login((string) $request->request->get('user'), (string) $request->request->get('password'));
            if ($user !== null) {
                $session = $request->getSession();
                // A new session id at login: a session id known before it is worth nothing after.
                $session->migrate(true);
                $session->set('user', $user);

                return new RedirectResponse('/');
            }
            $failed = true;
        }
        $message = $failed ? '<p id="error">Wrong user or password.</p>' : '';

        return new Response(<<<HTML
            <!doctype html>
            <title>Log in</title>
            $message
            <form method="post" action="/login">
              <input name="user" placeholder="user">
              <input name="password" type="password" placeholder="password">
              <button type="submit">Log in</button>
            </form>
            HTML, $failed ? 401 : 200);
    }
}
