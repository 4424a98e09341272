kind=rename
//- text
export function summarize(values: number[], verbose: boolean): string {
  if (verbose) {
    const result = values.map((v) => v.toFixed(2)).join(", ");
    return `values: ${result}`;
  }
  const result = values.reduce((a, b) => a + b, 0);
  return `sum: ${result}`;
}
//- edit
3: result -> listed
//- expect
4: result -> listed
