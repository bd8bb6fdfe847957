<?php

namespace App\Controller;

use App\Users;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\Response;

/**
 * A page of the app that talks to the hub: a raw WebSocket speaking the JSON protocol
 * (docs/protocol.md). The browser sends the app's session cookie on the upgrade by itself:
 * cookies belong to the host, not the port, so the hub on another port of this host gets it.
 */
final class PageController
{
    public function __construct(private Users $users)
    {
    }

    public function __invoke(Request $request): Response
    {
        $user = $request->hasPreviousSession() ? $request->getSession()->get('user') : null;
        $who = $user === null ? 'Not logged in.' : 'Logged in as '.htmlspecialchars($this->users->name($user)).'.';

        return new Response(str_replace('WHO', $who, <<<'HTML'
            <!doctype html>
            <title>Realtime</title>
            <p id="who">WHO</p>
            <script>
              // One connection: call() sends a command and resolves with its reply; pushes are kept.
              window.HubConnection = class {
                constructor(url) {
                  this.ws = new WebSocket(url);
                  this.nextId = 1;
                  this.waiting = new Map();
                  this.pushes = [];
                  this.opened = new Promise((resolve, reject) => {
                    this.ws.onopen = resolve;
                    this.ws.onerror = reject;
                  });
                  this.closed = new Promise((resolve) => {
                    this.ws.onclose = (e) => {
                      for (const done of this.waiting.values()) done({ closed: e.code });
                      resolve({ code: e.code, reason: e.reason });
                    };
                  });
                  this.ws.onmessage = (e) => {
                    for (const line of e.data.split("\n")) {
                      if (line === "") continue;
                      const m = JSON.parse(line);
                      if (m.id) {
                        this.waiting.get(m.id)?.(m);
                        this.waiting.delete(m.id);
                      } else if (m.push) this.pushes.push(m.push);
                      else this.ws.send("{}"); // the hub's ping: answer it
                    }
                  };
                }
                async call(command) {
                  await this.opened;
                  const id = this.nextId++;
                  const reply = new Promise((resolve) => this.waiting.set(id, resolve));
                  this.ws.send(JSON.stringify({ id, ...command }));
                  return reply;
                }
              };
            </script>
            HTML));
    }
}
