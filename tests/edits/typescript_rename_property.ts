kind=rename
//- text
export class Poller {
  private intervalMs: number;
  private retries = 0;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  async poll(check: () => Promise<boolean>): Promise<boolean> {
    while (this.retries < 10) {
      if (await check()) {
        this.retries = 0;
        return true;
      }
      this.retries += 1;
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    }
    return false;
  }
}
//- edit
3: retries -> attempts
//- expect
10: retries -> attempts
12: retries -> attempts
15: retries -> attempts
