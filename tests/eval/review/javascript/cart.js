// Shopping cart state for the storefront: lines, totals and the checkout payload.

const TAX_RATE = 0.2;

export class Cart {
  constructor(catalogue) {
    this.catalogue = catalogue;
    this.lines = [];
  }

  add(sku, quantity = 1) {
    const existing = this.lines.find((line) => line.sku === sku);
    if (existing) {
      existing.quantity += quantity;
    } else {
      this.lines.push({ sku, quantity });
    }
  }

  remove(sku) {
    this.lines = this.lines.filter((line) => line.sku !== sku);
  }

  setQuantity(sku, quantity) {
    if (quantity <= 0) {
      this.remove(sku);
      return;
    }
    const line = this.lines.find((l) => l.sku === sku);
    if (line) line.quantity = quantity;
  }

  subtotal() {
    let total = 0;
    for (const line of this.lines) {
      const product = this.catalogue.find((p) => p.sku === line.sku);
      total += product.price * line.quantity;
    }
    return total;
  }

  itemCount() {
    return this.lines.reduce((n, line) => n + line.quantity, 0);
  }

  total() {
    const subtotal = this.subtotal();
    return Math.round(subtotal * TAX_RATE * 100) / 100;
  }

  checkoutPayload(customerId) {
    return {
      customer: customerId,
      lines: this.lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
      total: this.total(),
    };
  }
}
