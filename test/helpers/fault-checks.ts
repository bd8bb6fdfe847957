import { hubApi, type HubProcess } from "./cluster.js";

/** The broker health this node reports in its own entry of Info (which lists the whole cluster). */
export const brokerHealthy = async (h: HubProcess): Promise<boolean> =>
  (await hubApi(h, "info", {})).nodes.find((n: { id: string }) => n.id === h.id)?.brokerHealthy === true;

/** The broker health this node reports on `/health`. */
export const health = async (h: HubProcess): Promise<boolean> => (await (await fetch(`${h.httpUrl}/health`)).json()).broker.healthy as boolean;

/** A counter or gauge of this node's `/metrics` (the node label is the only one). */
export const metric = async (h: HubProcess, name: string): Promise<number> =>
  Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, "m").exec(await (await fetch(`${h.httpUrl}/metrics`)).text())?.[1]);
