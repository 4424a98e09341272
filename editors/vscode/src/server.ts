// Which nib binary the extension starts: pure (the file system comes in as a function), so it is
// unit-tested without VS Code.
import * as path from "node:path";

/** The platforms a VSIX is built for (`vsce package --target`), each with the binary it carries. */
export const TARGETS = ["linux-x64", "linux-arm64", "darwin-arm64", "win32-x64"] as const;
export type Target = (typeof TARGETS)[number];

/** The binary's name in the extension's `server/` folder for a target or `process.platform`. */
export function binaryName(platform: string): string {
  return platform.startsWith("win32") ? "nib.exe" : "nib";
}

export interface Lookup {
  /** The `nib.path` setting ("" when unset). */
  setting: string;
  /** The bundled binary: `server/nib` (`server/nib.exe`) inside the extension. */
  bundled: string;
  /** `process.env.PATH`, where a bare command name in `nib.path` is looked up. */
  pathEnv: string;
  platform: string;
  /** Whether a file is there and can be run. */
  runnable: (file: string) => boolean;
}

export type Resolved = { command: string } | { error: string };

/**
 * The binary to start: the one `nib.path` names (a path, or a command looked up on PATH), else the
 * one bundled in a platform VSIX, else (an extension built without one, for development) `nib` on
 * PATH. Where none is there, an error that says what to do.
 */
export function resolveServer(lookup: Lookup): Resolved {
  const setting = lookup.setting.trim();
  if (setting) {
    const found = findCommand(setting, lookup);
    return found
      ? { command: found }
      : { error: `nib: nib.path is "${setting}", which is not a program nib can start. Fix the setting, or clear it to use the nib bundled with the extension.` };
  }
  if (lookup.runnable(lookup.bundled)) {
    return { command: lookup.bundled };
  }
  const onPath = findCommand("nib", lookup);
  if (onPath) {
    return { command: onPath };
  }
  return {
    error: `nib: this build of the extension has no nib server for ${lookup.platform} (${lookup.bundled} is missing) and there is no nib on PATH. `
      + "Install the nib extension for your platform from the marketplace, or install nib and set nib.path to it.",
  };
}

/** A path is taken as it is; a bare name is looked up in each PATH folder (with `.exe` on Windows). */
function findCommand(name: string, lookup: Lookup): string | undefined {
  const windows = lookup.platform.startsWith("win32");
  const hasSeparator = name.includes("/") || (windows && name.includes("\\"));
  if (hasSeparator || path.isAbsolute(name)) {
    return lookup.runnable(name) ? name : undefined;
  }
  const names = windows && !name.toLowerCase().endsWith(".exe") ? [`${name}.exe`, name] : [name];
  const join = windows ? path.win32.join : path.posix.join;
  for (const dir of lookup.pathEnv.split(windows ? ";" : ":").filter((d) => d.length > 0)) {
    for (const candidate of names) {
      const file = join(dir, candidate);
      if (lookup.runnable(file)) {
        return file;
      }
    }
  }
  return undefined;
}
