kind=signature
//- text
export const clamp = (value: number, min: number, max: number, strict: boolean): number => {
  if (strict && min > max) throw new RangeError("min > max");
  return Math.min(Math.max(value, min), max);
};

export function opacity(alpha: number): number {
  return clamp(alpha, 0, 1, true);
}

export function volume(level: number): number {
  return clamp(level, 0, 100, false);
}
//- edit
1: , strict: boolean) -> )
//- expect
7: , true) -> )
11: , false) -> )
