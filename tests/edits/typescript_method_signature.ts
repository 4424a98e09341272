kind=signature
//- text
export class Logger {
  private lines: string[] = [];

  log(level: string, message: string, timestamp: number): void {
    this.lines.push(`${new Date(timestamp).toISOString()} [${level}] ${message}`);
  }

  info(message: string): void {
    this.log("info", message, Date.now());
  }
}

export function audit(logger: Logger, user: string) {
  logger.log("audit", `login ${user}`, Date.now());
  console.log("audited", user);
}
//- edit
4: , timestamp: number) -> )
//- expect
9: , Date.now()) -> )
14: , Date.now()) -> )
