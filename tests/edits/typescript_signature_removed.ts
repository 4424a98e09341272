kind=signature
//- text
export function formatPrice(amount: number, currency: string, locale: string): string {
  return new Intl.NumberFormat(locale, { style: "currency", currency }).format(amount);
}

export function priceTag(amount: number): string {
  return "Price: " + formatPrice(amount, "EUR", "de-DE");
}
//- file cart.ts
import { formatPrice } from "./main";

export function cartLine(name: string, amount: number): string {
  return `${name}: ${formatPrice(amount, "EUR", "de-DE")}`;
}

export function total(amounts: number[]): string {
  return formatPrice(amounts.reduce((a, b) => a + b, 0), "EUR");
}
//- edit
1: , locale: string) -> )
//- expect
6: , "de-DE") -> )
cart.ts 4: , "de-DE") -> )
