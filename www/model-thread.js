// The page's side of the model thread (www/worker.js): requests go out as promises, replies
// are checked against www/protocol.js on arrival, and a request's progress replies (a volume's
// slices as they are scored) reach the callback given with it.

import { PROGRESS_REPLIES, checkReply, checkRequest } from './protocol.js';

export class ModelThread {
  constructor() {
    this.nextId = 1;
    this.pending = new Map();
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event) => this.receive(event.data);
    this.worker.onerror = (event) => this.failAll(`the model thread failed: ${event.message ?? 'unknown error'}`);
  }

  receive(reply) {
    const entry = this.pending.get(reply?.id);
    if (!entry) return;
    try {
      checkReply(reply);
    } catch (error) {
      this.pending.delete(reply.id);
      entry.reject(error);
      return;
    }
    if (reply.type === 'error') {
      this.pending.delete(reply.id);
      entry.reject(new Error(reply.message));
    } else if (PROGRESS_REPLIES.has(reply.type)) {
      entry.progress?.(reply);
    } else {
      this.pending.delete(reply.id);
      entry.resolve(reply);
    }
  }

  failAll(text) {
    for (const entry of this.pending.values()) entry.reject(new Error(text));
    this.pending.clear();
  }

  /** Sends `request` (moving the `transfer` buffers) and resolves with its final reply. */
  ask(request, transfer = [], progress = null) {
    const message = { id: this.nextId++, ...request };
    checkRequest(message);
    return new Promise((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject, progress });
      this.worker.postMessage(message, transfer);
    });
  }
}
