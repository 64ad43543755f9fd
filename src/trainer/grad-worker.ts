// Entry of dist/grad-worker.js: a worker thread of the trainer's gradient pool.
import { isGradWorker, serveGradients } from '../engine/train/grad-worker';

if (isGradWorker()) void serveGradients();
