// A server's question (window/showMessageRequest) as VS Code can show it: a notification cuts its
// buttons to "Do..." once there are more than three or so (nib's first-run dialog offers one download
// per model that fits, "Choose a file..." and "Not now"). Pure, so it is unit-tested without VS Code.

/** The button behind which the other choices wait, in a quick pick. */
export const MORE = "More choices...";

/**
 * The buttons a notification shows for `titles`, and the choices behind `MORE`: up to `max` titles
 * are all buttons; past that, the first ones (the server's recommendation) and the last (the way out,
 * such as "Not now") stay buttons and the others go behind `MORE`.
 */
export function splitActions(titles: string[], max = 3): { buttons: string[]; more: string[] } {
  if (titles.length <= max) {
    return { buttons: titles, more: [] };
  }
  const first = titles.slice(0, Math.max(1, max - 2));
  return { buttons: [...first, MORE, titles[titles.length - 1]], more: titles.slice(first.length, -1) };
}
