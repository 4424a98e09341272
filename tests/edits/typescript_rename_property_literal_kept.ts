kind=rename
//- text
export class Client {
  private timeout: number;

  constructor(private baseUrl: string, timeout = 5000) {
    this.timeout = timeout;
  }

  async get(path: string): Promise<Response> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeout);
    try {
      return await fetch(this.baseUrl + path, { signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
  }
}

export const defaults = { timeout: 3000, retries: 2 };

export function withDefaults(options: { timeout?: number }) {
  return { ...defaults, timeout: options.timeout ?? defaults.timeout };
}
//- edit
2: timeout -> timeoutMs
//- expect
5: timeout -> timeoutMs
10: timeout -> timeoutMs
