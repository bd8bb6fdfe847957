import { brokerContract } from "../contract/broker.js";
import { MemoryBroker, MemoryBus } from "../../src/broker/memory.js";

const bus = new MemoryBus();
brokerContract("memory", async () => new MemoryBroker(bus));
