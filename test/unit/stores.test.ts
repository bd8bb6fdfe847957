import { historyStoreContract } from "../contract/history-store.js";
import { presenceStoreContract } from "../contract/presence-store.js";
import { MemoryHistoryStore } from "../../src/history/memory.js";
import { MemoryPresenceStore } from "../../src/presence/memory.js";

historyStoreContract("memory", async (now) => new MemoryHistoryStore(now));
presenceStoreContract("memory", async (now) => new MemoryPresenceStore(now));
