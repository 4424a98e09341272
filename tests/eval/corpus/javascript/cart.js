// A shopping cart that keeps lines and computes totals.

import { formatCents, lineTotal } from "./pricing.js";

export class Cart {
  constructor(currency = "EUR") {
    this.currency = currency;
    this.lines = [];
  }

  add(product, quantity = 1) {
    const existing = this.lines.find((line) => line.sku === product.sku);
    if (existing) {
      existing.quantity += quantity;
      return existing;
    }
    const line = {
      sku: product.sku,
      name: product.name,
      unitCents: product.priceCents,
      quantity,
      taxCategory: product.taxCategory,
      discount: null,
    };
    this.lines.push(line);
    return line;
  }

  remove(sku) {
    const before = this.lines.length;
    this.lines = this.lines.filter((line) => line.sku !== sku);
    return this.lines.length < before;
  }

  setDiscount(sku, discount) {
    const line = this.lines.find((l) => l.sku === sku);
    if (!line) {
      throw new Error(`no line for ${sku}`);
    }
    line.discount = discount;
  }

  totalCents() {
    return this.lines.reduce((sum, line) => sum + lineTotal(line), 0);
  }

  itemCount() {
    return this.lines.reduce((count, line) => count + line.quantity, 0);
  }

  summary() {
    const rows = this.lines.map((line) => `${line.quantity} x ${line.name}: ${formatCents(lineTotal(line), this.currency)}`);
    rows.push(`Total: ${formatCents(this.totalCents(), this.currency)}`);
    return rows.join("\n");
  }
}
