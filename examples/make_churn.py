"""Writes examples/churn.csv: 400 made-up telecom customers, about a quarter of whom churned.

Run once (`python examples/make_churn.py`); the CSV is committed. Numbers, booleans and text
columns, an id column to drop, and a yes/no target, so it exercises everything dataset=csv does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 400
SEED = 7


def make(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], size=rows, p=[0.55, 0.25, 0.2])
    payment = rng.choice(["card", "bank-transfer", "electronic-check"], size=rows, p=[0.35, 0.3, 0.35])
    tenure = rng.integers(1, 73, size=rows)
    charges = np.round(rng.uniform(20, 120, size=rows), 2)
    calls = rng.poisson(1.5, size=rows)
    paperless = rng.random(rows) < 0.6
    logit = (-1.2 + 1.4 * (contract == "month-to-month") - 0.9 * (contract == "two-year")
             + 0.6 * (payment == "electronic-check") - 0.04 * tenure + 0.012 * (charges - 70)
             + 0.35 * calls + 0.2 * paperless)
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "customer_id": [f"C{i:04d}" for i in range(1, rows + 1)],
        "tenure_months": tenure,
        "monthly_charges": charges,
        "contract": contract,
        "payment": payment,
        "support_calls": calls,
        "paperless": paperless,
        "churned": np.where(churned, "yes", "no"),
    })


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "churn.csv"
    df = make()
    df.to_csv(out, index=False)
    print(f"wrote {out}: {len(df)} rows, churned: {df.churned.value_counts().to_dict()}")
