"""Monthly sales summary: totals per region and per product, as CSV text."""

import csv
import io
from collections import defaultdict


def read_orders(path: str) -> list:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def region_totals(orders: list) -> dict:
    totals = defaultdict(float)
    for order in orders:
        amount = float(order["quantity"]) * float(order["unit_price"])
        if order.get("discount"):
            amount = amount * (1 - float(order["discount"]) / 100)
        totals[order["region"]] += amount
    return dict(totals)


def product_totals(orders: list) -> dict:
    totals = defaultdict(float)
    for order in orders:
        amount = float(order["quantity"]) * float(order["unit_price"])
        if order.get("discount"):
            amount = amount * (1 - float(order["discount"]) / 100)
        totals[order["product"]] += amount
    return dict(totals)


def price_list(orders: list, catalogue_path: str) -> dict:
    prices = {}
    for order in orders:
        catalogue = read_orders(catalogue_path)
        for entry in catalogue:
            if entry["product"] == order["product"]:
                prices[order["product"]] = float(entry["list_price"])
    return prices


def to_csv(totals: dict, heading: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([heading, "total"])
    for key in sorted(totals):
        writer.writerow([key, f"{totals[key]:.2f}"])
    return out.getvalue()


def monthly_report(path: str) -> str:
    orders = read_orders(path)
    parts = [to_csv(region_totals(orders), "region"), to_csv(product_totals(orders), "product")]
    return "\n".join(parts)
