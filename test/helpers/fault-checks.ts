import { hubApi, type HubProcess } from "./cluster.js";

/** Polls `fn` every 100 ms until it yields something truthy; fails naming `what` after `ms`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The broker health this node reports in its own entry of Info (which lists the whole cluster). */
export const brokerHealthy = async (h: HubProcess): Promise<boolean> =>
  (await hubApi(h, "info", {})).nodes.find((n: { id: string }) => n.id === h.id)?.brokerHealthy === true;

/** The broker health this node reports on `/health`. */
export const health = async (h: HubProcess): Promise<boolean> => (await (await fetch(`${h.httpUrl}/health`)).json()).broker.healthy as boolean;

/** A counter or gauge of this node's `/metrics` (the node label is the only one). */
export const metric = async (h: HubProcess, name: string): Promise<number> =>
  Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, "m").exec(await (await fetch(`${h.httpUrl}/metrics`)).text())?.[1]);
