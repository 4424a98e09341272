//! Prices for the checkout: list price, the customer's tier discount, and tax.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Standard,
    Silver,
    Gold,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub sku: String,
    pub unit_cents: u64,
    pub quantity: u32,
}

pub fn discount_percent(tier: Tier) -> u64 {
    match tier {
        Tier::Standard => 0,
        Tier::Silver => 5,
        Tier::Gold => 10,
    }
}

pub fn subtotal_cents(lines: &[Line]) -> u64 {
    lines.iter().map(|l| l.unit_cents * l.quantity as u64).sum()
}

pub fn total_cents(lines: &[Line], tier: Tier, tax_percent: u64) -> u64 {
    let subtotal = subtotal_cents(lines);
    let discounted = subtotal - subtotal * discount_percent(tier) / 100;
    discounted + discounted * tax_percent / 100
}

pub fn quote_cents(lines: &[Line], tier: Tier, tax_percent: u64) -> u64 {
    let mut subtotal = 0;
    for line in lines {
        subtotal += line.unit_cents * line.quantity as u64;
    }
    let percent = match tier {
        Tier::Standard => 0,
        Tier::Silver => 5,
        Tier::Gold => 10,
    };
    let discounted = subtotal - subtotal * percent / 100;
    discounted + discounted * tax_percent / 100
}

pub fn has_items(lines: &[Line]) -> Vec<&Line> {
    lines.iter().filter(|l| l.quantity == 0).collect()
}

pub fn format_cents(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

pub fn receipt(lines: &[Line], tier: Tier, tax_percent: u64) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&format!("{} x{} {}\n", line.sku, line.quantity, format_cents(line.unit_cents)));
    }
    out.push_str(&format!("total {}\n", format_cents(total_cents(lines, tier, tax_percent))));
    out
}
