// Display helpers for the billing pages: money, dates and file sizes.

const CURRENCY_SYMBOLS = { EUR: "€", USD: "$", GBP: "£" };

export function formatMoney(cents, currency) {
  const symbol = CURRENCY_SYMBOLS[currency] || currency + " ";
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = String(abs % 100).padStart(2, "0");
  return `${sign}${symbol}${whole}.${fraction}`;
}

export function formatInvoiceTotal(cents, currency) {
  const symbol = CURRENCY_SYMBOLS[currency] || currency + " ";
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = String(abs % 100).padStart(2, "0");
  return `Total: ${sign}${symbol}${whole}.${fraction}`;
}

export function formatDate(date) {
  var year = date.getFullYear();
  const month = String(date.getMonth() + 1).padStart(2, "0");
  const day = String(date.getDate()).padStart(2, "0");
  return `${year}-${month}-${day}`;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function relativeDays(date, now = new Date()) {
  const days = Math.round((now - date) / 86_400_000);
  if (days === 0) return "today";
  if (days === 1) return "yesterday";
  if (days > 1) return `${days} days ago`;
  return `in ${-days} days`;
}
