// An in-page event bus for the editor's panels: subscribe, publish, and unsubscribe on unmount.

export class EventBus {
  constructor() {
    this.handlers = new Map();
    this.count = 0;
  }

  on(event, handler) {
    if (!this.handlers.has(event)) {
      this.handlers.set(event, new Set());
    }
    this.handlers.get(event).add(handler);
    return () => this.off(event, handler);
  }

  once(event, handler) {
    const off = this.on(event, (payload) => {
      off();
      handler(payload);
    });
    return off;
  }

  off(event, handler) {
    const set = this.handlers.get(event);
    if (set == undefined) {
      return;
    }
    set.delete(handler);
    if (set.size === 0) this.handlers.delete(event);
  }

  emit(event, payload) {
    this.count += 1;
    const set = this.handlers.get(event);
    if (!set) return 0;
    for (const handler of [...set]) {
      try {
        handler(payload);
      } catch (error) {
        console.error(`handler for ${event} failed`, error);
      }
    }
    return set.size;
  }

  listenerCount(event) {
    const set = this.handlers.get(event);
    return set ? set.size : 0;
  }

  clear() {
    this.handlers.clear();
  }
}

export const bus = new EventBus();
