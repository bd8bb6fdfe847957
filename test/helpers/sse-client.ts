import http from "node:http";

/** Reads an SSE stream until `count` data events arrived (or times out). */
export function readSse(url: string, count: number, headers: Record<string, string> = {}): Promise<{ events: { id?: string; data: any }[]; close(): void }> {
  return new Promise((resolve, reject) => {
    const events: { id?: string; data: any }[] = [];
    const req = http.get(url, { headers }, (res) => {
      if (res.statusCode !== 200) {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => reject(new Error(`SSE status ${res.statusCode}: ${body}`)));
        return;
      }
      let buf = "";
      res.on("data", (chunk) => {
        buf += chunk.toString();
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: { id?: string; data: any } = { data: null };
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) ev.id = line.slice(4);
            if (line.startsWith("data: ")) ev.data = JSON.parse(line.slice(6));
          }
          if (ev.data && Object.keys(ev.data).length === 0) continue; // ping
          events.push(ev);
          if (events.length >= count) resolve({ events, close: () => req.destroy() });
        }
      });
    });
    req.on("error", (e) => events.length < count && reject(e));
    setTimeout(() => reject(new Error(`SSE timeout; got ${JSON.stringify(events)}`)), 5000).unref();
  });
}
