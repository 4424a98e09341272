kind=rename
//- text
export class Cache<V> {
  private entries = new Map<string, V>();

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): this {
    this.entries.set(key, value);
    return this;
  }
}

export function makeCache(): Cache<number> {
  const cache = new Cache<number>();
  return cache.set("hits", 0);
}

export const shared: Cache<string> = new Cache();
//- edit
1: Cache -> Store
//- expect
14.2: Cache -> Store
15: Cache -> Store
19: Cache -> Store
19.2: Cache -> Store
