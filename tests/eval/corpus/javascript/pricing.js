// Prices, discounts and taxes for a shopping cart, in integer cents.

export const TAX_RATES = {
  standard: 0.2,
  reduced: 0.05,
  zero: 0,
};

export function formatCents(cents, currency = "EUR") {
  const sign = cents < 0 ? "-" : "";
  const whole = Math.floor(Math.abs(cents) / 100);
  const fraction = String(Math.abs(cents) % 100).padStart(2, "0");
  return `${sign}${whole}.${fraction} ${currency}`;
}

export function applyDiscount(cents, discount) {
  if (!discount) {
    return cents;
  }
  if (discount.type === "percent") {
    return Math.round(cents * (1 - discount.value / 100));
  }
  if (discount.type === "fixed") {
    return Math.max(0, cents - discount.value);
  }
  throw new Error(`unknown discount type: ${discount.type}`);
}

export function taxFor(cents, category) {
  const rate = TAX_RATES[category] ?? TAX_RATES.standard;
  return Math.round(cents * rate);
}

export function lineTotal(line) {
  const gross = line.unitCents * line.quantity;
  const net = applyDiscount(gross, line.discount);
  return net + taxFor(net, line.taxCategory);
}
