kind=rename
//- text
export function formatDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function formatRange(start: Date, end: Date): string {
  return `${formatDate(start)} to ${formatDate(end)}`;
}

export const locale = {
  formatDate(date: Date): string {
    return date.toLocaleDateString();
  },
};

export function today(): string {
  return formatDate(new Date()) + " / " + locale.formatDate(new Date());
}
//- edit
1: formatDate -> isoDate
//- expect
7: formatDate -> isoDate
7.2: formatDate -> isoDate
17: formatDate -> isoDate
