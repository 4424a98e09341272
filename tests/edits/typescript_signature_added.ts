kind=signature
//- text
export function createOrder(customerId: string, lines: string[]) {
  return { customerId, lines, createdAt: Date.now() };
}

export function quickOrder(customerId: string, sku: string) {
  return createOrder(customerId, [sku]);
}

export function repeatOrder(order: { customerId: string; lines: string[] }) {
  return createOrder(order.customerId, order.lines);
}
//- edit
1: lines: string[]) -> lines: string[], channel: string)
//- expect
target 6
target 10
