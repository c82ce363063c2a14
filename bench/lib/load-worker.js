// Worker-thread entry of the load generator: runs runLoad(workerData) and posts the result back.
import { parentPort, workerData } from 'node:worker_threads';
import { runLoad } from './load.js';

const result = await runLoad(workerData);
parentPort.postMessage(result);
