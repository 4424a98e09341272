kind=literal
#- text
import requests

BASE = "https://api.example.com"


def get_user(user_id):
    response = requests.get(f"{BASE}/users/{user_id}", timeout=10)
    response.raise_for_status()
    return response.json()


def get_orders(user_id):
    response = requests.get(f"{BASE}/users/{user_id}/orders", timeout=10)
    response.raise_for_status()
    return response.json()


def post_order(order):
    response = requests.post(f"{BASE}/orders", json=order, timeout=10)
    return response.status_code == 201


def ping():
    return requests.get(f"{BASE}/ping", timeout=10).ok
#- edit
7: timeout=10 -> timeout=30
#- expect
13: timeout=10 -> timeout=30
24: timeout=10 -> timeout=30
