import { loadConfig, type Config } from "../../src/config.js";
import { startHub as startHubApp, type RunningHub, type StartOptions } from "../../src/app.js";

export interface TestHub extends RunningHub {
  httpUrl: string;
  wsUrl: string;
  grpcAddr: string;
  config: Config;
}

/**
 * Starts a real hub in this process on free loopback ports (dev mode, silent logs unless
 * REALTIME_TEST_LOG is set). Call stop() in afterAll/afterEach.
 */
export async function startTestHub(overrides: Partial<Config> = {}, opts: StartOptions = {}): Promise<TestHub> {
  const config = loadConfig({
    overrides: {
      dev: true,
      httpAddr: "127.0.0.1:0",
      grpcAddr: "127.0.0.1:0",
      logLevel: (process.env.REALTIME_TEST_LOG as Config["logLevel"]) || "silent",
      ...overrides,
    },
  });
  const hub = await startHubApp(config, opts);
  return {
    ...hub,
    config,
    httpUrl: `http://127.0.0.1:${hub.httpPort}`,
    wsUrl: `ws://127.0.0.1:${hub.httpPort}/connection/websocket`,
    grpcAddr: `127.0.0.1:${hub.grpcPort}`,
  };
}

