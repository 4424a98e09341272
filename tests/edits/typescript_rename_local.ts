kind=rename
//- text
interface Item {
  id: string;
  price: number;
  quantity: number;
}

export function cartTotal(items: Item[], discount: number): number {
  let sum = 0;
  for (const item of items) {
    sum += item.price * item.quantity;
  }
  const discounted = sum * (1 - discount);
  console.log(`total ${sum} -> ${discounted}`);
  return Math.round(discounted * 100) / 100;
}

export function count(items: Item[]): number {
  let sum = 0;
  for (const item of items) sum += item.quantity;
  return sum;
}
//- edit
8: sum -> subtotal
//- expect
10: sum -> subtotal
12: sum -> subtotal
13: sum -> subtotal
