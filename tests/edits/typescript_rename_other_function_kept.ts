kind=rename
//- text
import { readFileSync } from "fs";

export function loadSettings(path: string) {
  const config = JSON.parse(readFileSync(path, "utf8"));
  const get = (key: string) => config[key] ?? null;
  const validate = () => {
    const config = { strict: true };
    return config.strict;
  };
  return { theme: get("theme"), valid: validate(), raw: config };
}

export function applySettings(config: Record<string, unknown>) {
  document.title = String(config.title);
}
//- edit
4: config -> settings
//- expect
5: config -> settings
10: config -> settings
